"""Synthetic handwritten-looking digits drawn in memory, rendered the ways people send them."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Strokes in a unit box (x right, y down; the digit is 1 tall and about 0.6 wide).
STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "7": [[(0.05, 0.05), (0.6, 0.05), (0.25, 0.95)], [(0.18, 0.5), (0.5, 0.5)]],
    "4": [[(0.45, 0.95), (0.45, 0.05), (0.02, 0.65), (0.6, 0.65)]],
    "2": [
        [(0.05, 0.2), (0.15, 0.07), (0.33, 0.03), (0.52, 0.1), (0.57, 0.28), (0.45, 0.5), (0.03, 0.95), (0.62, 0.95)]
    ],
}
ELLIPSES: dict[str, tuple[float, float, float, float]] = {"0": (0.02, 0.03, 0.6, 0.97)}
DIGITS = ("7", "0", "4", "2")
SUPERSAMPLE = 4


def draw_digit(
    img: Image.Image, digit: str, height: float, stroke: float, centre: tuple[float, float], fill=255
) -> None:
    """Draw ``digit`` onto ``img`` in place (no anti-aliasing): ``height`` px tall, strokes ``stroke`` px wide."""
    draw = ImageDraw.Draw(img)
    width = max(1, round(stroke))
    x0, y0 = centre[0] - 0.3 * height, centre[1] - 0.5 * height

    def pt(p):
        return (x0 + p[0] * height, y0 + p[1] * height)

    for line in STROKES.get(digit, []):
        points = [pt(p) for p in line]
        draw.line(points, fill=fill, width=width, joint="curve")
        r = width / 2
        for x, y in (points[0], points[-1]):  # round pen tips
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    if digit in ELLIPSES:
        a, b, c, d = ELLIPSES[digit]
        draw.ellipse((*pt((a, b)), *pt((c, d))), outline=fill, width=width)


def digit_mask(
    digit: str,
    size: tuple[int, int] = (224, 224),
    height: float = 150,
    stroke: float = 14,
    centre: tuple[float, float] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Ink coverage in [0, 1] (H, W) of ``digit`` drawn ``height`` px tall with ``stroke`` px wide strokes."""
    ss = SUPERSAMPLE if antialias else 1
    w, h = size
    cx, cy = centre if centre is not None else (w / 2, h / 2)
    canvas = Image.new("L", (w * ss, h * ss), 0)
    draw_digit(canvas, digit, height * ss, stroke * ss, (cx * ss, cy * ss))
    if ss > 1:
        canvas = canvas.resize((w, h), Image.Resampling.BOX)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def compose(mask: np.ndarray, ink, paper) -> np.ndarray:
    """uint8 image mixing ``paper`` and ``ink`` (grey levels or RGB tuples) by the coverage ``mask``."""
    ink = np.asarray(ink, dtype=np.float32)
    paper = np.asarray(paper, dtype=np.float32)
    m = mask[..., None] if ink.ndim else mask
    out = paper * (1 - m) + ink * m
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def encode(img: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def black_on_white(digit: str, **kw) -> Image.Image:
    return Image.fromarray(compose(digit_mask(digit, **kw), 0, 255), "L")


def canvas_rgba(digit: str, ink=(0, 0, 0), **kw) -> Image.Image:
    """A browser canvas export: transparent black pixels, strokes only in alpha (and the ink colour)."""
    mask = digit_mask(digit, **kw)
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.where(mask[..., None] > 0, np.asarray(ink, dtype=np.uint8), 0)
    rgba[..., 3] = np.round(mask * 255).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def gaussian_noise(arr: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(arr.astype(np.float32) + rng.normal(0, sigma, arr.shape), 0, 255).astype(np.uint8)


def blurred_lowres(
    digit: str, height: int = 14, side: int = 24, blur: float = 0.7, up: int = 1, stroke: float = 2.0
) -> Image.Image:
    """A low-resolution scan: the digit ``height`` px tall in a ``side`` px image, blurred, optionally upsampled."""
    small = black_on_white(digit, size=(side, side), height=height, stroke=stroke)
    small = small.filter(ImageFilter.GaussianBlur(blur))
    if up > 1:
        small = small.resize((side * up, side * up), Image.Resampling.BILINEAR)
    return small


def shifted_correlation(a: np.ndarray, b: np.ndarray, max_shift: int = 1) -> float:
    """Best Pearson correlation of ``a`` and ``b`` over integer shifts up to ``max_shift`` px.

    Placement by centre of mass rounds to whole pixels, so two renderings of one digit may land 1 px apart;
    that is not a preprocessing difference worth failing on.
    """
    best = -1.0
    pad = max_shift
    big = np.pad(b, pad)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            moved = big[pad + dy : pad + dy + a.shape[0], pad + dx : pad + dx + a.shape[1]]
            if moved.std() > 0 and a.std() > 0:
                best = max(best, float(np.corrcoef(a.ravel(), moved.ravel())[0, 1]))
    return best


def smooth_correlation(a: np.ndarray, b: np.ndarray, sigma: float = 1.0) -> float:
    """``shifted_correlation`` of Gaussian-smoothed copies: compares the digits' shapes, not their stroke widths."""
    from scipy import ndimage

    return shifted_correlation(ndimage.gaussian_filter(a, sigma), ndimage.gaussian_filter(b, sigma))


TOY_LABELS = {"7": 7, "0": 0, "4": 4, "2": 2}


def toy_dataset(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST-format digits (uint8 (n, 28, 28), ink high) of four classes, with jittered size, stroke and place."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, 28, 28), dtype=np.uint8)
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        digit = DIGITS[i % len(DIGITS)]
        mask = digit_mask(
            digit,
            size=(28, 28),
            height=rng.uniform(16, 20),
            stroke=rng.uniform(1.8, 3.0),
            centre=(14 + rng.uniform(-1.5, 1.5), 14 + rng.uniform(-1.5, 1.5)),
        )
        images[i] = np.round(mask * 255)
        labels[i] = TOY_LABELS[digit]
    return images, labels
