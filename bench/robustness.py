"""A robustness suite: digits encoded as real people upload them, one named condition per kind of input."""

from __future__ import annotations

import argparse
import glob
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps
from scipy import ndimage

from ml.strokes import zhang_suen

FONT_GLOBS = ("/usr/share/fonts/**/*.ttf", "/usr/share/fonts/**/*.otf")
TYPED_SEED = 1_234  # fixed so typed_digits() is the same list on every call
SKLEARN_SEED = 8

Colour = tuple[int, int, int]

# Pens and papers as they look in a photo or scan; none is a pure 0/255 value.
PENS: dict[str, Colour] = {
    "black": (22, 22, 28),
    "blue": (25, 50, 160),
    "red": (190, 25, 30),
    "green": (20, 115, 45),
    "purple": (95, 35, 140),
}
PAPERS: dict[str, Colour] = {
    "white": (250, 250, 247),
    "cream": (247, 239, 213),
    "yellow": (252, 243, 165),
    "pink": (248, 212, 220),
    "light_blue": (210, 228, 248),
    "grey": (212, 212, 208),
}
CANVAS_INKS: tuple[Colour, ...] = (
    (0, 0, 0),
    (0, 0, 0),
    (255, 255, 255),
    (33, 150, 243),
    (220, 30, 40),
    (20, 150, 60),
    (64, 64, 64),
    (120, 40, 200),
)
# EXIF orientation -> the transpose that stores the upright image so that exif_transpose undoes it.
# Phones mostly write 6 and 8 (portrait shots), then 3; the mirrored ones come from selfie cameras and editors.
EXIF_STORE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
EXIF_WEIGHTS = {2: 0.05, 3: 0.2, 4: 0.05, 5: 0.05, 6: 0.3, 7: 0.05, 8: 0.3}
ORIENTATION_TAG = 0x0112
BICUBIC = Image.Resampling.BICUBIC
SHAPE_SIGMA = 0.75
BORDER_SIDES = (
    ("top",), ("bottom",), ("left",), ("right",),
    ("top", "left"), ("bottom", "right"), ("top", "right"), ("bottom", "left"), ("top", "bottom"), ("left", "right"),
)  # fmt: skip


@dataclass(frozen=True)
class Sample:
    data: bytes  # the encoded image file exactly as a person would upload it
    label: int
    condition: str
    source_index: int  # index into the MNIST test set, or -1 for typed/sklearn digits


# ---------------------------------------------------------------- small helpers


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _randint(rng: np.random.Generator, lo: int, hi: int) -> int:
    """Inclusive on both ends, like the ranges in the condition descriptions."""
    return int(rng.integers(lo, hi + 1))


def _pick(rng: np.random.Generator, options: tuple | list):
    return options[int(rng.integers(len(options)))]


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _resize_float(arr: np.ndarray, width: int, height: int, resample: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(arr.astype(np.float32), mode="F").resize((width, height), resample))


def _bbox(mask: np.ndarray, thr: float = 0.0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of mask > thr, bottom/right exclusive."""
    rows = np.flatnonzero((mask > thr).any(axis=1))
    cols = np.flatnonzero((mask > thr).any(axis=0))
    if rows.size == 0:
        raise ValueError("the digit has no ink")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def tight(mask: np.ndarray) -> np.ndarray:
    top, bottom, left, right = _bbox(mask, 0.02)
    return mask[top:bottom, left:right]


def _grow_to(mask: np.ndarray, height: int) -> np.ndarray:
    """Thresholding drops the faint rim, so rescale the tight shape to the exact height asked for."""
    mask = tight(mask)
    if mask.shape[0] == height:
        return mask
    width = max(1, round(mask.shape[1] * height / mask.shape[0]))
    return np.clip(_resize_float(mask, width, height, Image.Resampling.BILINEAR), 0.0, 1.0)


# ---------------------------------------------------------------- digit shapes


def _digit_crop(digit: np.ndarray, thr: float) -> np.ndarray:
    """The [0, 1] digit cut to its ink box with a 2 px rim, so upscaled edges are not clipped."""
    d = np.asarray(digit, dtype=np.float32) / 255.0
    top, bottom, left, right = _bbox(d, thr)
    return np.pad(d[top:bottom, left:right], 2)


def shape_mask(digit: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage in [0, 1] of the digit drawn `height` px tall with smooth, antialiased edges."""
    thr = _uniform(rng, 0.35, 0.5)  # varies the stroke weight a little
    crop = _digit_crop(digit, thr)
    # Blurring by ~3/4 source pixel rounds off the 28x28 grid's steps; rescaling to the old peak keeps thin
    # strokes above the threshold.
    smooth = ndimage.gaussian_filter(crop, SHAPE_SIGMA)
    smooth *= float(crop.max()) / max(float(smooth.max()), 1e-6)
    scale = height / (crop.shape[0] - 4)
    w, h = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
    field = _resize_float(smooth, w, h, BICUBIC)
    # The field rises by ~0.4 per source pixel at an edge; this slope makes the antialiased rim ~1.5 px wide.
    return _grow_to(np.clip((field - thr) * max(scale, 1.0) / 0.6 + 0.5, 0.0, 1.0), height)


def _skeleton(digit: np.ndarray) -> np.ndarray:
    """The digit's one-pixel centre line at ~80 px digit height: small enough to thin quickly."""
    crop = _digit_crop(digit, 0.45)
    scale = 80 / (crop.shape[0] - 4)
    w, h = round(crop.shape[1] * scale), round(crop.shape[0] * scale)
    field = _resize_float(ndimage.gaussian_filter(crop, 0.6), w, h, BICUBIC)
    return zhang_suen(field > 0.5 * float(field.max()))


def _hole_radius(skel: np.ndarray) -> float:
    """Radius of the largest circle inside the smallest loop of the centre line (inf when there is no loop)."""
    regions, count = ndimage.label(~skel)  # 4-connected, so a diagonal skeleton step still closes a loop
    outside = set(np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])))
    holes = [k for k in range(1, count + 1) if k not in outside]
    areas = ndimage.sum(np.ones_like(regions), regions, holes) if holes else []
    holes = [k for k, area in zip(holes, areas, strict=True) if area >= 4]  # thinning artefacts, not loops
    if not holes:
        return float("inf")
    return float(min(ndimage.maximum(ndimage.distance_transform_edt(~skel), regions, holes)))


def _pen_path(skel: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Smoothed node positions (y, x) of the skeleton and the edges joining 8-neighbours."""
    ys, xs = np.nonzero(skel)
    index = np.full(skel.shape, -1, dtype=np.int64)
    index[ys, xs] = np.arange(ys.size)
    # Averaging each node with its neighbours a few times turns the pixel staircase into a smooth pen path.
    grid_y, grid_x = np.indices(skel.shape)
    pos_y, pos_x = np.where(skel, grid_y, 0.0), np.where(skel, grid_x, 0.0)
    kernel = np.ones((3, 3))
    weight = np.maximum(ndimage.convolve(skel * 1.0, kernel, mode="constant"), 1)
    for _ in range(4):
        pos_y = np.where(skel, ndimage.convolve(pos_y, kernel, mode="constant") / weight, 0.0)
        pos_x = np.where(skel, ndimage.convolve(pos_x, kernel, mode="constant") / weight, 0.0)
    nodes = np.stack([pos_y[ys, xs], pos_x[ys, xs]], axis=1)
    padded = np.pad(skel, 1)
    edges: list[tuple[int, int]] = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        link = skel & padded[1 + dy : 1 + dy + skel.shape[0], 1 + dx : 1 + dx + skel.shape[1]]
        if dy and dx:
            # A diagonal link is redundant when an L-shaped path already joins the two pixels.
            link &= ~padded[1:-1, 1 + dx : 1 + dx + skel.shape[1]] & ~padded[2:, 1:-1]
        edges.extend((int(index[y, x]), int(index[y + dy, x + dx])) for y, x in zip(*np.nonzero(link), strict=True))
    return nodes, edges


def stroke_mask(digit: np.ndarray, height: int, width: float, narrow: float = 1.0) -> np.ndarray:
    """The digit redrawn as a uniform pen line about `width` px wide and `height` px tall; `narrow` < 1 draws
    its path that much narrower (condensed handwriting, the pen as wide as ever)."""
    skel = _skeleton(digit)
    nodes, edges = _pen_path(skel)
    span = max(float(np.ptp(nodes[:, 0])), 1.0)
    # A line too wide for the digit's smallest loop fills it (an 8 becomes a blob): narrow it so the loop
    # keeps ~45% of its radius open, but never below 10% of the height.
    keep = 1.1 * _hole_radius(skel)
    width = min(width, max(keep * height / (span + keep), 0.1 * height))
    scale = max(height - width, 2.0) / span
    ss = 4 if width < 4 else 2  # supersampling for the antialiased rim; thin lines need more
    pts = (nodes - nodes.min(axis=0)) * scale * np.array([1.0, narrow]) + width / 2 + 1
    size_w = int(np.ceil(pts[:, 1].max() + width / 2 + 2))
    size_h = int(np.ceil(pts[:, 0].max() + width / 2 + 2))
    canvas = Image.new("L", (size_w * ss, size_h * ss), 0)
    draw = ImageDraw.Draw(canvas)
    pts_ss, r = pts * ss, width * ss / 2
    for a, b in edges:
        draw.line([(pts_ss[a, 1], pts_ss[a, 0]), (pts_ss[b, 1], pts_ss[b, 0])], fill=255, width=max(1, round(2 * r)))
    for y, x in pts_ss:  # round joins and caps, as a canvas with lineCap="round" draws them
        draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    small = canvas.resize((size_w, size_h), Image.Resampling.BOX)
    return tight(np.asarray(small, dtype=np.float32) / 255.0)


# ---------------------------------------------------------------- placing and colouring


def place_on_canvas(mask: np.ndarray, canvas_h: int, canvas_w: int, rng: np.random.Generator) -> np.ndarray:
    """The mask pasted at a random position fully inside a canvas of the given size."""
    h, w = mask.shape
    canvas_h, canvas_w = max(canvas_h, h + 2), max(canvas_w, w + 2)
    # The mean of two uniforms favours the middle: people aim for the centre but rarely hit it.
    top = 1 + round((canvas_h - h - 2) * (rng.random() + rng.random()) / 2)
    left = 1 + round((canvas_w - w - 2) * (rng.random() + rng.random()) / 2)
    out = np.zeros((canvas_h, canvas_w), dtype=np.float32)
    out[top : top + h, left : left + w] = mask
    return out


def on_canvas(mask: np.ndarray, rng: np.random.Generator, frac: tuple[float, float], aspect: tuple[float, float]):
    """A canvas on which the digit's height is `frac` of the canvas height, width `aspect` times the height."""
    canvas_h = round(mask.shape[0] / _uniform(rng, *frac))
    canvas_w = max(round(canvas_h * _uniform(rng, *aspect)), round(mask.shape[1] * 1.15))
    return place_on_canvas(mask, canvas_h, canvas_w, rng)


def compose(mask: np.ndarray, bg, ink) -> np.ndarray:
    """Ink over background by coverage; bg/ink are scalars (grey) or RGB triples."""
    bg, ink = np.asarray(bg, dtype=np.float32), np.asarray(ink, dtype=np.float32)
    m = mask[..., None] if bg.ndim or ink.ndim else mask
    return np.clip(bg + (ink - bg) * m + 0.5, 0, 255).astype(np.uint8)


def add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(img.shape[:2], dtype=np.float32) * sigma
    if img.ndim == 3:
        noise = noise[..., None]
    return np.clip(img.astype(np.float32) + noise + 0.5, 0, 255).astype(np.uint8)


def _luminance(c) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _pen_colour(rng: np.random.Generator, name: str | None = None) -> Colour:
    """A pen colour with random saturation and lightness, as different pens and scanners give."""
    base = np.asarray(PENS[name or _pick(rng, tuple(PENS))], dtype=np.float32)
    grey = _luminance(base)
    c = grey + _uniform(rng, 0.5, 1.0) * (base - grey)
    c = c + _uniform(rng, 0.0, 0.45) * (255 - c)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def ink_on_paper(rng: np.random.Generator) -> tuple[Colour, Colour]:
    """A pen on a tinted paper; low-contrast pairs are allowed but must stay clearly visible."""
    while True:
        ink, paper = _pen_colour(rng), PAPERS[_pick(rng, tuple(PAPERS))]
        distance = float(np.linalg.norm(np.subtract(ink, paper)))
        if _luminance(paper) - _luminance(ink) >= 45 and distance >= 110:
            return ink, paper


def _paper_grey(rng: np.random.Generator) -> int:
    return _randint(rng, 215, 252)


def _ink_grey(rng: np.random.Generator) -> int:
    return _randint(rng, 10, 70)


def _to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(arr, "RGB" if arr.ndim == 3 else "L")


# ---------------------------------------------------------------- the MNIST-based conditions


def _canvas_alpha(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    size = _randint(rng, 280, 600)
    height = round(size * _uniform(rng, 0.45, 0.8))
    mask = stroke_mask(digit, height, height * _uniform(rng, 0.07, 0.14))
    alpha = place_on_canvas(mask, size, size, rng)
    ink = _pick(rng, CANVAS_INKS)
    rgb = np.empty((*alpha.shape, 3), dtype=np.uint8)
    rgb[:] = ink
    if rng.random() < 0.7:
        rgb[alpha <= 0] = 0  # browsers un-premultiply: fully transparent pixels come out as RGB 0
    rgba = np.dstack([rgb, (alpha * 255 + 0.5).astype(np.uint8)])
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


def _white_on_black(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 150, 400), rng)
    canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.3))
    img = compose(canvas, _randint(rng, 0, 40), _randint(rng, 200, 255))
    if rng.random() < 0.5:
        img = np.repeat(img[..., None], 3, axis=2)
    return encode(_to_image(img), "PNG")


def _black_on_white(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 150, 400), rng)
    canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.3))
    paper = _paper_grey(rng)
    if rng.random() < 0.5:
        img = compose(canvas, paper, _ink_grey(rng))
    else:  # paper with a faint warm or cool cast
        tint = (paper, paper - _randint(rng, 0, 8), paper - _randint(rng, 0, 16))
        img = compose(canvas, tint[:: 1 if rng.random() < 0.5 else -1], (_ink_grey(rng),) * 3)
    return encode(_to_image(img), "PNG")


def _coloured_ink_tinted_paper(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 150, 400), rng)
    canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.3))
    ink, paper = ink_on_paper(rng)
    img = compose(canvas, paper, ink)
    if rng.random() < 0.5:
        return encode(_to_image(img), "PNG")
    # Scans come out as JPEG with a little sensor noise.
    return encode(_to_image(add_noise(img, _uniform(rng, 1, 3), rng)), "JPEG", quality=_randint(rng, 75, 95))


def _jpeg_noise(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 150, 350), rng)
    canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.3))
    img = compose(canvas, _paper_grey(rng), _ink_grey(rng))
    if rng.random() < 0.5:
        img = np.repeat(img[..., None], 3, axis=2)
    img = add_noise(img, _uniform(rng, 8, 25), rng)
    return encode(_to_image(img), "JPEG", quality=_randint(rng, 20, 50))


def illumination(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Relative light falling on the page: gradient, vignette and maybe a soft shadow, built coarse then upscaled."""
    gh, gw = max(h // 16, 8), max(w // 16, 8)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    yy, xx = yy / (gh - 1) - 0.5, xx / (gw - 1) - 0.5
    angle = _uniform(rng, 0, 2 * np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    light = 1.0 - _uniform(rng, 0.2, 0.5) * (along - along.min()) / (np.ptp(along) + 1e-6)
    light *= 1.0 - _uniform(rng, 0.0, 0.3) * (xx**2 + yy**2) * 2
    if rng.random() < 0.6:  # a hand or phone shadow with a soft edge over part of the page
        edge_angle = _uniform(rng, 0, 2 * np.pi)
        across = (xx - _uniform(rng, -0.35, 0.35)) * np.cos(edge_angle) + (yy - _uniform(rng, -0.35, 0.35)) * np.sin(
            edge_angle
        )
        light *= 1.0 - _uniform(rng, 0.2, 0.4) / (1.0 + np.exp(-across / _uniform(rng, 0.02, 0.08)))
    # The darkest part of the page gets 50-70% of the light of the brightest: uneven, yet the ink stays visible.
    darkest = _uniform(rng, 0.5, 0.7)
    light = darkest + (1.0 - darkest) * (light - light.min()) / (np.ptp(light) + 1e-6)
    light *= 1.0 + _uniform(rng, 0.01, 0.03) * rng.standard_normal((gh, gw)).astype(np.float32)  # paper texture
    return _resize_float(light, w, h, BICUBIC)


def _photo_uneven_background(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    long_side = _randint(rng, 800, 1600)
    short_side = round(long_side * 0.75)
    h, w = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
    canvas = place_on_canvas(shape_mask(digit, round(h * _uniform(rng, 0.25, 0.5)), rng), h, w, rng)
    ink_ratio = _uniform(rng, 0.12, 0.35)  # pen ink reflects some light: never pure black in a photo
    value = _uniform(rng, 225, 250) * (1.0 - canvas * (1.0 - ink_ratio)) * illumination(h, w, rng)
    value += rng.standard_normal((h, w), dtype=np.float32) * _uniform(rng, 2, 5)
    grey = Image.fromarray(np.clip(value + 0.5, 0, 255).astype(np.uint8), "L")
    grey = grey.filter(ImageFilter.GaussianBlur(_uniform(rng, 0.7, 1.8)))  # focus and hand shake
    red, blue = _uniform(rng, 0.97, 1.05), _uniform(rng, 0.88, 1.03)  # white balance is never neutral
    rgb = Image.merge(
        "RGB", [grey.point(lambda v: min(255, round(v * red))), grey, grey.point(lambda v: round(v * blue))]
    )
    return encode(rgb, "JPEG", quality=_randint(rng, 70, 90))


def _tiny_in_big_canvas(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    size_h, size_w = _randint(rng, 1000, 2000), _randint(rng, 1000, 2000)
    mask = shape_mask(digit, _randint(rng, 30, 60), rng)
    h, w = mask.shape
    while True:  # anywhere but the centre, where a cropping step might get lucky
        top, left = _randint(rng, 5, size_h - h - 5), _randint(rng, 5, size_w - w - 5)
        if abs(top + h / 2 - size_h / 2) > 0.15 * size_h or abs(left + w / 2 - size_w / 2) > 0.15 * size_w:
            break
    bg, ink = (
        (_paper_grey(rng), _ink_grey(rng)) if rng.random() < 0.75 else (_randint(rng, 0, 40), _randint(rng, 200, 255))
    )
    img = Image.new("L", (size_w, size_h), bg)
    img.paste(_to_image(compose(mask, bg, ink)), (left, top))
    return encode(img, "PNG")


def _touching_border(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 120, 360), rng)
    h, w = mask.shape
    touching = _pick(rng, BORDER_SIDES)
    pads = {}
    for side in ("top", "bottom", "left", "right"):
        extent = h if side in ("top", "bottom") else w
        # A touching side loses at most a few pixels of ink; the others get an ordinary margin.
        pads[side] = -_randint(rng, 0, 3) if side in touching else round(extent * _uniform(rng, 0.05, 0.35))
    top, bottom, left, right = (pads[side] for side in ("top", "bottom", "left", "right"))
    padded = np.pad(mask, [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))])
    cut = padded[max(-top, 0) : padded.shape[0] - max(-bottom, 0), max(-left, 0) : padded.shape[1] - max(-right, 0)]
    if rng.random() < 0.7:
        img = compose(cut, _paper_grey(rng), _ink_grey(rng))
    else:
        img = compose(cut, _randint(rng, 0, 40), _randint(rng, 200, 255))
    return encode(_to_image(img), "PNG")


def _thick_marker(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    height = _randint(rng, 150, 400)
    mask = stroke_mask(digit, height, height * _uniform(rng, 0.18, 0.25))
    canvas = on_canvas(mask, rng, (0.5, 0.8), (0.8, 1.3))
    ink = _pick(rng, ((20, 20, 22), (20, 20, 22), (20, 50, 170), (200, 30, 35), (20, 120, 50)))
    img = compose(canvas, (_paper_grey(rng),) * 3, ink)
    if rng.random() < 0.6:
        return encode(_to_image(img), "PNG")
    return encode(_to_image(img), "JPEG", quality=_randint(rng, 80, 95))


def thin_pen(
    digit: np.ndarray,
    rng: np.random.Generator,
    *,
    heights: tuple[int, int] = (200, 400),
    squeeze: tuple[float, float] | None = None,
    narrow: tuple[float, float] | None = None,
) -> bytes:
    """The digit redrawn with a 1-2.2 px pen, `heights` px tall, dark on light paper, as a PNG.

    `narrow` draws the pen's path at that fraction of its width (drawn from the range): tall, condensed
    handwriting. `squeeze` instead squeezes the finished drawing, which also thins and fades its upright strokes.
    """
    height = _randint(rng, *heights)
    pen = _uniform(rng, 1.0, 2.2)
    mask = stroke_mask(digit, height, pen, narrow=1.0 if narrow is None else _uniform(rng, *narrow))
    if squeeze is not None:
        width = max(2, round(mask.shape[1] * _uniform(rng, *squeeze)))
        mask = np.clip(_resize_float(mask, width, mask.shape[0], Image.Resampling.BILINEAR), 0.0, 1.0)
    canvas = on_canvas(mask, rng, (0.45, 0.8), (0.8, 1.3))
    ink = _pick(rng, ((25, 25, 30), (30, 45, 120), (60, 60, 60)))
    return encode(_to_image(compose(canvas, (_randint(rng, 235, 255),) * 3, ink)), "PNG")


def _lowres_blurry_scan(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    height = _randint(rng, 12, 20)
    # Drawn 4x larger and box-averaged down, as a sensor integrates light over each pixel.
    canvas = on_canvas(shape_mask(digit, 4 * height, rng), rng, (0.55, 0.8), (0.8, 1.25))
    ch, cw = canvas.shape[0] // 4 * 4, canvas.shape[1] // 4 * 4
    small = canvas[:ch, :cw].reshape(ch // 4, 4, cw // 4, 4).mean(axis=(1, 3))
    small = ndimage.gaussian_filter(small, _uniform(rng, 0.4, 0.9))
    img = add_noise(compose(small, _paper_grey(rng), _ink_grey(rng)), _uniform(rng, 1, 5), rng)
    out = Image.fromarray(img, "L")
    if rng.random() < 0.75:  # the scanner driver upsamples to its nominal dpi
        factor = _uniform(rng, 2, 4)
        out = out.resize((round(out.width * factor), round(out.height * factor)), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        return encode(out, "PNG")
    return encode(out, "JPEG", quality=_randint(rng, 70, 92))


def _exif_rotated(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 150, 400), rng)
    canvas = on_canvas(mask, rng, (0.4, 0.7), (0.75, 0.75) if rng.random() < 0.5 else (1.33, 1.33))
    upright = _to_image(compose(canvas, (_paper_grey(rng),) * 3, (_ink_grey(rng),) * 3))
    orientation = int(rng.choice(list(EXIF_WEIGHTS), p=list(EXIF_WEIGHTS.values())))
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    stored = upright.transpose(EXIF_STORE[orientation])
    return encode(stored, "JPEG", quality=_randint(rng, 85, 95), exif=exif)


def _palette_mode(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 150, 400), rng)
    canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.3))
    if rng.random() < 0.5:
        ink, paper = ink_on_paper(rng)
    else:
        ink, paper = (_ink_grey(rng),) * 3, (_paper_grey(rng),) * 3
    transparent = rng.random() < 0.5
    if transparent:  # GIF-style keyed transparency: the key colour is the page the stroke was anti-aliased on
        paper = (255, 255, 255) if _luminance(ink) < 128 else (0, 0, 0)
    colours = _randint(rng, 8, 32)
    img = _to_image(compose(canvas, paper, ink)).convert("P", palette=Image.Palette.ADAPTIVE, colors=colours)
    fmt = "GIF" if rng.random() < 0.5 else "PNG"
    if transparent:
        return encode(img, fmt, transparency=int(img.getpixel((0, 0))))
    return encode(img, fmt)


def _sixteen_bit(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 150, 400), rng)
    canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.3))
    bg, ink = _uniform(rng, 50_000, 65_535), _uniform(rng, 0, 10_000)
    if rng.random() < 0.3:  # some scientific/scanner exports store ink bright
        bg, ink = _uniform(rng, 0, 8_000), _uniform(rng, 45_000, 65_535)
    return encode(Image.fromarray(np.clip(bg + (ink - bg) * canvas + 0.5, 0, 65_535).astype(np.uint16)), "PNG")


def _cmyk(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    mask = shape_mask(digit, _randint(rng, 150, 400), rng)
    canvas = on_canvas(mask, rng, (0.4, 0.8), (0.8, 1.3))
    # Print workflows put dark ink mostly in K ("rich black" adds some C/M/Y); paper is a faint tint.
    paper = (_randint(rng, 0, 8), _randint(rng, 0, 8), _randint(rng, 0, 20), _randint(rng, 0, 8))
    ink = (_randint(rng, 20, 80), _randint(rng, 10, 60), _randint(rng, 10, 60), _randint(rng, 180, 255))
    channels = compose(canvas, paper, ink)
    img = Image.frombytes("CMYK", (canvas.shape[1], canvas.shape[0]), channels.tobytes())
    if rng.random() < 0.5:
        return encode(img, "JPEG", quality=_randint(rng, 80, 95))
    return encode(img, "TIFF", compression=_pick(rng, ("raw", "tiff_lzw")))


RENDERERS: dict[str, Callable[[np.ndarray, np.random.Generator], bytes]] = {
    "canvas_alpha": _canvas_alpha,
    "white_on_black": _white_on_black,
    "black_on_white": _black_on_white,
    "coloured_ink_tinted_paper": _coloured_ink_tinted_paper,
    "jpeg_noise": _jpeg_noise,
    "photo_uneven_background": _photo_uneven_background,
    "tiny_in_big_canvas": _tiny_in_big_canvas,
    "touching_border": _touching_border,
    "thick_marker": _thick_marker,
    "thin_pen": thin_pen,
    "lowres_blurry_scan": _lowres_blurry_scan,
    "exif_rotated": _exif_rotated,
    "palette_mode": _palette_mode,
    "sixteen_bit": _sixteen_bit,
    "cmyk": _cmyk,
}
CONDITIONS: tuple[str, ...] = (*RENDERERS, "typed_fonts", "sklearn_digits")


def render(condition: str, digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """One MNIST-based condition applied to one 28x28 uint8 digit (white ink on black), as encoded file bytes."""
    if condition not in RENDERERS:
        raise KeyError(f"{condition!r} is not an MNIST-based condition; choose from {sorted(RENDERERS)}")
    return RENDERERS[condition](np.asarray(digit, dtype=np.uint8), rng)


# ---------------------------------------------------------------- typed and sklearn digits


def font_paths() -> list[str]:
    return sorted({p for pattern in FONT_GLOBS for p in glob.glob(pattern, recursive=True)})


@lru_cache(maxsize=256)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _glyph(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    img = Image.new("L", (96, 96), 0)
    ImageDraw.Draw(img).text((16, 8), ch, font=font, fill=255)
    return img.tobytes()


def has_digits(path: str) -> bool:
    """A font without digit glyphs draws nothing, or its .notdef box, which a private-use code point also gets."""
    try:
        font = load_font(path, 48)
    except OSError:
        return False
    blank, notdef = bytes(96 * 96), _glyph(font, "\ue000")
    return all(_glyph(font, ch) not in (blank, notdef) for ch in "0123456789")


def _typed(path: str, label: int, rng: np.random.Generator) -> bytes:
    size = _randint(rng, 60, 120)
    paper, ink = _randint(rng, 240, 255), _randint(rng, 0, 30)
    img = Image.new("L", (size * 3, size * 3), paper)
    ImageDraw.Draw(img).text((size * 1.5, size * 1.5), str(label), font=load_font(path, size), fill=ink, anchor="mm")
    if rng.random() < 0.35:
        img = img.rotate(_uniform(rng, -5, 5), resample=BICUBIC, fillcolor=paper)
    glyph = img.crop(Image.fromarray((np.asarray(img) < paper - 20).astype(np.uint8) * 255).getbbox())
    left, top, right, bottom = (round(glyph.height * _uniform(rng, 0.15, 0.5)) for _ in range(4))
    out = Image.new("L", (glyph.width + left + right, glyph.height + top + bottom), paper)
    out.paste(glyph, (left, top))
    return encode(out, "PNG")


def typed_digits() -> list[Sample]:
    """Every digit in every installed font that has digits, black on white; the same list on every call."""
    rng = np.random.default_rng(TYPED_SEED)
    return [
        Sample(_typed(path, label, rng), label, "typed_fonts", -1)
        for path in font_paths()
        if has_digits(path)
        for label in range(10)
    ]


def sklearn_digits(limit: int | None = None) -> list[Sample]:
    """scikit-learn's bundled 8x8 digits (ink 0..16) upscaled and drawn as dark ink on paper."""
    from sklearn.datasets import load_digits  # lazy: sklearn is slow to import and only needed here

    bunch = load_digits()
    images, labels = bunch.images[:limit], bunch.target[:limit]
    rng = np.random.default_rng(SKLEARN_SEED)
    samples = []
    for image, label in zip(images, labels, strict=True):
        size = _randint(rng, 64, 128)
        # One blank source pixel around the 8x8 frame, as the ink often touches it.
        ink = np.clip(_resize_float(np.pad(image / 16.0, 1), size, size, BICUBIC), 0, 1)
        img = compose(ink, _paper_grey(rng), _ink_grey(rng))
        samples.append(Sample(encode(Image.fromarray(img, "L"), "PNG"), int(label), "sklearn_digits", -1))
    return samples


# ---------------------------------------------------------------- the suite


def build_suite(
    test_images: np.ndarray, test_labels: np.ndarray, *, per_condition: int = 200, seed: int = 0
) -> list[Sample]:
    """Every condition; MNIST-based ones each use `per_condition` distinct test digits drawn with `seed`."""
    n = len(test_images)
    samples: list[Sample] = []
    for k, condition in enumerate(RENDERERS):
        # Each condition has its own stream, so adding a condition never changes the others' samples.
        rng = np.random.default_rng([seed, k])
        for index in rng.choice(n, size=min(per_condition, n), replace=False):
            data = render(condition, test_images[index], rng)
            samples.append(Sample(data, int(test_labels[index]), condition, int(index)))
    samples.extend(typed_digits())
    samples.extend(sklearn_digits(limit=per_condition))
    return samples


def decode_for_viewing(data: bytes) -> Image.Image:
    """Upright RGB as a person would see the file, with transparency shown over mid-grey."""
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray((arr / 65_535 * 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        grey = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return Image.alpha_composite(grey, rgba).convert("RGB")
    return img.convert("RGB")


def contact_sheet(samples: list[Sample], path: str | Path, per_row: int = 10) -> None:
    """One PNG of ~96 px thumbnails with their labels, for a human to eyeball the suite."""
    cell, caption = 100, 12
    rows = max(1, -(-len(samples) // per_row))
    sheet = Image.new("RGB", (per_row * cell, rows * (cell + caption)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, sample in enumerate(samples):
        thumb = decode_for_viewing(sample.data)
        thumb.thumbnail((96, 96), Image.Resampling.LANCZOS)
        x, y = (i % per_row) * cell, (i // per_row) * (cell + caption)
        sheet.paste(thumb, (x + (cell - thumb.width) // 2, y + (cell - thumb.height) // 2))
        draw.text((x + 2, y + cell), f"{sample.label} {sample.condition[:14]}", fill=(200, 0, 0))
    sheet.save(path, "PNG")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sheet", default="robustness_sheet.png", help="where to write the contact sheet")
    parser.add_argument("--per-condition", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from ml.data import load_mnist

    splits = load_mnist()
    suite = build_suite(splits.test_images, splits.test_labels, per_condition=args.per_condition, seed=args.seed)
    shown = [s for c in CONDITIONS for s in [x for x in suite if x.condition == c][: args.per_condition]]
    contact_sheet(shown, args.sheet, per_row=args.per_condition)
    print(f"{len(suite)} samples; sheet of {len(shown)} at {args.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
