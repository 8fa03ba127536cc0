"""Synthetic "not a digit" training inputs (letters, scribbles, shapes, digit pairs, fragments, cut ink)."""

from __future__ import annotations

import glob
import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ml.preprocess import preprocess

KINDS: tuple[str, ...] = ("letters", "scribbles", "shapes", "several_digits", "fragments", "faint_or_cut")

# ---------------------------------------------------------------- fonts: the one place the split is decided

FONT_GLOBS = ("/usr/share/fonts/**/*.ttf", "/usr/share/fonts/**/*.otf")
# Training letters come from these families only (a file's family is its stem before the first "-", so
# "DejaVuSansCondensed-Bold.ttf" is "DejaVuSansCondensed"). Everything else on the machine (Mono, Serif,
# Serif Condensed, MathTeXGyre, any other font installed later) is left to the benchmark, which takes the
# complement with ``is_training_font`` so a model is never scored on letter shapes it was trained to reject.
TRAINING_FONT_FAMILIES: tuple[str, ...] = ("DejaVuSans", "DejaVuSansCondensed")

# Letters whose glyphs ARE digits, or nearly, in a font or in handwriting: rejecting them would teach the
# model to reject real digits. O o Q -> 0; I l i -> 1; Z z -> 2; S s -> 5; b -> 6; B -> 8; g q -> 9.
DIGIT_LIKE_LETTERS = frozenset("OoQIliZzSsbBgq")
LETTERS: str = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in DIGIT_LIKE_LETTERS)


def font_family(path: str | Path) -> str:
    return Path(path).stem.split("-")[0]


def is_training_font(path: str | Path) -> bool:
    """Whether letters in this font file are training negatives (the benchmark uses the others)."""
    return font_family(path) in TRAINING_FONT_FAMILIES


def training_font_paths() -> tuple[str, ...]:
    found = {p for pattern in FONT_GLOBS for p in glob.glob(pattern, recursive=True)}
    return tuple(sorted(p for p in found if is_training_font(p)))


@lru_cache(maxsize=512)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


# ---------------------------------------------------------------- generator parameters (the benchmark picks others)

CANVAS_SIDES = (160, 300)  # a drawing canvas or a cropped photo, in pixels
FILL = (0.45, 0.85)  # the ink's longer side as a share of the canvas side
STROKE_FRACTION = (0.025, 0.09)  # pen width as a share of the ink's longer side
INK_LEVELS = (0, 90)  # dark ink grey level ...
PAPER_LEVELS = (215, 255)  # ... on light paper
ROTATION_DEG = (-25.0, 25.0)
SHEAR = (-0.35, 0.35)
ASPECT = (0.7, 1.4)  # width / height stretch of a stroke drawing
JITTER = 0.02  # hand tremor: each stroke point moves this much (unit box)
LETTER_SIZES = (0.3, 0.8)  # font size as a share of the canvas side
SCRIBBLE_STROKES = (1, 3)
SCRIBBLE_POINTS = (5, 11)  # spline control points per stroke
ZIGZAG_TEETH = (3, 8)
LOOP_TURNS = (3, 7)  # cursive "eeee" loops
SEVERAL_DIGITS = (2, 3)
DIGIT_GAP = (-0.2, 0.3)  # between neighbouring digits, as a share of digit height (negative: overlap)
DIGIT_SCALE = (0.8, 1.25)
DIGIT_SHIFT = 0.15  # vertical misalignment, share of height
FRAGMENT_SHARE = (0.3, 0.45)  # of a digit's ink kept by a fragment
CUT_SHARE = (0.12, 0.4)  # of a digit's ink left inside the image by a border cut: not readable as that digit
FAINT_CONTRAST = (0.08, 0.3)  # ink-to-paper contrast of the faint half of the cut samples (preprocess refuses < 0.1)
FAINT_NOISE = (0.0, 6.0)  # paper noise sigma, grey levels
# A negative "reads as a 1" when it lies as close to the MNIST training 1s as most real 1s do: its distance to
# the nearest of them (pixels in [0, 1]) is below this percentile of the held-in 1s' nearest-neighbour
# distances. Such samples are dropped: rejecting them would teach the model to reject real 1s. Bent thin
# strokes (a check mark, a bracket, a zig-zag, the side of a 0) stay: they are not where 1s are.
ONE_LIKE_PERCENTILE = 95.0
ONE_REFERENCE = 3000  # training 1s searched ...
ONE_HELD = 500  # ... and the 1s (others) the percentile is measured on

SEVERAL_MIN_ASPECT = 1.2  # several digits must come out at least this much wider than tall

# The side of a digit a cut or fragment may KEEP, per label. 1s are never used (any piece of a 1 is a 1);
# a kept part that is a whole loop (bottom of 6 or 8, top of 8 or 9) would read as 0, the top or right of
# a 7 as a 7, the left of a 2 as a 2 and of a 4 as a 4 (looked at on a grid of samples): those are left out.
KEEP_SIDES: dict[int, tuple[str, ...]] = {
    0: ("top", "bottom", "left", "right"),
    2: ("top", "bottom"),
    3: ("top", "bottom", "left"),
    4: ("top", "right"),
    5: ("top", "left", "right"),
    6: ("top", "left", "right"),
    7: ("left",),
    8: ("left", "right"),
    9: ("bottom", "left", "right"),
}

Stroke = np.ndarray  # (K, 2) points, x right and y down
Rng = np.random.Generator


# ---------------------------------------------------------------- config and result


@dataclass(frozen=True)
class NegativesConfig:
    """How many negatives of each kind to make, and from which seed. ``fonts=None`` finds the training fonts;
    ``()`` forces stroke-drawn letters."""

    letters: int = 1000
    scribbles: int = 1000
    shapes: int = 1000
    several_digits: int = 1000
    fragments: int = 1000
    faint_or_cut: int = 1000
    seed: int = 13_013
    max_attempts_factor: float = 3.0  # per kind, tries up to this many times its count before giving up
    fonts: tuple[str, ...] | None = None

    @classmethod
    def each(cls, count: int, **others) -> NegativesConfig:
        """``count`` negatives of every kind."""
        return cls(**dict.fromkeys(KINDS, count), **others)

    def counts(self) -> dict[str, int]:
        return {kind: int(getattr(self, kind)) for kind in KINDS}


@dataclass(frozen=True)
class NegativeSet:
    """``images``: float32 (N, 28, 28) in [0, 1], ink high, exactly what preprocess gives the model;
    ``kinds``: each sample's kind; ``dropped``: per kind, per reason, samples refused on the way."""

    images: np.ndarray
    kinds: np.ndarray
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    letters_from_fonts: bool = True
    fonts: tuple[str, ...] = ()

    def of_kind(self, kind: str) -> np.ndarray:
        return self.images[self.kinds == kind]


# ---------------------------------------------------------------- drawing helpers


def _uniform(rng: Rng, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _affine(strokes: list[Stroke], rng: Rng, rotation: tuple[float, float] = ROTATION_DEG) -> list[Stroke]:
    """A random rotation, slant and stretch of a drawing, plus tremor."""
    a = np.deg2rad(_uniform(rng, rotation))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    shear = np.array([[1.0, _uniform(rng, SHEAR)], [0.0, 1.0]])
    stretch = np.diag([_uniform(rng, ASPECT), 1.0])
    m = rot @ shear @ stretch
    return [s @ m.T + rng.normal(0, JITTER, s.shape) for s in strokes]


def _paper_image(ink: np.ndarray, rng: Rng, contrast: float = 1.0, noise: float = 0.0) -> Image.Image:
    """Ink coverage (H, W) in [0, 1] -> dark ink on light paper, an "L" picture as a person would send."""
    paper = _uniform(rng, PAPER_LEVELS)
    dark = _uniform(rng, INK_LEVELS)
    level = paper - contrast * (paper - dark)
    out = paper + (level - paper) * ink
    if noise > 0:
        out = out + rng.normal(0, noise, out.shape)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), mode="L")


def _draw_strokes(strokes: list[Stroke], rng: Rng) -> Image.Image:
    """Unit-box strokes -> a canvas picture: fitted, placed off-centre a little, drawn with a round pen."""
    side = int(rng.integers(*CANVAS_SIDES, endpoint=True))
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = max(float((hi - lo).max()), 1e-6)
    extent = _uniform(rng, FILL) * side
    width = max(2, round(_uniform(rng, STROKE_FRACTION) * extent))
    scale = extent / span
    room = side - (hi - lo) * scale
    offset = np.array([rng.uniform(0.2, 0.8) * room[0], rng.uniform(0.2, 0.8) * room[1]])
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    r = width / 2
    for stroke in strokes:
        xy = [tuple(p) for p in ((stroke - lo) * scale + offset)]
        draw.line(xy, fill=255, width=width, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen tips
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return _paper_image(np.asarray(canvas, dtype=np.float32) / 255.0, rng)


def _spline(points: np.ndarray, per_segment: int = 10) -> Stroke:
    """Catmull-Rom curve through ``points``."""
    p = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    out.append(points[-1:])
    return np.vstack(out)


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, turn: float = 2 * np.pi) -> Stroke:
    t = np.linspace(start, start + turn, max(8, int(24 * turn / (2 * np.pi))))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _lines(*polylines: Sequence[tuple[float, float]]) -> list[Stroke]:
    return [np.asarray(p, dtype=np.float64) for p in polylines]


# ---------------------------------------------------------------- letters

# Stroke-drawn capitals for machines without fonts (unit box); none of them is a digit shape.
STROKE_LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(1, 0), (0, 0.55), (1, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "L": [[(0, 0), (0, 1), (0.8, 1)]],
    "R": [[(0, 1), (0, 0), (0.7, 0), (0.9, 0.2), (0.7, 0.45), (0, 0.45)], [(0.35, 0.45), (1, 1)]],
    "P": [[(0, 1), (0, 0), (0.7, 0), (0.95, 0.22), (0.7, 0.45), (0, 0.45)]],
    "C": [[(1, 0.15), (0.6, 0), (0.15, 0.15), (0, 0.5), (0.15, 0.85), (0.6, 1), (1, 0.85)]],
    "U": [[(0, 0), (0, 0.75), (0.3, 1), (0.7, 1), (1, 0.75), (1, 0)]],
}


def _glyph_from_font(fonts: tuple[str, ...], rng: Rng, chars: str = LETTERS) -> Image.Image:
    side = int(rng.integers(*CANVAS_SIDES, endpoint=True))
    font = _font(fonts[int(rng.integers(len(fonts)))], round(_uniform(rng, LETTER_SIZES) * side))
    ch = chars[int(rng.integers(len(chars)))]
    big = 3 * side // 2  # room for the glyph to rotate and slant before it is cut to the canvas
    canvas = Image.new("L", (big, big), 0)
    ImageDraw.Draw(canvas).text((big / 2, big / 2), ch, font=font, fill=255, anchor="mm")
    a = np.deg2rad(_uniform(rng, ROTATION_DEG))
    k = _uniform(rng, SHEAR)
    # Inverse map (output -> input) of rotate-then-slant about the centre, as Image.transform wants.
    m = np.linalg.inv(np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array([[1, k], [0, 1]]))
    c = np.array([big / 2, big / 2])
    shift = c - m @ (c + rng.uniform(-0.15, 0.15, 2) * side)
    canvas = canvas.transform(
        (big, big), Image.Transform.AFFINE, (m[0, 0], m[0, 1], shift[0], m[1, 0], m[1, 1], shift[1]), Image.BILINEAR
    )
    lo = (big - side) // 2
    canvas = canvas.crop((lo, lo, lo + side, lo + side))
    return _paper_image(np.asarray(canvas, dtype=np.float32) / 255.0, rng)


def _letter_from_strokes(rng: Rng) -> Image.Image:
    ch = sorted(STROKE_LETTERS)[int(rng.integers(len(STROKE_LETTERS)))]
    return _draw_strokes(_affine(_lines(*STROKE_LETTERS[ch]), rng), rng)


# ---------------------------------------------------------------- scribbles


def _scribble(rng: Rng) -> Image.Image:
    style = int(rng.integers(5))
    strokes: list[Stroke] = []
    if style == 0:  # free pen paths
        for _ in range(int(rng.integers(*SCRIBBLE_STROKES, endpoint=True))):
            n = int(rng.integers(*SCRIBBLE_POINTS, endpoint=True))
            strokes.append(_spline(rng.uniform(0, 1, (n, 2))))
    elif style == 1:  # zig-zag, sharp or rounded
        teeth = int(rng.integers(*ZIGZAG_TEETH, endpoint=True))
        x = np.linspace(0, 1, 2 * teeth + 1)
        y = np.where(np.arange(x.size) % 2 == 0, 0.0, rng.uniform(0.3, 1.0)) + rng.normal(0, 0.05, x.size)
        pts = np.stack([x, y], axis=1)
        pts = pts[:, ::-1] if rng.random() < 0.5 else pts  # a vertical zig-zag
        strokes.append(_spline(pts, 6) if rng.random() < 0.4 else pts)
    elif style == 2:  # cursive loops, like "eeee" or a coil
        turns = _uniform(rng, LOOP_TURNS)
        t = np.linspace(0, 2 * np.pi * turns, int(40 * turns))
        r = rng.uniform(0.15, 0.35)
        pts = np.stack([t / t[-1] + r * 0.6 * np.cos(t + np.pi), r * np.sin(t + np.pi)], axis=1)
        strokes.append(pts)
    elif style == 3:  # a spiral, from the centre out
        turns = _uniform(rng, (1.5, 4.0))
        t = np.linspace(0, 2 * np.pi * turns, int(50 * turns))
        r = t / t[-1]
        strokes.append(np.stack([r * np.cos(t), r * np.sin(t) * rng.uniform(0.6, 1.0)], axis=1))
    else:  # hatching: parallel strokes, sometimes crossed, as when shading or crossing something out
        for angle in [rng.uniform(0.3, 1.2)] + ([rng.uniform(1.9, 2.8)] if rng.random() < 0.5 else []):
            along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
            for k in range(int(rng.integers(4, 10))):
                centre = across * (k - 4) * 0.2
                strokes.append(np.stack([centre - along * 0.8, centre + along * 0.8]))
    rotation = (-180.0, 180.0) if style in (0, 3) else ROTATION_DEG
    return _draw_strokes(_affine(strokes, rng, rotation), rng)


# ---------------------------------------------------------------- shapes and symbols


def _star(points: int, inner: float) -> list[Stroke]:
    a = np.linspace(-np.pi / 2, 1.5 * np.pi, 2 * points + 1)
    r = np.where(np.arange(a.size) % 2 == 0, 0.5, 0.5 * inner)
    return [np.stack([0.5 + r * np.cos(a), 0.5 + r * np.sin(a)], axis=1)]


def _heart() -> list[Stroke]:
    t = np.linspace(0, 2 * np.pi, 60)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([x, y], axis=1) / 32]


SHAPES: dict[str, Callable[[], list[Stroke]]] = {
    "square": lambda: _lines([(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]),
    "triangle": lambda: _lines([(0.5, 0), (1, 1), (0, 1), (0.5, 0)]),
    "diamond": lambda: _lines([(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5), (0.5, 0)]),
    "star": lambda: _star(5, 0.42),
    "pentagram": lambda: [_star(5, 1.0)[0][[0, 4, 8, 2, 6, 0]]],
    "cross": lambda: _lines([(0, 0), (1, 1)], [(1, 0), (0, 1)]),
    "plus": lambda: _lines([(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]),
    "arrow": lambda: _lines([(0, 0.5), (1, 0.5)], [(0.7, 0.25), (1, 0.5), (0.7, 0.75)]),
    "heart": _heart,
    "hash": lambda: _lines(
        [(0.35, 0), (0.25, 1)], [(0.75, 0), (0.65, 1)], [(0, 0.33), (1, 0.33)], [(0, 0.67), (1, 0.67)]
    ),
    "percent": lambda: [
        _lines([(0.9, 0), (0.1, 1)])[0],
        _ellipse(0.2, 0.18, 0.15, 0.17),
        _ellipse(0.8, 0.82, 0.15, 0.17),
    ],
    "equals": lambda: _lines([(0, 0.3), (1, 0.3)], [(0, 0.7), (1, 0.7)]),
    "asterisk": lambda: _lines([(0.5, 0), (0.5, 1)], [(0.07, 0.25), (0.93, 0.75)], [(0.93, 0.25), (0.07, 0.75)]),
    "ampersand": lambda: [
        _spline(
            np.array(
                [
                    (0.9, 1),
                    (0.25, 0.4),
                    (0.3, 0.05),
                    (0.55, 0.08),
                    (0.5, 0.35),
                    (0.1, 0.7),
                    (0.3, 1.0),
                    (0.65, 0.85),
                    (0.9, 0.5),
                ]
            )
        )
    ],
    "at": lambda: [_ellipse(0.5, 0.5, 0.18, 0.2), _ellipse(0.5, 0.5, 0.48, 0.48, 0.0, 1.85 * np.pi)],
    "check": lambda: _lines([(0, 0.6), (0.3, 1), (1, 0)]),
    "house": lambda: _lines([(0, 1), (0, 0.4), (0.5, 0), (1, 0.4), (1, 1), (0, 1)]),
    "lightning": lambda: _lines([(0.6, 0), (0.2, 0.55), (0.6, 0.5), (0.3, 1)]),
    # A face and a target: a ring with marks inside is not a 0 (a bare ring would be, so none is drawn).
    "face": lambda: [
        _ellipse(0.5, 0.5, 0.5, 0.5),
        _ellipse(0.33, 0.35, 0.04, 0.05),
        _ellipse(0.67, 0.35, 0.04, 0.05),
        _ellipse(0.5, 0.55, 0.25, 0.2, 0.15 * np.pi, 0.7 * np.pi),
    ],
    "target": lambda: [_ellipse(0.5, 0.5, 0.5, 0.5), _ellipse(0.5, 0.5, 0.28, 0.28), _ellipse(0.5, 0.5, 0.06, 0.06)],
    "crossed_ring": lambda: [
        _ellipse(0.5, 0.5, 0.5, 0.5),
        *_lines([(0.15, 0.15), (0.85, 0.85)], [(0.85, 0.15), (0.15, 0.85)]),
    ],
    "infinity": lambda: [
        np.stack([0.5 + 0.5 * np.cos(t), 0.5 + 0.22 * np.sin(2 * t)], axis=1) for t in [np.linspace(0, 2 * np.pi, 80)]
    ],
    "wave": lambda: [
        np.stack([t / (4 * np.pi), 0.5 + 0.2 * np.sin(t)], axis=1) for t in [np.linspace(0, 4 * np.pi, 80)]
    ],
    "bracket": lambda: [_ellipse(0.9, 0.5, 0.6, 0.55, 0.62 * np.pi, 0.76 * np.pi)],
    "brace": lambda: _lines([(0.8, 0), (0.5, 0.05), (0.5, 0.45), (0.2, 0.5), (0.5, 0.55), (0.5, 0.95), (0.8, 1)]),
    "square_bracket": lambda: _lines([(0.7, 0), (0.3, 0), (0.3, 1), (0.7, 1)]),
}
# Typed symbols (in the training fonts) make this share of the shapes. Those that pass for a digit in some font
# or hand are left out: | and / (1), S-like $ (5), o-like degree and ° (0).
SYMBOLS = "?!§~()[]{}&@%€£¶#+=<>*^\\÷×±√∞µ←→↑↓♥♦♣♠★☆✓✗"
SYMBOL_SHARE = 0.35
ROTATING_SHAPES = frozenset(
    {"arrow", "star", "cross", "check", "lightning", "infinity", "wave", "bracket", "brace"}
)  # any orientation stays not-a-digit


def _shape(rng: Rng, fonts: tuple[str, ...] = ()) -> Image.Image:
    if fonts and rng.random() < SYMBOL_SHARE:
        return _glyph_from_font(fonts, rng, SYMBOLS)
    name = sorted(SHAPES)[int(rng.integers(len(SHAPES)))]
    rotation = (-180.0, 180.0) if name in ROTATING_SHAPES else ROTATION_DEG
    return _draw_strokes(_affine(SHAPES[name](), rng, rotation), rng)


# ---------------------------------------------------------------- MNIST-based kinds


def _crop_ink(digit: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(digit.max(axis=1) > 0.05), np.flatnonzero(digit.max(axis=0) > 0.05)
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _resized(ink: np.ndarray, h: int, w: int) -> np.ndarray:
    img = Image.fromarray(ink.astype(np.float32), mode="F").resize((max(1, w), max(1, h)), Image.BILINEAR)
    return np.clip(np.asarray(img), 0, 1)


def _upscaled(ink: np.ndarray, rng: Rng, margins: tuple[bool, bool, bool, bool] = (True,) * 4, **look) -> Image.Image:
    """Small ink (28-px scale) -> a canvas-sized picture; a False margin (top, bottom, left, right) puts the
    ink against that image border, as a photo that cut the digit off."""
    side = int(rng.integers(*CANVAS_SIDES, endpoint=True))
    scale = _uniform(rng, FILL) * side / max(ink.shape)
    big = _resized(ink, round(ink.shape[0] * scale), round(ink.shape[1] * scale))
    room = [max(0, side - big.shape[0]), max(0, side - big.shape[1])]
    pads = []
    for axis, (first, second) in enumerate(((margins[0], margins[1]), (margins[2], margins[3]))):
        share = rng.uniform(0.2, 0.8) if first and second else (1.0 if first else 0.0)
        before = round(room[axis] * share) if (first or second) else 0
        pads.append((before, room[axis] - before if second else 0))
    return _paper_image(np.pad(big, pads), rng, **look)


def _several_digits(images: np.ndarray, rng: Rng) -> Image.Image:
    n = int(rng.integers(*SEVERAL_DIGITS, endpoint=True))
    parts = []
    for i in rng.integers(len(images), size=n):
        ink = _crop_ink(images[i])
        s = _uniform(rng, DIGIT_SCALE)
        parts.append(_resized(ink, round(ink.shape[0] * s * 2), round(ink.shape[1] * s * 2)))  # 2x: room to overlap
    height = max(p.shape[0] for p in parts)
    xs, x = [], 0
    for p in parts:
        xs.append(x)
        x += p.shape[1] + round(_uniform(rng, DIGIT_GAP) * height)
    ys = [round(rng.uniform(-DIGIT_SHIFT, DIGIT_SHIFT) * height) for _ in parts]
    x0, y0 = min(xs), min(ys)
    out = np.zeros(
        (
            max(y - y0 + p.shape[0] for y, p in zip(ys, parts, strict=True)),
            max(x - x0 + p.shape[1] for x, p in zip(xs, parts, strict=True)),
        ),
        dtype=np.float32,
    )
    for x, y, p in zip(xs, ys, parts, strict=True):
        window = out[y - y0 : y - y0 + p.shape[0], x - x0 : x - x0 + p.shape[1]]
        np.maximum(window, p, out=window)
    return _upscaled(out, rng)


def _keep_part(digit: np.ndarray, side: str, share: float) -> np.ndarray:
    """The part of ``digit`` on ``side`` holding ``share`` of its ink, cropped at the cut."""
    axis = 0 if side in ("top", "bottom") else 1
    profile = digit.sum(axis=1 - axis)
    if side in ("bottom", "right"):
        profile = profile[::-1]
    cut = int(np.searchsorted(np.cumsum(profile) / profile.sum(), share)) + 1
    if axis == 0:
        return digit[:cut] if side == "top" else digit[digit.shape[0] - cut :]
    return digit[:, :cut] if side == "left" else digit[:, digit.shape[1] - cut :]


def _pick_part(images: np.ndarray, labels: np.ndarray, rng: Rng, share: tuple[float, float]) -> tuple[np.ndarray, str]:
    usable = np.flatnonzero(np.isin(labels, list(KEEP_SIDES)))
    i = int(usable[int(rng.integers(len(usable)))])
    sides = KEEP_SIDES[int(labels[i])]
    side = sides[int(rng.integers(len(sides)))]
    return _keep_part(_crop_ink(images[i]), side, _uniform(rng, share)), side


def _fragment(images: np.ndarray, labels: np.ndarray, rng: Rng) -> Image.Image:
    part, _ = _pick_part(images, labels, rng, FRAGMENT_SHARE)
    return _upscaled(part, rng)


def _faint_or_cut(images: np.ndarray, labels: np.ndarray, rng: Rng) -> Image.Image:
    part, side = _pick_part(images, labels, rng, CUT_SHARE)
    # The part that was cut away lay beyond the image border on the far side from what is kept.
    margins = tuple(
        s != {"top": "bottom", "bottom": "top", "left": "right", "right": "left"}[side]
        for s in ("top", "bottom", "left", "right")
    )
    faint = rng.random() < 0.5
    contrast = _uniform(rng, FAINT_CONTRAST) if faint else 1.0
    return _upscaled(part, rng, margins, contrast=contrast, noise=_uniform(rng, FAINT_NOISE))


# ---------------------------------------------------------------- checks on the model input


def _ink_box(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of the 28x28 input's ink."""
    rows, cols = np.flatnonzero(image.max(axis=1) > 0.2), np.flatnonzero(image.max(axis=0) > 0.2)
    if rows.size == 0:
        return 0, 0
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


class OneLikeness:
    """Nearest-neighbour distance of 28x28 inputs to the MNIST training 1s, and the distance below which
    an input reads as a 1."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int):
        """``images``: (N, 28, 28) digits, uint8 or floats in [0, 1], ink high."""
        ones = images[np.asarray(labels) == 1].reshape(-1, 28 * 28).astype(np.float32)
        ones = ones / 255.0 if np.asarray(images).dtype == np.uint8 else ones
        if len(ones) == 0:
            self.reference, self.limit = ones, -1.0  # no 1s given: nothing reads as one
            return
        pick = np.random.default_rng(seed).permutation(len(ones))
        held_count = min(ONE_HELD, len(ones) // 5)  # measured on 1s the search does not hold
        held = ones[pick[:held_count]]
        self.reference = ones[pick[held_count : held_count + ONE_REFERENCE]]
        self._sq = (self.reference**2).sum(axis=1)
        self.limit = float(np.percentile(self.distance(held), ONE_LIKE_PERCENTILE)) if len(held) else -1.0

    def distance(self, inputs: np.ndarray) -> np.ndarray:
        x = np.asarray(inputs, dtype=np.float32).reshape(-1, 28 * 28)
        if len(self.reference) == 0:
            return np.full(len(x), np.inf)
        squared = (x**2).sum(axis=1)[:, None] - 2 * x @ self.reference.T + self._sq[None, :]
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))

    def reads_as_a_one(self, image: np.ndarray) -> bool:
        return bool(self.distance(image[None])[0] < self.limit)


def _refusal(kind: str, image: np.ndarray, ones: OneLikeness) -> str | None:
    """Why a preprocessed negative is not kept, or None."""
    h, w = _ink_box(image)
    if ones.reads_as_a_one(image):
        return "reads as a 1"  # where real 1s are: rejecting it would reject real 1s
    if kind == "several_digits" and w < SEVERAL_MIN_ASPECT * h:
        return "not several digits"  # preprocess kept only one of them (the others were too far away)
    return None


# ---------------------------------------------------------------- the one public entry point


Heartbeat = Callable[[str], None]  # called every HEARTBEAT_TRIES samples with what is being made


HEARTBEAT_TRIES = 50


def training_negatives(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    config: NegativesConfig | None = None,
    heartbeat: Heartbeat | None = None,
) -> NegativeSet:
    """Synthetic not-a-digit inputs for TRAINING (MNIST training digits, training fonts, this seed only),
    each drawn as a picture and put through ``ml.preprocess.preprocess``, the path real inputs take.

    ``train_images``: uint8 (N, 28, 28) MNIST training digits (ink high) and their ``train_labels``. Samples
    preprocess calls "no digit" are dropped and counted in ``dropped``, as are those that would read as
    a 1 or, for several_digits, as one digit. Deterministic for a config.
    """
    config = config or NegativesConfig()
    counts = config.counts()
    images = np.asarray(train_images, dtype=np.float32)
    images = images / 255.0 if images.max(initial=0) > 1 else images
    labels = np.asarray(train_labels)
    if any(counts[k] for k in ("several_digits", "fragments", "faint_or_cut")) and len(images) == 0:
        raise ValueError("several_digits, fragments and faint_or_cut need MNIST training digits")
    fonts = training_font_paths() if config.fonts is None else tuple(config.fonts)
    if any(not is_training_font(f) for f in fonts):
        raise ValueError("a font outside TRAINING_FONT_FAMILIES would leak into the benchmark's letters")
    if counts["letters"] and not fonts and config.fonts is None:
        warnings.warn("no training fonts installed: letters are stroke-drawn capitals", RuntimeWarning, stacklevel=2)

    makers: dict[str, Callable[[Rng], Image.Image]] = {
        "letters": (lambda rng: _glyph_from_font(fonts, rng)) if fonts else _letter_from_strokes,
        "scribbles": _scribble,
        "shapes": (lambda rng: _shape(rng, fonts)),
        "several_digits": lambda rng: _several_digits(images, rng),
        "fragments": lambda rng: _fragment(images, labels, rng),
        "faint_or_cut": lambda rng: _faint_or_cut(images, labels, rng),
    }
    ones = OneLikeness(images, labels, config.seed)
    out, kinds, dropped, attempts = [], [], {}, {}
    for index, kind in enumerate(KINDS):
        # One stream per kind: changing one kind's count leaves the other kinds' samples as they were.
        rng = np.random.default_rng([config.seed, index])
        kept, tries, refused = 0, 0, {}
        limit = int(np.ceil(counts[kind] * config.max_attempts_factor))
        while kept < counts[kind] and tries < limit:
            tries += 1
            if heartbeat is not None and tries % HEARTBEAT_TRIES == 0:
                heartbeat(f"{kind} {kept:,}/{counts[kind]:,}")
            prepared = preprocess(makers[kind](rng))
            reason = prepared.reason if prepared.no_digit else _refusal(kind, prepared.image, ones)
            if reason:
                refused[reason] = refused.get(reason, 0) + 1
                continue
            out.append(prepared.image)
            kept += 1
        kinds += [kind] * kept
        dropped[kind], attempts[kind] = refused, tries
    return NegativeSet(
        images=np.stack(out).astype(np.float32) if out else np.zeros((0, 28, 28), np.float32),
        kinds=np.array(kinds, dtype=str),
        dropped=dropped,
        attempts=attempts,
        letters_from_fonts=bool(fonts),
        fonts=fonts,
    )


# ---------------------------------------------------------------- cached, for training runs that come back often

# Bump when a generator changes what it draws: cached sets made by older code are then made again.
GENERATOR_VERSION = 4
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "negatives"


def _cache_key(train_images: np.ndarray, config: NegativesConfig, fonts: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([GENERATOR_VERSION, repr(config), [Path(f).name for f in fonts]]).encode())
    digest.update(np.ascontiguousarray(train_images).tobytes())
    return digest.hexdigest()[:16]


def cached_training_negatives(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    config: NegativesConfig | None = None,
    cache_dir: Path | None = None,
    heartbeat: Heartbeat | None = None,
) -> NegativeSet:
    """``training_negatives``, kept in ``cache_dir`` by a key of everything that decides them (the digits, the
    config, the fonts, the generator's version): a retraining needs the same set every time, in no time."""
    config = config or NegativesConfig()
    fonts = training_font_paths() if config.fonts is None else tuple(config.fonts)
    path = Path(cache_dir or DEFAULT_CACHE_DIR) / f"negatives-{_cache_key(train_images, config, fonts)}.npz"
    if path.is_file():
        try:
            with np.load(path) as cached:
                return NegativeSet(images=cached["images"], kinds=cached["kinds"], fonts=fonts)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a damaged cache file is made again, never trusted
    made = training_negatives(train_images, train_labels, config, heartbeat)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, images=made.images, kinds=made.kinds)
    tmp.replace(path)
    return made


def training_negative_inputs(
    train_images: np.ndarray, train_labels: np.ndarray, per_kind: int, heartbeat: Heartbeat | None = None
) -> np.ndarray:
    """(M, 28, 28) float32 model inputs: ``per_kind`` cached training negatives of every kind (none for 0), as
    training and retraining use them; ``heartbeat`` hears from the making, the first time."""
    if per_kind <= 0:
        return np.zeros((0, 28, 28), np.float32)
    config = NegativesConfig.each(per_kind)
    return cached_training_negatives(train_images, train_labels, config, heartbeat=heartbeat).images
