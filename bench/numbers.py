"""Benchmark: whole numbers read from synthetic images of MNIST test digits and typed strings, eight kinds."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from bench.accuracy import alternating_rounds
from bench.not_a_digit import pen_width, present
from bench.robustness import (
    BICUBIC,
    CANVAS_INKS,
    add_noise,
    compose,
    encode,
    font_paths,
    has_digits,
    illumination,
    ink_on_paper,
    load_font,
    on_canvas,
    place_on_canvas,
    shape_mask,
    stroke_mask,
    tight,
)
from ml.negatives import is_training_font

# Its own seed: no random stream shared with the robustness suite, the not-a-digit suite or training.
SEED = 14_007
KINDS: tuple[str, ...] = (
    "separated",
    "touching",
    "overlapping",
    "canvas",
    "paper_photo",
    "dark_background",
    "tiny_in_big_image",
    "typed",
)
DIGIT_COUNTS: dict[str, tuple[int, int]] = {kind: (2, 6) for kind in KINDS} | {
    "touching": (2, 3),
    "overlapping": (2, 4),
}
NUMBER_CANVAS = (840, 280)  # (width, height) of the Number page's export, 3:1
PAGE_PEN = 22  # the page's default stroke width; its slider goes from 8 to 40
MAX_REDRAWS = 12  # per digit of an `overlapping` number: other test digits tried before the string is drawn again
LATENCY_DIGITS = 4
TARGETS = {"whole_number_separated": 0.97, "whole_number_touching": 0.90, "latency_ratio_below": 4.0}


@dataclass(frozen=True)
class NumberSample:
    data: bytes  # the encoded image file exactly as a person would upload it
    truth: str  # the digits left to right, leading zeros kept
    kind: str
    source_indices: tuple[int, ...]  # the MNIST test digits drawn, left to right; () for typed numbers
    family: str = ""  # how it was drawn (pen or shape, font), for reading failures by eye


@dataclass(frozen=True)
class SourceDigits:
    """The MNIST *test* digits and, per label, the indices that carry it."""

    images: np.ndarray  # (N, 28, 28) uint8, white ink on black
    labels: np.ndarray  # (N,)

    @cached_property
    def by_label(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.labels == d) for d in range(10)]


class Reading(Protocol):
    """What the benchmark reads from ml.numbers.NumberReading."""

    number: str | None
    digits: Sequence[Any]  # each with .digit and, optionally, .refused


Reader = Callable[[bytes], Reading]


# ---------------------------------------------------------------- laying digits out in a row


@dataclass(frozen=True)
class Row:
    """Digits laid out left to right: the ink coverage, and each digit's (x, y, w, h) box and solid ink in it."""

    mask: np.ndarray  # float32 (H, W) in [0, 1]
    boxes: tuple[tuple[int, int, int, int], ...]
    solids: tuple[np.ndarray, ...]  # each digit's ink > 0.5, full size of mask, to check touching and gaps
    indices: tuple[int, ...]


class NoRoom(Exception):
    """No test digit of a label overlaps its neighbour's columns without touching its ink."""


@dataclass(frozen=True)
class Placed:
    mask: np.ndarray
    top: int
    left: int

    @property
    def right(self) -> int:
        return self.left + self.mask.shape[1]


def _profile(solid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first and the last column of ink; +inf / -inf on rows without any."""
    inked = solid.any(axis=1)
    first = np.where(inked, solid.argmax(axis=1), np.inf)
    last = np.where(inked, solid.shape[1] - 1 - solid[:, ::-1].argmax(axis=1), -np.inf)
    return first, last


def contact(placed: Sequence[Placed], mask: np.ndarray, top: int, margin: int = 0) -> int | None:
    """The left position at which `mask` (top row at `top`), slid in from the right, first touches the solid
    ink (> 0.5) already placed: there its first solid pixel sits right beside theirs in the closest row
    (4-connected). With a margin, its ink grown by that many pixels touches instead: it stays that far away,
    diagonals included. None when they share no row with ink."""
    solid = mask > 0.5
    if margin:
        solid = ndimage.binary_dilation(np.pad(solid, margin), iterations=margin)
        top -= margin
    first, _ = _profile(solid)
    best = -np.inf
    for p in placed:
        _, last = _profile(p.mask > 0.5)
        lo, hi = max(top, p.top), min(top + solid.shape[0], p.top + p.mask.shape[0])
        if lo < hi:
            reach = last[lo - p.top : hi - p.top] + p.left - first[lo - top : hi - top]
            best = max(best, float(np.max(reach)))
    return int(best) + 1 + margin if np.isfinite(best) else None


def _left(mode: str, placed: list[Placed], mask: np.ndarray, top: int, height: int, rng: np.random.Generator) -> int:
    """Where the next digit goes; raises NoRoom when `overlapping` cannot be drawn with this digit."""
    prev = placed[-1]
    if mode == "gap":  # a column of paper between the boxes, 8-45% of the digit height
        return max(p.right for p in placed) + round(height * rng.uniform(0.08, 0.45))
    if mode == "touch":  # against the neighbour only, so that these two are the ones connected
        at = contact([prev], mask, top)
        return (prev.right if at is None else at) - int(rng.integers(0, max(1, round(0.05 * height)) + 1))
    # overlap: the boxes share 8-30% of the narrower one's columns, the ink stays 2+ px from all the ink before
    narrower = min(prev.mask.shape[1], mask.shape[1])
    clear = contact(placed, mask, top, margin=max(2, round(0.03 * height)))
    left = max(prev.right - round(narrower * rng.uniform(0.08, 0.3)), prev.right if clear is None else clear)
    if prev.right - left < max(2, round(0.06 * narrower)):
        raise NoRoom
    return left


def lay_out(
    make: Callable[[int], tuple[np.ndarray, int]],
    count: int,
    height: int,
    mode: str,
    rng: np.random.Generator,
) -> Row:
    """`count` digits from `make(i)` -> (mask, test index), on a common baseline with small jitter, spaced by
    `mode`: "gap" (clear gaps), "touch" (neighbours' ink connects) or "overlap" (boxes overlap, ink apart)."""
    placed: list[Placed] = []
    indices: list[int] = []
    for i in range(count):
        for attempt in range(MAX_REDRAWS if mode == "overlap" else 1):
            mask, index = make(i)
            top = round(height * rng.uniform(-0.05, 0.05)) - mask.shape[0]  # bottoms near a baseline at 0
            if not placed:
                left = 0
                break
            try:
                left = _left(mode, placed, mask, top, height, rng)
                break
            except NoRoom:
                if attempt == MAX_REDRAWS - 1:
                    raise
        placed.append(Placed(mask, top, left))
        indices.append(index)
    y0, x0 = min(p.top for p in placed), min(p.left for p in placed)
    shape = (max(p.top + p.mask.shape[0] for p in placed) - y0, max(p.right for p in placed) - x0)
    out = np.zeros(shape, dtype=np.float32)
    boxes, solids = [], []
    for p in placed:
        y, x, (h, w) = p.top - y0, p.left - x0, p.mask.shape
        np.maximum(out[y : y + h, x : x + w], p.mask, out=out[y : y + h, x : x + w])
        solid = np.zeros(shape, dtype=bool)
        solid[y : y + h, x : x + w] = p.mask > 0.5
        boxes.append((x, y, w, h))
        solids.append(solid)
    return Row(out, tuple(boxes), tuple(solids), tuple(indices))


# ---------------------------------------------------------------- the digits of one number


def _maker(
    truth: str,
    digits: SourceDigits,
    height: int,
    style: str,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.85, 1.15),
    pen_px: float | None = None,
) -> Callable[[int], tuple[np.ndarray, int]]:
    """Position i -> (a random test digit of truth[i] drawn `scale` times `height` tall, its index). One person
    writes one number: the style ("shape" as scanned, or "pen" redrawn along its centre line with a round
    pen) and the pen's width are drawn once per number; `pen_px` fixes the width, as a drawing page does."""
    by_label = digits.by_label
    pen = pen_width(rng, height) / height if style == "pen" and pen_px is None else 0.0

    def make(i: int) -> tuple[np.ndarray, int]:
        candidates = by_label[int(truth[i])]
        index = int(candidates[int(rng.integers(len(candidates)))])
        h = round(height * rng.uniform(*scale))
        if style == "pen":
            return stroke_mask(digits.images[index], h, pen_px or pen * h), index
        return shape_mask(digits.images[index], h, rng), index

    return make


def _style(rng: np.random.Generator) -> str:
    return "pen" if rng.random() < 0.5 else "shape"


def canvas_png(alpha: np.ndarray, rng: np.random.Generator, ink: tuple[int, int, int] | None = None) -> bytes:
    """Coverage as a browser canvas exports it: one ink colour (any client's, unless given), the drawing only
    in the alpha channel."""
    rgba = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., 3] = (alpha * 255 + 0.5).astype(np.uint8)
    rgba[..., :3] = ink or CANVAS_INKS[int(rng.integers(len(CANVAS_INKS)))]
    if rng.random() < 0.7:
        rgba[rgba[..., 3] == 0, :3] = 0  # browsers un-premultiply: fully transparent pixels come out as RGB 0
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


def _photo(mask: np.ndarray, rng: np.random.Generator, blur: tuple[float, float]) -> bytes:
    """Ink on a tinted page under uneven light, with sensor noise and a little blur, as a phone JPEG."""
    ink, paper = ink_on_paper(rng)
    h, w = mask.shape
    lit = compose(mask, paper, ink).astype(np.float32) * illumination(h, w, rng)[..., None]
    img = Image.fromarray(add_noise(np.clip(lit + 0.5, 0, 255).astype(np.uint8), rng.uniform(2, 5), rng), "RGB")
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(*blur)))
    return encode(img, "JPEG", quality=int(rng.integers(70, 91)))


Drawn = tuple[bytes, tuple[int, ...], str]


def _separated(rng: np.random.Generator, digits: SourceDigits, truth: str) -> Drawn:
    height, style = int(rng.integers(80, 201)), _style(rng)
    row = lay_out(_maker(truth, digits, height, style, rng), len(truth), height, "gap", rng)
    return canvas_png(on_canvas(row.mask, rng, (0.35, 0.75), (2.5, 3.5)), rng), row.indices, style


def _touching(rng: np.random.Generator, digits: SourceDigits, truth: str) -> Drawn:
    height, style = int(rng.integers(80, 201)), _style(rng)
    make = _maker(truth, digits, height, style, rng, scale=(0.9, 1.1))
    row = lay_out(make, len(truth), height, "touch", rng)
    return present(row.mask, rng), row.indices, style


def _overlapping(rng: np.random.Generator, digits: SourceDigits, truth: str) -> Drawn:
    height, style = int(rng.integers(80, 201)), _style(rng)
    make = _maker(truth, digits, height, style, rng, scale=(0.9, 1.1))
    row = lay_out(make, len(truth), height, "overlap", rng)
    return present(row.mask, rng), row.indices, style


def canvas_number(rng: np.random.Generator, digits: SourceDigits, truth: str, width: int = NUMBER_CANVAS[0]) -> Drawn:
    """What the Number page sends: the digits drawn with its round pen on a `width` x 280 canvas, black strokes
    on transparent, as RGBA."""
    canvas_h = NUMBER_CANVAS[1]
    pen = PAGE_PEN if rng.random() < 0.6 else int(rng.integers(12, 35))
    height = int(rng.integers(110, 221))
    while True:  # six large digits overflow the canvas: a person writes them smaller
        row = lay_out(_maker(truth, digits, height, "pen", rng, pen_px=pen), len(truth), height, "gap", rng)
        if row.mask.shape[1] <= width - 8 and row.mask.shape[0] <= canvas_h - 8:
            break
        height = round(height * 0.9)
    return canvas_png(place_on_canvas(row.mask, canvas_h, width, rng), rng, ink=(0, 0, 0)), row.indices, f"pen {pen}"


def _paper_photo(rng: np.random.Generator, digits: SourceDigits, truth: str) -> Drawn:
    height, style = int(rng.integers(70, 171)), "shape" if rng.random() < 0.7 else "pen"
    row = lay_out(_maker(truth, digits, height, style, rng), len(truth), height, "gap", rng)
    return _photo(on_canvas(row.mask, rng, (0.1, 0.3), (1.0, 1.5)), rng, (0.6, 1.6)), row.indices, style


DARK_GROUNDS = ((14, 14, 18), (38, 62, 48), (22, 30, 62), (50, 54, 60))  # black, chalkboard, navy, slate
LIGHT_INKS = ((245, 245, 240), (236, 232, 190), (200, 225, 250), (255, 255, 255))  # white, chalk, light blue


def _dark_background(rng: np.random.Generator, digits: SourceDigits, truth: str) -> Drawn:
    height, style = int(rng.integers(80, 201)), _style(rng)
    row = lay_out(_maker(truth, digits, height, style, rng), len(truth), height, "gap", rng)
    canvas = on_canvas(row.mask, rng, (0.3, 0.7), (1.2, 3.0))
    ground = np.clip(np.add(DARK_GROUNDS[int(rng.integers(len(DARK_GROUNDS)))], rng.integers(-10, 11, 3)), 0, 255)
    ink = LIGHT_INKS[int(rng.integers(len(LIGHT_INKS)))]
    img = add_noise(compose(canvas, ground, ink), rng.uniform(1, 6), rng)
    if rng.random() < 0.3:
        img = np.asarray(Image.fromarray(img, "RGB").convert("L"))
    out = Image.fromarray(img)
    if rng.random() < 0.5:
        return encode(out, "PNG"), row.indices, style
    return encode(out, "JPEG", quality=int(rng.integers(75, 95))), row.indices, style


def _tiny_in_big_image(rng: np.random.Generator, digits: SourceDigits, truth: str) -> Drawn:
    size_w, size_h = (2000, 1500) if rng.random() < 0.7 else (1500, 2000)
    # The number 60-120 px wide whatever its length: a digit is ~0.7 of its height wide, a gap ~0.27.
    count = len(truth)
    height = int(np.clip(round(rng.uniform(60, 120) / (0.7 * count + 0.27 * (count - 1))), 18, 44))
    row = lay_out(_maker(truth, digits, height, "shape", rng), len(truth), height, "gap", rng)
    h, w = row.mask.shape
    top, left = int(rng.integers(20, size_h - h - 20)), int(rng.integers(20, size_w - w - 20))
    page = np.zeros((size_h, size_w), dtype=np.float32)
    page[top : top + h, left : left + w] = row.mask
    return _photo(page, rng, (0.3, 0.8)), row.indices, f"{w} px wide"


@lru_cache(maxsize=1)
def typed_fonts() -> tuple[str, ...]:
    """Installed fonts that draw every digit and are none of the training fonts."""
    return tuple(p for p in font_paths() if not is_training_font(p) and has_digits(p))


def _typed(rng: np.random.Generator, digits: SourceDigits, truth: str) -> Drawn:
    fonts = typed_fonts()
    path = fonts[int(rng.integers(len(fonts)))]
    font = load_font(path, int(rng.integers(36, 121)))
    left, top, right, bottom = font.getbbox(truth)
    pad = (bottom - top) // 2
    img = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(img).text((pad - left, pad - top), truth, font=font, fill=255)
    if rng.random() < 0.5:
        img = img.rotate(rng.uniform(-4, 4), resample=BICUBIC, expand=True)
    canvas = on_canvas(tight(np.asarray(img, dtype=np.float32) / 255.0), rng, (0.25, 0.7), (1.0, 3.0))
    if rng.random() < 0.5:
        out = Image.fromarray(compose(canvas, int(rng.integers(235, 256)), int(rng.integers(0, 50))), "L")
    else:
        ink, paper = ink_on_paper(rng)
        out = Image.fromarray(compose(canvas, paper, ink), "RGB")
    data = encode(out, "PNG") if rng.random() < 0.5 else encode(out, "JPEG", quality=int(rng.integers(75, 95)))
    return data, (), Path(path).stem


RENDERERS: dict[str, Callable[[np.random.Generator, SourceDigits, str], Drawn]] = {
    "separated": _separated,
    "touching": _touching,
    "overlapping": _overlapping,
    "canvas": canvas_number,
    "paper_photo": _paper_photo,
    "dark_background": _dark_background,
    "tiny_in_big_image": _tiny_in_big_image,
    "typed": _typed,
}


def digit_string(rng: np.random.Generator, lo: int, hi: int) -> str:
    """lo..hi random digits; leading zeros allowed and kept."""
    return "".join(str(int(d)) for d in rng.integers(0, 10, size=int(rng.integers(lo, hi + 1))))


def render(kind: str, rng: np.random.Generator, digits: SourceDigits) -> NumberSample:
    """One number of `kind`, its digits drawn from the MNIST *test* digits given (never the training ones)."""
    if kind not in RENDERERS:
        raise KeyError(f"{kind!r} is not a kind; choose from {KINDS}")
    for _ in range(100):
        truth = digit_string(rng, *DIGIT_COUNTS[kind])
        try:
            data, indices, family = RENDERERS[kind](rng, digits, truth)
        except NoRoom:  # an "11" of upright test digits cannot overlap without touching: another number
            continue
        return NumberSample(data, truth, kind, indices, family)
    raise RuntimeError(f"no {kind} number can be drawn from these digits")


def build_suite(
    test_images: np.ndarray,
    test_labels: np.ndarray,
    *,
    per_kind: int = 200,
    seed: int = SEED,
    kinds: Sequence[str] = KINDS,
) -> list[NumberSample]:
    """`per_kind` numbers of each kind; each kind has its own stream, so a kind's numbers are the same whichever
    others are built with it."""
    digits = SourceDigits(np.asarray(test_images, dtype=np.uint8), np.asarray(test_labels))
    out: list[NumberSample] = []
    for kind in kinds:
        if kind not in KINDS:
            raise KeyError(f"{kind!r} is not a kind; choose from {KINDS}")
        rng = np.random.default_rng([seed, KINDS.index(kind)])
        out.extend(render(kind, rng, digits) for _ in range(per_kind))
    return out


def latency_files(
    test_images: np.ndarray, test_labels: np.ndarray, count: int = 10, seed: int = SEED
) -> tuple[list[bytes], list[bytes]]:
    """`count` 4-digit Number-page canvases (840x280) and `count` one-digit canvases of the same height."""
    digits = SourceDigits(np.asarray(test_images, dtype=np.uint8), np.asarray(test_labels))
    rng = np.random.default_rng([seed, len(KINDS)])
    numbers = [canvas_number(rng, digits, digit_string(rng, LATENCY_DIGITS, LATENCY_DIGITS))[0] for _ in range(count)]
    height = NUMBER_CANVAS[1]
    singles = [canvas_number(rng, digits, digit_string(rng, 1, 1), width=height)[0] for _ in range(count)]
    return numbers, singles


# ---------------------------------------------------------------- the report


def _digit_right(digit: Any, truth: str) -> bool:
    return not getattr(digit, "refused", False) and digit.digit == int(truth)


def _figures(samples: Sequence[NumberSample], readings: Sequence[Reading], seconds: Sequence[float]) -> dict:
    count, pairs = len(samples), list(zip(samples, readings, strict=True))
    whole = sum(r.number == s.truth for s, r in pairs)
    counted = [(s, r) for s, r in pairs if len(r.digits) == len(s.truth)]
    scored = sum(len(s.truth) for s, _ in counted)
    right = sum(_digit_right(d, t) for s, r in counted for d, t in zip(r.digits, s.truth, strict=True))
    wrong = [{"truth": s.truth, "read": r.number} for s, r in pairs if r.number != s.truth]
    return {
        "count": count,
        "whole_number": whole / max(count, 1),
        "count_right": len(counted) / max(count, 1),
        "digit_accuracy": right / scored if scored else None,
        "digits_scored": scored,
        "no_number": sum(r.number is None for r in readings) / max(count, 1),
        "no_digit": sum(bool(getattr(r, "no_digit", False)) for r in readings),
        "not_a_number": sum(bool(getattr(r, "not_a_number", False)) for r in readings),
        "numbers_per_second": count / sum(seconds) if sum(seconds) > 0 else None,
        "wrong_examples": wrong[:8],
    }


def evaluate(read: Reader, samples: Sequence[NumberSample]) -> dict:
    """Per kind and overall: whole-number and digit accuracy, right counts, no-number share, numbers/s.

    `read` takes one encoded file; it is timed one number at a time, as a request reads it."""
    readings, seconds = [], []
    for sample in samples:
        started = time.perf_counter()
        readings.append(read(sample.data))
        seconds.append(time.perf_counter() - started)
    per_kind = {}
    for kind in dict.fromkeys(s.kind for s in samples):
        at = [i for i, s in enumerate(samples) if s.kind == kind]
        per_kind[kind] = _figures([samples[i] for i in at], [readings[i] for i in at], [seconds[i] for i in at])
    by_length = {}
    for length in sorted({len(s.truth) for s in samples}):
        at = [i for i, s in enumerate(samples) if len(s.truth) == length]
        by_length[str(length)] = sum(readings[i].number == samples[i].truth for i in at) / len(at)
    return {
        "per_kind": per_kind,
        "overall": _figures(samples, readings, seconds),
        "whole_number_by_length": by_length,
    }


def _p50_ms(call: Callable[[bytes], Any], files: list[bytes], repeats: int) -> float:
    times = []
    for i in range(repeats + 5):
        started = time.perf_counter()
        call(files[i % len(files)])
        if i >= 5:  # the first calls warm caches and allocators
            times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def latency_ratio(
    read: Reader,
    predict: Callable[[bytes], Any],
    number_files: list[bytes],
    digit_files: list[bytes],
    rounds: int = 5,
    repeats: int = 60,
) -> dict:
    """p50 of reading a 4-digit canvas number over p50 of predicting one digit on a canvas as tall (decode
    included, one thread), in alternating rounds in one process, so the machine's speed cancels out."""
    ours, theirs = alternating_rounds(
        lambda: _p50_ms(read, number_files, repeats), lambda: _p50_ms(predict, digit_files, repeats), rounds
    )
    return {
        "number_p50_ms": ours,
        "digit_p50_ms": theirs,
        "ratio": ours / theirs,
        "rounds": rounds,
        "repeats_per_round": repeats,
        "files": f"{len(number_files)} {LATENCY_DIGITS}-digit 840x280 canvases, {len(digit_files)} 280x280 one-digit",
    }


@dataclass(frozen=True)
class Setup:
    test_images: np.ndarray
    test_labels: np.ndarray
    read: Reader
    predict: Callable[[bytes], Any]
    model_version: str
    backend: str


def load(checkpoint: Path | None) -> Setup:
    """MNIST test digits, the shipped (or given) model with one thread, and the number reader around it."""
    from ml.checkpoint import SHIPPED_CHECKPOINT
    from ml.data import load_mnist
    from ml.numbers import read_number
    from ml.predictor import Predictor

    splits = load_mnist()
    predictor = Predictor.from_checkpoint(checkpoint or SHIPPED_CHECKPOINT, threads=1)
    return Setup(
        splits.test_images,
        splits.test_labels,
        lambda data: read_number(predictor, data),
        predictor.predict,
        predictor.version,
        predictor.backend.name,
    )


def meets(report: dict) -> dict:
    """Each target met or not; None where its kind (or the latency) was not measured."""
    per_kind, latency = report["per_kind"], report.get("latency")

    def whole(kind: str) -> bool | None:
        return per_kind[kind]["whole_number"] >= TARGETS[f"whole_number_{kind}"] if kind in per_kind else None

    return {
        "whole_number_separated": whole("separated"),
        "whole_number_touching": whole("touching"),
        "latency_ratio": None if latency is None else latency["ratio"] < TARGETS["latency_ratio_below"],
    }


def run(args: argparse.Namespace) -> dict:
    setup = load(args.checkpoint)
    started = time.perf_counter()
    kinds = args.kinds or KINDS
    samples = build_suite(setup.test_images, setup.test_labels, per_kind=args.per_kind, seed=args.seed, kinds=kinds)
    built_s = time.perf_counter() - started
    report: dict = {
        "date": dt.date.today().isoformat(),
        "model_version": setup.model_version,
        "backend": setup.backend,
        "seed": args.seed,
        "numbers_per_kind": args.per_kind,
        "digits_per_kind": {kind: list(DIGIT_COUNTS[kind]) for kind in kinds},
        "source": "MNIST test digits only (typed: installed fonts outside the training fonts)",
        "suite_seconds": built_s,
        "targets": TARGETS,
    }
    report.update(evaluate(setup.read, samples))
    if args.rounds:
        numbers, singles = latency_files(setup.test_images, setup.test_labels, seed=args.seed)
        report["latency"] = latency_ratio(setup.read, setup.predict, numbers, singles, args.rounds, args.repeats)
    report["meets_targets"] = meets(report)
    return report


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def print_report(report: dict) -> None:
    head = f"{'kind':18s} {'n':>5s} {'whole':>8s} {'count ok':>9s} {'digits':>8s} {'no number':>10s} {'numbers/s':>10s}"
    print(head)
    for kind, row in [*report["per_kind"].items(), ("overall", report["overall"])]:
        speed = "-" if row["numbers_per_second"] is None else f"{row['numbers_per_second']:.1f}"
        print(
            f"{kind:18s} {row['count']:5d} {_percent(row['whole_number']):>8s} {_percent(row['count_right']):>9s} "
            f"{_percent(row['digit_accuracy']):>8s} {_percent(row['no_number']):>10s} {speed:>10s}"
        )
    lengths = ", ".join(f"{n}: {_percent(v)}" for n, v in report["whole_number_by_length"].items())
    print(f"whole-number accuracy by digit count: {lengths}")
    if "latency" in report:
        lat = report["latency"]
        print(
            f"latency p50 (one thread, decode included): {LATENCY_DIGITS}-digit canvas {lat['number_p50_ms']:.2f} ms, "
            f"one digit {lat['digit_p50_ms']:.2f} ms: ratio {lat['ratio']:.2f} (target < "
            f"{TARGETS['latency_ratio_below']:g})"
        )
    print(f"meets targets: {report['meets_targets']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-kind", type=int, default=200, help="numbers per kind")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, help="only these kinds (default: all)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--json", type=Path, help="also write the report here (bench/results/numbers.json)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating latency rounds (0: no latency)")
    parser.add_argument("--repeats", type=int, default=60, help="reads per latency round")
    args = parser.parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
