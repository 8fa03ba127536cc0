"""Benchmark: how much ink that is not one digit gets refused, how many real digits get refused, and AUROC."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from bench.robustness import (
    CANVAS_INKS,
    build_suite,
    compose,
    encode,
    font_paths,
    ink_on_paper,
    load_font,
    on_canvas,
    shape_mask,
    stroke_mask,
)
from ml.negatives import OneLikeness, is_training_font
from ml.preprocess import preprocess

# Its own seed: nothing here shares a random stream with the training negatives or the robustness suite.
SEED = 20_613
KINDS: tuple[str, ...] = ("letters", "scribbles", "shapes", "several_digits", "fragments", "faint_or_cut")
# Letters a careful reader would still call letters; O, l, I, S, Z, B, g, q and the like pass for digits.
LETTERS = "AaCcdEeFfHhKkMmNnPpRrTtUuVvWwXxYy"
SYMBOLS = "?!$§~()[]{}&@%€£¶"
BATCH = 64
MAX_TRIES = 5  # per negative kept: samples that read as a 1 are drawn again
TARGETS = {
    "refused_overall": 0.95,
    "refused_per_kind": 0.90,
    "false_refusals_mnist_test": 0.003,
    "false_refusals_per_robustness_condition": 0.01,
}


@dataclass(frozen=True)
class Negative:
    data: bytes  # the encoded image file exactly as a person would upload it
    kind: str
    family: str  # what was drawn within the kind, for reading failures by eye
    source_indices: tuple[int, ...] = ()  # MNIST test digits it was built from


class Answer(Protocol):
    """What the benchmark reads from a prediction; `not_a_digit` and `rejection_score` are optional."""

    confidence: float | None
    probabilities: list[float] | None

    @property
    def no_digit(self) -> bool: ...


class Reader(Protocol):
    def predict_batch(self, images: list) -> Sequence[Answer]: ...


# ---------------------------------------------------------------- the seam to the predictor


def rejection_score(prediction: Any) -> float:
    """Higher means "less likely one digit": the predictor's own score if it has one, else 1 - confidence."""
    own = getattr(prediction, "rejection_score", None)
    if own is not None:
        return float(own)
    if prediction.no_digit or prediction.confidence is None:
        return 1.0  # blank or a dot: refused before the model, as sure as a refusal gets
    return 1.0 - float(prediction.confidence)


def refused(prediction: Any) -> bool:
    """A "not a digit" answer where the predictor gives one; a "no digit" answer (blank, a dot) counts too."""
    return bool(getattr(prediction, "not_a_digit", False)) or bool(prediction.no_digit)


def max_probability(prediction: Any) -> float | None:
    probs = getattr(prediction, "probabilities", None)
    return float(max(probs)) if probs else None


# ---------------------------------------------------------------- drawing


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _pen(paths: list[np.ndarray], height: int, width: float) -> np.ndarray:
    """Polylines given as (N, 2) arrays of (x, y), scaled so the drawing's larger side spans ~`height` px,
    drawn with a round pen `width` px wide; coverage in [0, 1]."""
    pts = np.concatenate(paths)
    lo, span = pts.min(axis=0), max(float(np.ptp(pts, axis=0).max()), 1e-6)
    scale = max(height - width, 4.0) / span
    ss = 4 if width < 4 else 2  # supersampling for the antialiased rim; thin lines need more
    size = np.ceil((np.ptp(pts, axis=0) * scale + width + 4) * ss).astype(int)
    canvas = Image.new("L", (int(size[0]), int(size[1])), 0)
    draw = ImageDraw.Draw(canvas)
    r = width * ss / 2
    for path in paths:
        xy = [tuple(p) for p in ((path - lo) * scale + width / 2 + 2) * ss]
        draw.line(xy, fill=255, width=max(1, round(2 * r)), joint="curve")
        for x, y in (xy[0], xy[-1]):  # round caps, as a canvas with lineCap="round" draws them
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    small = canvas.resize((int(size[0]) // ss, int(size[1]) // ss), Image.Resampling.BOX)
    return tight(np.asarray(small, dtype=np.float32) / 255.0)


def tight(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(mask.max(axis=1) > 0.02), np.flatnonzero(mask.max(axis=0) > 0.02)
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _jitter(path: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A hand's tremor: smooth low-frequency wobble, not per-point noise."""
    n = len(path)
    t = np.linspace(0, 1, n)[:, None]
    phase, freq = rng.uniform(0, 2 * np.pi, (1, 2)), rng.uniform(1, 3, (1, 2))
    return path + amount * np.sin(2 * np.pi * freq * t + phase)


def pen_width(rng: np.random.Generator, height: int) -> float:
    """A finger on a canvas (7-14% of the height) or a pen on paper (1.5-5 px)."""
    return height * _u(rng, 0.07, 0.14) if rng.random() < 0.5 else _u(rng, 1.5, 5.0)


def _glyph(path: str, text: str, rng: np.random.Generator) -> np.ndarray:
    """`text` typed in the font, white on black, maybe slanted like handwriting: the 'digit' the masks take."""
    font = load_font(path, 64)
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("L", (right - left + 24, bottom - top + 24), 0)
    ImageDraw.Draw(img).text((12 - left, 12 - top), text, font=font, fill=255)
    shear = _u(rng, -0.3, 0.3)
    img = img.transform(
        (img.width + round(abs(shear) * img.height), img.height),
        Image.Transform.AFFINE,
        (1, shear, -max(shear, 0) * img.height, 0, 1, 0),
        Image.Resampling.BICUBIC,
    )
    return np.asarray(img, dtype=np.uint8)


def _typed_or_written(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """As typed (the glyph's own shape) or handwritten (its centre line redrawn with a pen)."""
    height = int(rng.integers(120, 360))
    if rng.random() < 0.4:
        return shape_mask(glyph, height, rng)
    return stroke_mask(glyph, height, pen_width(rng, height))


@lru_cache(maxsize=1)
def benchmark_fonts() -> tuple[str, ...]:
    """Installed fonts the training negatives never use that draw every letter and symbol of the suite."""
    usable = []
    for path in font_paths():
        if is_training_font(path):
            continue
        try:
            font = load_font(path, 48)
        except OSError:
            continue
        if all(font.getmask(ch).getbbox() for ch in LETTERS + SYMBOLS):
            usable.append(path)
    return tuple(usable)


def _letters(rng: np.random.Generator, digits: np.ndarray) -> tuple[np.ndarray, str, tuple[int, ...]]:
    fonts = benchmark_fonts()
    font = fonts[int(rng.integers(len(fonts)))]
    count = int(rng.choice([1, 1, 2, 3]))
    text = "".join(LETTERS[int(i)] for i in rng.integers(len(LETTERS), size=count))
    return _typed_or_written(_glyph(font, text, rng), rng), f"{Path(font).stem}:{text}", ()


def _spiral(rng: np.random.Generator) -> list[np.ndarray]:
    turns = _u(rng, 1.5, 4.0)
    t = np.linspace(0, 2 * np.pi * turns, 400)
    r = (t + _u(rng, 0.2, 1.0)) ** _u(rng, 0.8, 1.2)
    return [np.stack([r * np.cos(t), r * np.sin(t) * _u(rng, 0.6, 1.0)], axis=1)]


def _cursive(rng: np.random.Generator) -> list[np.ndarray]:
    """Text-like cursive: a run of loops (a prolate cycloid), like "eeee" or "llll" written fast."""
    loops = int(rng.integers(3, 8))
    t = np.linspace(0, 2 * np.pi * loops, 120 * loops)
    loop = _u(rng, 1.2, 2.5)
    x = t - loop * np.sin(t) + _u(rng, 0.2, 0.5) * t
    y = -loop * np.cos(t) * (1 + 0.3 * np.sin(t / _u(rng, 2, 5)))
    return [np.stack([x, y], axis=1)]


def _signature(rng: np.random.Generator) -> list[np.ndarray]:
    """A flowing name: a sum of sines along a slope, then an underline flourish."""
    t = np.linspace(0, 1, 500)
    freqs = rng.uniform(3, 9, 3)
    y = sum(rng.uniform(0.1, 0.35) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs)
    x = t * _u(rng, 2.0, 3.5) + 0.08 * np.sin(2 * np.pi * freqs[0] * 1.7 * t)
    body = np.stack([x, y - t * _u(rng, 0, 0.4)], axis=1)
    paths = [body]
    if rng.random() < 0.7:
        u = np.linspace(0, 1, 80)
        paths.append(np.stack([u * x.max() * _u(rng, 0.7, 1.0), 0.55 + 0.08 * np.sin(3 * u) + 0.1 * u], axis=1))
    return paths


def _hatching(rng: np.random.Generator) -> list[np.ndarray]:
    """Parallel strokes, sometimes crossed by a second set: shading or crossing something out."""
    paths = []
    for angle in [_u(rng, 0.3, 1.2)] + ([_u(rng, 1.9, 2.8)] if rng.random() < 0.5 else []):
        direction = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        for k in range(int(rng.integers(5, 11))):
            centre = normal * (k - 4) * 0.22 + rng.normal(0, 0.02, 2)
            half = _u(rng, 0.6, 1.0)
            paths.append(np.stack([centre - direction * half, centre + direction * half]))
    return paths


def _zigzag(rng: np.random.Generator) -> list[np.ndarray]:
    teeth = int(rng.integers(5, 12))
    x = np.arange(teeth + 1) * _u(rng, 0.2, 0.5)
    y = np.where(np.arange(teeth + 1) % 2, 1.0, 0.0) + rng.normal(0, 0.05, teeth + 1)
    return [np.stack([x, y], axis=1)]


SCRIBBLES: dict[str, Callable[[np.random.Generator], list[np.ndarray]]] = {
    "spiral": _spiral,
    "cursive": _cursive,
    "signature": _signature,
    "hatching": _hatching,
    "zigzag": _zigzag,
}


def _scribbles(rng: np.random.Generator, digits: np.ndarray) -> tuple[np.ndarray, str, tuple[int, ...]]:
    family = list(SCRIBBLES)[int(rng.integers(len(SCRIBBLES)))]
    paths = [_jitter(p, rng, 0.03) if len(p) > 2 else p for p in SCRIBBLES[family](rng)]
    height = int(rng.integers(150, 400))
    return _pen(paths, height, pen_width(rng, height)), family, ()


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, n: int = 60) -> np.ndarray:
    t = np.linspace(a0, a1, n)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _drawn_symbol(name: str) -> list[np.ndarray]:
    """Symbols drawn by hand; y grows downwards, as on a screen."""
    if name == "checkmark":
        return [np.array([[0.0, 0.55], [0.35, 1.0], [1.0, 0.0]])]
    if name == "smiley":
        return [
            _arc(0, 0, 1, 0, 2 * np.pi, 120),
            _arc(0, 0.05, 0.55, 0.5, np.pi - 0.5),
            _arc(-0.35, -0.35, 0.05, 0, 6.3),
        ]
    if name == "heart":
        t = np.linspace(0, 2 * np.pi, 200)
        return [np.stack([16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t))], axis=1)]
    if name == "arrow":
        return [np.array([[0.0, 0.5], [1.0, 0.5]]), np.array([[0.7, 0.2], [1.0, 0.5], [0.7, 0.8]])]
    if name == "infinity":
        t = np.linspace(0, 2 * np.pi, 200)
        return [np.stack([np.cos(t) * 1.6, np.sin(2 * t) * 0.5], axis=1)]
    if name == "lightning":
        return [np.array([[0.6, 0.0], [0.2, 0.55], [0.55, 0.5], [0.25, 1.1]])]
    raise KeyError(name)


DRAWN_SYMBOLS = ("checkmark", "smiley", "heart", "arrow", "infinity", "lightning")


def _shapes(rng: np.random.Generator, digits: np.ndarray) -> tuple[np.ndarray, str, tuple[int, ...]]:
    if rng.random() < 0.5:
        name = DRAWN_SYMBOLS[int(rng.integers(len(DRAWN_SYMBOLS)))]
        paths = [_jitter(p, rng, 0.02) if len(p) > 2 else p for p in _drawn_symbol(name)]
        height = int(rng.integers(150, 400))
        return _pen(paths, height, pen_width(rng, height)), name, ()
    fonts = benchmark_fonts()
    font, symbol = fonts[int(rng.integers(len(fonts)))], SYMBOLS[int(rng.integers(len(SYMBOLS)))]
    return _typed_or_written(_glyph(font, symbol, rng), rng), f"{Path(font).stem}:{symbol}", ()


def _digit_mask(digit: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit as a shape (scan, photo) or as a pen line (canvas), `height` px tall."""
    if rng.random() < 0.5:
        return shape_mask(digit, height, rng)
    return stroke_mask(digit, height, pen_width(rng, height))


def _several_digits(rng: np.random.Generator, digits: np.ndarray) -> tuple[np.ndarray, str, tuple[int, ...]]:
    count = int(rng.choice([2, 2, 3]))
    indices = tuple(int(i) for i in rng.choice(len(digits), size=count, replace=False))
    height = int(rng.integers(110, 260))
    masks = [_digit_mask(digits[i], round(height * _u(rng, 0.85, 1.0)), rng) for i in indices]
    gaps = [round(height * _u(rng, 0.06, 0.4)) for _ in masks[1:]] + [0]
    drift = [round(height * _u(rng, -0.12, 0.12)) for _ in masks]
    tops = [d - min(drift) for d in drift]
    out = np.zeros(
        (max(t + m.shape[0] for t, m in zip(tops, masks, strict=True)), sum(m.shape[1] for m in masks) + sum(gaps)),
        dtype=np.float32,
    )
    left = 0
    for mask, gap, top in zip(masks, gaps, tops, strict=True):
        region = out[top : top + mask.shape[0], left : left + mask.shape[1]]
        np.maximum(region, mask, out=region)
        left += mask.shape[1] + gap
    return tight(out), f"{count} digits", indices


def _not_one(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray) -> int:
    """A test digit other than 1: any piece of a 1 is still a 1."""
    while True:
        index = int(rng.integers(len(digits)))
        if labels[index] != 1:
            return index


def _fragments(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, str, tuple]:
    """A piece of a digit: one side of a random cut through it, keeping 25-50% of the ink."""
    index = _not_one(rng, digits, labels)
    mask = _digit_mask(digits[index], int(rng.integers(150, 360)), rng)
    ys, xs = np.indices(mask.shape)
    cy, cx = ndimage.center_of_mass(mask)
    angle = _u(rng, 0, 2 * np.pi)
    along = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)
    keep = _u(rng, 0.25, 0.5)
    weights = mask.ravel()
    order = np.argsort(along.ravel())
    cumulative = np.cumsum(weights[order]) / max(float(weights.sum()), 1e-6)
    threshold = along.ravel()[order][np.searchsorted(cumulative, keep)]
    return tight(np.where(along <= threshold, mask, 0.0)), f"{keep:.0%} of a {labels[index]}", (index,)


# ---------------------------------------------------------------- how a person hands it over


def present(mask: np.ndarray, rng: np.random.Generator) -> bytes:
    """The ink as a canvas export (ink in the alpha channel), a grey scan, coloured ink on paper, or a JPEG."""
    canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.4))
    style = rng.random()
    if style < 0.35:
        ink = CANVAS_INKS[int(rng.integers(len(CANVAS_INKS)))]
        rgb = np.empty((*canvas.shape, 3), dtype=np.uint8)
        rgb[:] = ink
        rgb[canvas <= 0] = 0  # browsers un-premultiply: fully transparent pixels come out as RGB 0
        return encode(Image.fromarray(np.dstack([rgb, (canvas * 255 + 0.5).astype(np.uint8)]), "RGBA"), "PNG")
    if style < 0.7:
        grey = compose(canvas, int(rng.integers(215, 253)), int(rng.integers(10, 71)))
        return encode(Image.fromarray(grey, "L"), "PNG")
    ink, paper = ink_on_paper(rng)
    img = Image.fromarray(compose(canvas, paper, ink), "RGB")
    if style < 0.88:
        return encode(img, "PNG")
    return encode(img, "JPEG", quality=int(rng.integers(70, 93)))


def _faint_or_cut(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray) -> tuple[bytes, str, tuple]:
    """A digit too faint to read against the paper's noise, or mostly outside the picture."""
    index = int(rng.integers(len(digits)))
    mask = _digit_mask(digits[index], int(rng.integers(150, 360)), rng)
    if rng.random() < 0.5:
        canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.4))
        paper = float(rng.integers(200, 250))
        contrast = _u(rng, 4, 14)  # grey levels between ink and paper, under the noise below
        noisy = paper - contrast * canvas + rng.normal(0, _u(rng, 4, 9), canvas.shape)
        img = Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8), "L")
        return encode(img, "PNG" if rng.random() < 0.5 else "JPEG"), "faint", (index,)
    # Cut: only 25-45% of the digit's extent along one axis stays inside the frame, at an edge.
    h, w = mask.shape
    inside = _u(rng, 0.25, 0.45)
    side = int(rng.integers(4))
    if side == 0:
        cut = mask[: max(2, round(h * inside))]
    elif side == 1:
        cut = mask[h - max(2, round(h * inside)) :]
    elif side == 2:
        cut = mask[:, : max(2, round(w * inside))]
    else:
        cut = mask[:, w - max(2, round(w * inside)) :]
    margin = [(0, 0), (0, 0)]
    axis, at_start = (0, side == 1) if side < 2 else (1, side == 3)
    pad = round(cut.shape[1 - axis] * _u(rng, 0.3, 1.0))
    margin[axis] = (pad, 0) if at_start else (0, pad)
    margin[1 - axis] = (round(cut.shape[axis] * _u(rng, 0.1, 0.5)),) * 2
    framed = np.pad(cut, margin)
    img = compose(framed, int(rng.integers(215, 253)), int(rng.integers(10, 71)))
    return encode(Image.fromarray(img, "L"), "PNG"), f"cut to {inside:.0%}", (index,)


# ---------------------------------------------------------------- the suite


def render(kind: str, rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray) -> Negative:
    """One negative of `kind`, built from the MNIST *test* digits given (never the training ones)."""
    if kind == "faint_or_cut":
        data, family, sources = _faint_or_cut(rng, digits, labels)
        return Negative(data, kind, family, sources)
    makers = {"letters": _letters, "scribbles": _scribbles, "shapes": _shapes, "several_digits": _several_digits}
    if kind == "fragments":
        mask, family, sources = _fragments(rng, digits, labels)
    elif kind in makers:
        mask, family, sources = makers[kind](rng, digits)
    else:
        raise KeyError(f"{kind!r} is not a kind; choose from {KINDS}")
    return Negative(present(mask, rng), kind, family, sources)


def reads_as_a_one(negative: Negative, ones: OneLikeness) -> bool:
    """Whether the model input of ``negative`` lies where real MNIST test 1s do (the criterion the training
    negatives use, ml.negatives.OneLikeness): a bracket, a sliver cut from a 0 or a 7, a "!" whose dot was
    dropped as a speck. A fair reader would say "1", so it is no fair test of "not a digit"."""
    prepared = preprocess(negative.data)
    return not prepared.no_digit and ones.reads_as_a_one(prepared.image)


def build_negatives(
    test_images: np.ndarray,
    test_labels: np.ndarray,
    *,
    per_kind: int = 300,
    seed: int = SEED,
    excluded: dict[str, int] | None = None,
) -> list[Negative]:
    """`per_kind` negatives of every kind, none reading as a 1 (how many were drawn again, per kind, goes into
    ``excluded``); each kind has its own stream, so adding one never changes the others."""
    ones = OneLikeness(test_images, test_labels, seed)
    out: list[Negative] = []
    for k, kind in enumerate(KINDS):
        rng = np.random.default_rng([seed, k])
        kept = 0
        for _ in range(per_kind * MAX_TRIES):
            negative = render(kind, rng, test_images, test_labels)
            if reads_as_a_one(negative, ones):
                if excluded is not None:
                    excluded[kind] = excluded.get(kind, 0) + 1
                continue
            out.append(negative)
            kept += 1
            if kept == per_kind:
                break
    return out


# ---------------------------------------------------------------- the report


def _answers(reader: Reader, files: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(files), BATCH):
        out.extend(reader.predict_batch(files[start : start + BATCH]))
    return out


def _refusals(answers: list[Any]) -> dict:
    count, refusals = len(answers), sum(refused(a) for a in answers)
    return {
        "count": count,
        "refused": refusals,
        "share": refusals / max(count, 1),
        "no_digit": sum(bool(a.no_digit) for a in answers),
    }


def evaluate(
    reader: Reader, negatives: list[Negative], digit_files: list[bytes], robustness_files: dict[str, list[bytes]]
) -> dict:
    """Shares refused per kind, false refusals on MNIST test and per robustness condition, and the AUROC."""
    from sklearn.metrics import roc_auc_score  # lazy: sklearn is slow to import

    negative_answers = _answers(reader, [n.data for n in negatives])
    digit_answers = _answers(reader, digit_files)
    kinds = {}
    for kind in dict.fromkeys(n.kind for n in negatives):
        answers = [a for a, n in zip(negative_answers, negatives, strict=True) if n.kind == kind]
        peaks = [p for p in map(max_probability, answers) if p is not None]
        kinds[kind] = {**_refusals(answers), "median_max_probability": float(np.median(peaks)) if peaks else None}
    conditions = {name: _refusals(_answers(reader, files)) for name, files in robustness_files.items()}
    scores = [rejection_score(a) for a in negative_answers + digit_answers]
    truth = [1] * len(negative_answers) + [0] * len(digit_answers)
    return {
        "kinds": kinds,
        "negatives_overall": _refusals(negative_answers),
        "false_refusals": {
            "mnist_test": _refusals(digit_answers),
            "robustness": conditions,
            "robustness_worst": max(conditions, key=lambda c: conditions[c]["share"]) if conditions else None,
        },
        "auroc": float(roc_auc_score(truth, scores)) if negatives and digit_files else None,
    }


def latency_ratio(predictor: Any, baseline: Any, files: list[bytes], rounds: int = 5, repeats: int = 200) -> dict:
    """p50 latency (preprocess + model, one thread) of ``predictor`` over ``baseline``'s on the same files,
    measured in alternating rounds in one process, so the machine's hour-to-hour speed cancels out."""
    from bench.accuracy import alternating_rounds, latency

    def p50_ms(reader: Any) -> float:
        return latency(reader, {"files": files}, repeats)["files"]["total"]["p50_ms"]

    ours, theirs = alternating_rounds(lambda: p50_ms(predictor), lambda: p50_ms(baseline), rounds)
    return {
        "p50_ms": ours,
        "baseline_p50_ms": theirs,
        "ratio": ours / theirs,
        "rounds": rounds,
        "repeats_per_round": repeats,
    }


def run(args: argparse.Namespace) -> dict:
    from bench.accuracy import png_bytes
    from ml.checkpoint import SHIPPED_CHECKPOINT
    from ml.data import load_mnist
    from ml.predictor import Predictor

    splits = load_mnist()
    predictor = Predictor.from_checkpoint(args.checkpoint or SHIPPED_CHECKPOINT, threads=1)
    excluded: dict[str, int] = {}
    negatives = build_negatives(
        splits.test_images, splits.test_labels, per_kind=args.per_kind, seed=args.seed, excluded=excluded
    )
    digit_files = [png_bytes(d) for d in splits.test_images[: args.digits]]
    robustness_files: dict[str, list[bytes]] = {}
    for sample in build_suite(splits.test_images, splits.test_labels, per_condition=args.per_condition):
        robustness_files.setdefault(sample.condition, []).append(sample.data)
    report = {
        "date": dt.date.today().isoformat(),
        "model_version": predictor.version,
        "backend": predictor.backend.name,
        "seed": args.seed,
        "per_kind": args.per_kind,
        "mnist_test_digits": len(digit_files),
        "per_robustness_condition": args.per_condition,
        "score": "Prediction.rejection_score where the predictor gives one, else 1 - confidence; no_digit = 1",
        "refusal": "Prediction.not_a_digit where the predictor gives one; a no_digit answer (blank, dot) counts too",
        "excluded_reading_as_a_1": excluded,
        "targets": TARGETS,
    }
    report.update(evaluate(predictor, negatives, digit_files, robustness_files))
    if args.latency_baseline:
        canvases = robustness_files.get("canvas_alpha") or digit_files
        baseline = Predictor.from_checkpoint(args.latency_baseline, threads=1)
        report["latency"] = {"baseline": str(args.latency_baseline), "files": "canvas_alpha robustness PNGs"}
        report["latency"].update(latency_ratio(predictor, baseline, canvases))
    return report


def print_report(report: dict) -> None:
    print(f"{'not a digit, kind':28s} {'n':>5s} {'refused':>8s} {'no digit':>9s} {'median max p':>13s}")
    for kind, row in report["kinds"].items():
        median = "-" if row["median_max_probability"] is None else f"{row['median_max_probability']:.4f}"
        print(f"{kind:28s} {row['count']:5d} {row['share']:8.2%} {row['no_digit']:9d} {median:>13s}")
    overall = report["negatives_overall"]
    print(f"{'overall':28s} {overall['count']:5d} {overall['share']:8.2%} {overall['no_digit']:9d}\n")
    print(f"{'false refusals on':28s} {'n':>5s} {'refused':>8s} {'no digit':>9s}")
    rows = {"MNIST test (PNG files)": report["false_refusals"]["mnist_test"], **report["false_refusals"]["robustness"]}
    for name, row in rows.items():
        print(f"{name:28s} {row['count']:5d} {row['share']:8.2%} {row['no_digit']:9d}")
    auroc = report["auroc"]
    print(f"\nAUROC of the rejection score, suite vs MNIST test digits: {'-' if auroc is None else f'{auroc:.4f}'}")
    if "latency" in report:
        lat = report["latency"]
        print(
            f"latency p50 (preprocess + model, one thread): {lat['p50_ms']:.2f} ms vs {lat['baseline_p50_ms']:.2f} ms "
            f"for {lat['baseline']}: ratio {lat['ratio']:.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-kind", type=int, default=300, help="negatives per kind")
    parser.add_argument("--digits", type=int, default=2000, help="MNIST test digits through the pipeline")
    parser.add_argument("--per-condition", type=int, default=100, help="MNIST test digits per robustness condition")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--json", type=Path, help="also write the report here (bench/results/not_a_digit.json)")
    parser.add_argument(
        "--latency-baseline",
        type=Path,
        help="another checkpoint (e.g. the model before refusals): p50 latency ratio, measured side by side",
    )
    args = parser.parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
