"""Touching digits read as a string: synthetic strings of MNIST training digits and a small CTC reader.

Cutting a blob of touching digits into single digits fails where strokes interleave (a 7's bar over the next
digit, a 1 leaning into a 0). ``StringNet`` reads such a blob whole, left to right, without cutting: a CNN
over the blob scaled to STRING_HEIGHT rows, a bidirectional GRU over its columns and CTC (Graves et al. 2006),
trained on strings synthesised here from MNIST *training* digits only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ml.data import as_unit_float
from ml.predictor import onnx_session, softmax

STRING_HEIGHT = 32  # rows of the reader's input: the ink is DIGIT_ROWS tall, with PAD rows above and below
DIGIT_ROWS = 28
PAD = 2
FRAME = 4  # input columns per output frame
BLANK = 10  # CTC's "no digit here" class, after the ten digits
MAX_STRING = 4  # digits per synthetic string; a blob of touching digits seldom holds more
NEGATIVE_SHARE = 0.1
SHIPPED_STRINGNET = Path(__file__).resolve().parent / "artifacts" / "stringnet.onnx"


@dataclass(frozen=True)
class StringSample:
    image: np.ndarray  # float32 (STRING_HEIGHT, width) in [0, 1]
    digits: tuple[int, ...]


def string_input(ink: np.ndarray) -> np.ndarray:
    """A blob's soft ink (cropped to its box, [0, 1]) as the reader's input: DIGIT_ROWS tall, the width kept in
    proportion, PAD blank pixels all round."""
    h, w = ink.shape
    width = max(1, round(w * DIGIT_ROWS / h))
    scaled = Image.fromarray(np.asarray(ink, dtype=np.float32), mode="F").resize((width, DIGIT_ROWS), Image.BILINEAR)
    return np.pad(np.clip(np.asarray(scaled), 0.0, 1.0), PAD).astype(np.float32)


def _crop(image: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(image.max(axis=1) > 0.1), np.flatnonzero(image.max(axis=0) > 0.1)
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _restyle(digit: np.ndarray, weight: float, rng: np.random.Generator) -> np.ndarray:
    """A digit a little bigger or smaller, narrower or wider (one person's digits differ that much), in the
    string's pen weight: < 0.25 bolder, 0.25-0.35 finer."""
    scale = rng.uniform(0.8, 1.15)
    h, w = digit.shape
    size = (max(1, round(w * scale * rng.uniform(0.85, 1.15))), max(1, round(h * scale)))
    out = np.asarray(Image.fromarray(digit, mode="F").resize(size, Image.BILINEAR))
    if weight < 0.25:
        out = ndimage.grey_dilation(out, size=(2, 2))
    elif weight < 0.35:
        out = ndimage.grey_erosion(out, size=(2, 2)) * 0.5 + 0.5 * out
    return np.clip(out, 0.0, 1.0)


def _offset(prev: np.ndarray, prev_top: int, prev_left: int, nxt: np.ndarray, top: int, rng: np.random.Generator):
    """Where the next digit's left edge goes: touching the previous digit's ink (pushed in up to a few pixels,
    so strokes cross), or a little apart, or overlapping boxes with ink apart."""
    mode = rng.random()
    if mode < 0.15:  # apart: the reader also sees gaps inside what was found as one blob
        return prev_left + prev.shape[1] + int(rng.integers(1, 6))
    lo, hi = max(top, prev_top), min(top + nxt.shape[0], prev_top + prev.shape[0])
    a, b = prev[lo - prev_top : hi - prev_top] > 0.3, nxt[lo - top : hi - top] > 0.3
    rows = a.any(axis=1) & b.any(axis=1)
    if not rows.any():
        return prev_left + prev.shape[1] - int(rng.integers(0, 4))
    last = prev.shape[1] - 1 - a[rows, ::-1].argmax(axis=1)
    first = b[rows].argmax(axis=1)
    contact = prev_left + int((last - first).max()) + 1
    return contact - int(rng.integers(0, 5)) if mode < 0.85 else contact + int(rng.integers(0, 3))


def synthesise(
    images: np.ndarray,
    labels: np.ndarray,
    count: int,
    seed: int,
    redrawn_images: np.ndarray | None = None,
    negatives: np.ndarray | None = None,
) -> list[StringSample]:
    """``count`` strings of 1 to MAX_STRING digits drawn from ``images`` (MNIST *training* digits, uint8 or
    [0, 1], ink high) and their ``labels``: touching, crossing or a little apart, on an uneven baseline, some
    slanted, as the reader's inputs. With ``redrawn_images`` (the same digits redrawn with a uniform pen,
    ``ml.strokes.redrawn``), a third of the strings are written with a pen. With ``negatives`` (28x28 ink that
    is no digit: letters, scribbles, shapes), NEGATIVE_SHARE of the samples are one of them, to be read as
    no digits at all."""
    rng = np.random.default_rng(seed)
    x = as_unit_float(images)
    pens = None if redrawn_images is None else as_unit_float(redrawn_images)
    by_label = [np.flatnonzero(labels == d) for d in range(10)]
    out = []
    for _ in range(count):
        if negatives is not None and len(negatives) and rng.random() < NEGATIVE_SHARE:
            ink = _restyle(_crop(as_unit_float(negatives[int(rng.integers(len(negatives)))])), rng.random(), rng)
            out.append(StringSample(string_input(ink), ()))
            continue
        n = int(rng.choice(np.arange(1, MAX_STRING + 1), p=[0.1, 0.45, 0.3, 0.15]))
        digits = tuple(int(d) for d in rng.integers(0, 10, n))
        source = pens if pens is not None and rng.random() < 1 / 3 else x
        weight = rng.random()
        placed: list[tuple[np.ndarray, int, int]] = []
        for d in digits:
            digit = _restyle(_crop(source[int(rng.choice(by_label[d]))]), weight, rng)
            top = -digit.shape[0] + int(rng.integers(-2, 3))  # bottoms near a common baseline
            left = 0 if not placed else _offset(*placed[-1], digit, top, rng)
            placed.append((digit, top, left))
        out.append(StringSample(_compose(placed, rng), digits))
    return out


def _compose(placed: list[tuple[np.ndarray, int, int]], rng: np.random.Generator) -> np.ndarray:
    y0, x0 = min(t for _, t, _ in placed), min(left for _, _, left in placed)
    h = max(t + d.shape[0] for d, t, _ in placed) - y0
    w = max(left + d.shape[1] for d, _, left in placed) - x0
    canvas = np.zeros((h, w), dtype=np.float32)
    for d, t, left in placed:
        region = canvas[t - y0 : t - y0 + d.shape[0], left - x0 : left - x0 + d.shape[1]]
        np.maximum(region, d, out=region)
    shear = rng.uniform(-0.3, 0.3) if rng.random() < 0.5 else 0.0
    if shear:
        extra = int(np.ceil(abs(shear) * h))
        wide = np.pad(canvas, ((0, 0), (extra, extra)))
        img = Image.fromarray(wide, mode="F").transform(
            wide.shape[::-1], Image.AFFINE, (1, shear, -shear * h / 2, 0, 1, 0), resample=Image.BILINEAR
        )
        canvas = np.asarray(img)
    return string_input(_crop(canvas))


@dataclass(frozen=True)
class StringDigit:
    """One digit the reader emitted: its ten probabilities at its surest frame, and the frames it spans."""

    digit: int
    probabilities: np.ndarray  # (10,), the blank left out and the rest renormalised
    frames: tuple[int, int]  # first frame, one past the last


def decode(frame_probabilities: np.ndarray) -> list[StringDigit]:
    """Greedy CTC decoding of (frames, 11) probabilities: each run of one class is one digit, blanks part
    repeated digits."""
    best = frame_probabilities.argmax(axis=1)
    digits, t = [], 0
    while t < len(best):
        if best[t] == BLANK:
            t += 1
            continue
        start, label = t, int(best[t])
        while t < len(best) and best[t] == label:
            t += 1
        peak = start + int(frame_probabilities[start:t, label].argmax())
        ten = frame_probabilities[peak, :BLANK]
        digits.append(StringDigit(label, ten / max(float(ten.sum()), 1e-9), (start, t)))
    return digits


def pad_batch(inputs: list[np.ndarray]) -> np.ndarray:
    """Inputs of different widths as one (N, 1, STRING_HEIGHT, W) array, padded with paper on the right to a
    common multiple of FRAME."""
    width = -(-max(im.shape[1] for im in inputs) // FRAME) * FRAME
    out = np.zeros((len(inputs), 1, STRING_HEIGHT, width), dtype=np.float32)
    for i, im in enumerate(inputs):
        out[i, 0, :, : im.shape[1]] = im
    return out


def frames_of(width: int) -> int:
    """How many output frames an input ``width`` columns wide has (the rest is padding)."""
    return -(-width // FRAME)


class StringReader:
    """StringNet's ONNX export on ONNX Runtime (no torch in a serving process); build once per process."""

    def __init__(self, path: Path = SHIPPED_STRINGNET, threads: int = 1):
        self.session = onnx_session(path, threads)

    def read(self, inputs: list[np.ndarray]) -> list[list[StringDigit]]:
        """Each input (from ``string_input``) read alone: padding would change what the GRU sees."""
        out = []
        for x in inputs:
            logits = self.session.run(None, {"image": pad_batch([x])})[0][0, : frames_of(x.shape[1])]
            out.append(decode(softmax(logits)))
        return out


@lru_cache(maxsize=1)
def shipped_reader() -> StringReader:
    return StringReader()
