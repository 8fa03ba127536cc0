"""Centre lines of digits: a pen of any width redraws the same skeleton, so training sees canvases and fine pens."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ml.data import as_unit_float

UPSCALE = 2  # thinned at twice the input's resolution, where a 28x28 stroke's centre is well defined
RIM_SIGMA = 0.9  # px at that resolution: the anti-aliased rim of a pen line after preprocessing
REDRAWN_WIDTH = (0.0, 3.5)  # pen widths in px of the 28x28 input: 0 is a hairline; MNIST strokes are ~2-3


def zhang_suen(binary: np.ndarray) -> np.ndarray:
    """One-pixel skeleton (Zhang & Suen 1984), vectorised so each pass is a handful of array operations."""
    img = np.pad(binary.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            n = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            count = sum(x.astype(np.int8) for x in n)
            transitions = sum(((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.int8) for i in range(8))
            # n[0], n[2], n[4], n[6] are the paper's P2, P4, P6, P8 (north, east, south, west).
            first, second = ((0, 2, 4), (2, 4, 6)) if step == 0 else ((0, 2, 6), (0, 4, 6))
            cond = ((n[first[0]] & n[first[1]] & n[first[2]]) == 0) & (
                (n[second[0]] & n[second[1]] & n[second[2]]) == 0
            )
            delete = (p[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & cond
            if delete.any():
                img[1:-1, 1:-1][delete] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def redrawn(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, 28, 28) inputs (uint8 or [0, 1], ink high) -> the same drawings redrawn along their centre line with
    a uniform round pen, from a hairline to a finger on a canvas (REDRAWN_WIDTH, one width per image drawn
    with ``seed``), softened and peaking at 1, float32. Canvases and fine pens draw like this; MNIST's
    scanned strokes never do."""
    x = as_unit_float(images)
    widths = np.random.default_rng(seed).uniform(*REDRAWN_WIDTH, len(x))
    out = np.zeros_like(x)
    for i, (image, width) in enumerate(zip(x, widths, strict=True)):
        peak = float(image.max())
        if peak <= 0:
            continue
        line = zhang_suen(ndimage.zoom(image, UPSCALE, order=1) > 0.5 * peak)
        pen = ndimage.distance_transform_edt(~line) <= width * UPSCALE / 2
        soft = ndimage.gaussian_filter(pen.astype(np.float32), RIM_SIGMA)
        small = soft.reshape(len(image), UPSCALE, -1, UPSCALE).mean(axis=(1, 3))
        out[i] = small / max(float(small.max()), 1e-6)
    return out
