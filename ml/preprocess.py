"""THE one path from any image a person may give to the model's 28x28 input (LeCun's MNIST recipe)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ml.decode import decode_image

WORK_SIDE = 384  # ink is analysed at most at this resolution; more only costs time
STROKE_SIDE = 80  # the digit's longer side when its strokes are measured and normalised (4x the 20 px box)
BOX = 20  # LeCun: the digit's bounding box is fitted into 20x20 keeping the aspect ratio ...
SIDE = 28  # ... and placed in 28x28 with its centre of mass at the centre
CENTRE = 14.0  # MNIST's mean centre of mass, measured on the training set (row and column)
# Stroke width (at STROKE_SIDE) band of MNIST digits, measured with ``stroke_width`` on the training set
# (2nd and 99th percentiles). Inputs outside it are thinned or thickened to its edge; inside, left alone.
STROKE_BAND = (5.0, 19.0)
MIN_CONTRAST = 0.10  # ink must differ from its background by 10% of the full range ...
MIN_SNR = 4.0  # ... and stand at least this far above the background's noise
MIN_EXTENT_PX = 8  # a digit spans at least this many pixels of the original image
MIN_ELONGATION = 1.6  # extent / stroke width: a dot or a smudge is not a digit
# A blob at least this share of the largest one's ink and this share of its height is kept however far away
# it lies: it is another digit or symbol, and dropping it would read "17" as a 7.
FAR_PART_INK = 0.2
FAR_PART_HEIGHT = 0.5


@dataclass(frozen=True)
class Preprocessed:
    """The model input, or why there is none. ``image`` is float32 (28, 28) in [0, 1], ink high."""

    image: np.ndarray | None
    reason: str = ""
    stroke_width: float = 0.0
    stroke_adjusted: bool = False

    @property
    def no_digit(self) -> bool:
        return self.image is None


def model_input_png(image: np.ndarray) -> bytes:
    """The 28x28 model input (float in [0, 1], ink high) as an 8-bit greyscale PNG."""
    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def ink_source(img: Image.Image) -> tuple[Image.Image, bool]:
    """The picture to look for ink in ("L", "RGB" or [0, 1] "F"), and whether it is a canvas's alpha mask.

    Decided at full resolution with cheap Pillow operations, so only what is needed gets resized.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Pillow's convert("L") clips 16-bit values at 255, so scale them ourselves.
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr / top, 0, 1), mode="F"), False
    if img.mode in ("1", "L"):
        return img.convert("L"), False
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        alpha = rgba.getchannel("A")
        if sum(alpha.histogram()[:128]) > 0.01 * alpha.width * alpha.height:
            return alpha, True  # a canvas export: the strokes are whatever is opaque, whatever their colour
        return rgba.convert("RGB"), False
    return img.convert("RGB"), False


def as_array(img: Image.Image) -> np.ndarray:
    """float32 (H, W, C) in [0, 1]."""
    arr = np.asarray(img, dtype=np.float32)
    arr = arr if img.mode == "F" else arr / 255.0
    return arr if arr.ndim == 3 else arr[..., None]


def shrink(img: Image.Image, side: int) -> tuple[Image.Image, float]:
    """Downscale so the longer side is at most ``side``; returns the image and the factor used."""
    longest = max(img.size)
    if longest <= side:
        return img, 1.0
    factor = longest / side
    size = (max(1, round(img.width / factor)), max(1, round(img.height / factor)))
    return img.resize(size, Image.Resampling.BOX), factor


# --------------------------------------------------------------------------- ink extraction


def otsu_threshold(values: np.ndarray) -> float:
    """Threshold in [0, 1] maximising the between-class variance of ``values`` (256 levels)."""
    hist = np.bincount((np.clip(values, 0, 1) * 255).astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    centres = (np.arange(256) + 0.5) / 256
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float((int(np.argmax(between)) + 1) / 256)


def _sample(values: np.ndarray, limit: int = 20_000) -> np.ndarray:
    """An even subsample: medians and percentiles need no more, and big images stay fast."""
    return values[:: max(1, values.size // limit)]


BACKGROUND_SIDE = 64  # the paper's lighting is estimated on a thumbnail this size: it varies slowly
BACKGROUND_REACH = 0.3  # ... with a window this fraction of the thumbnail, wider than any marker stroke


def _resize(channel: np.ndarray, h: int, w: int, method: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(channel, dtype=np.float32)).resize((w, h), method))


def _luminance(colour: np.ndarray) -> np.ndarray:
    return colour.mean(axis=-1)


def ink_is_dark(colour: np.ndarray) -> bool:
    """Polarity: the paper is most of the picture, so the ink is on the side of the longer luminance tail."""
    lum = _luminance(colour)
    low, median, high = np.percentile(lum, [0.5, 50, 99.5])
    if max(median - low, high - median) < MIN_CONTRAST:
        # Too little ink to reach the percentiles (a small digit on a big page): compare the extremes.
        low, high = float(lum.min()), float(lum.max())
    return bool(median - low >= high - median)


def paper_colour(colour: np.ndarray, dark_ink: bool) -> np.ndarray:
    """The paper's colour at every pixel (H, W, C), following uneven lighting but not the strokes.

    A grey closing (for dark ink; opening for light ink) on a thumbnail erases every stroke narrower than
    its window, leaving the lighting; the thumbnail keeps it cheap and the upscale keeps it smooth.
    """
    h, w, c = colour.shape
    scale = BACKGROUND_SIDE / max(h, w)
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    size = max(3, round(BACKGROUND_REACH * BACKGROUND_SIDE))
    morph = ndimage.grey_closing if dark_ink else ndimage.grey_opening
    planes = []
    for k in range(c):
        thumb = _resize(colour[..., k], th, tw, Image.Resampling.BOX)
        # An odd reflection continues a lighting gradient past the border; an even one would fold it back
        # and make the darker edge of an unevenly lit page look like ink.
        padded = np.pad(thumb, size, mode="reflect", reflect_type="odd")
        thumb = morph(padded, size=(size, size))[size:-size, size:-size]
        thumb = ndimage.uniform_filter(thumb, size=5, mode="nearest")
        planes.append(_resize(thumb, h, w, Image.Resampling.BILINEAR))
    return np.stack(planes, axis=-1)


def ink_map(colour: np.ndarray, is_alpha: bool = False, dark: bool | None = None) -> np.ndarray:
    """Ink strength per pixel, 0 = paper; polarity, hue and uneven lighting removed. colour: (H, W, C).
    ``dark``: whether the ink is darker than the paper; found from the image unless given."""
    if is_alpha:
        return colour[..., 0]
    dark = ink_is_dark(colour) if dark is None else dark
    h, w, c = colour.shape
    if min(h, w) < 48:  # too small to have lighting worth modelling: the median is the paper
        paper = np.median(colour.reshape(-1, c), axis=0)
    else:
        paper = paper_colour(colour, dark)
    # Ink absorbs (dark ink) or reflects (chalk, white pen) in every channel; the strongest channel wins,
    # so red ink on pink paper counts as much as black on white.
    # Dark ink is measured against the light falling on it (reflectance), so a stroke in a shadow counts
    # as much as one in the light; light ink on a dark ground is measured as plain difference.
    difference = (paper - colour) / np.maximum(paper, 0.1) if dark else colour - paper
    return np.clip(difference.max(axis=-1), 0.0, 1.0)


# --------------------------------------------------------------------------- finding the digit


def _select_components(mask: np.ndarray) -> np.ndarray:
    """Keep the largest blob, the sizeable blobs near it (a 5's bar, a broken pen stroke) and digit-sized blobs
    anywhere; drop specks."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    boxes = ndimage.find_objects(labels)
    order = np.argsort(sizes)[::-1]
    keep = {int(order[0])}
    y0, y1 = boxes[order[0]][0].start, boxes[order[0]][0].stop
    x0, x1 = boxes[order[0]][1].start, boxes[order[0]][1].stop
    for i in order[1:]:
        ys = boxes[i][0]
        if sizes[i] >= FAR_PART_INK * sizes[order[0]] and ys.stop - ys.start >= FAR_PART_HEIGHT * (y1 - y0):
            keep.add(int(i))
    for i in keep:
        y0, y1 = min(y0, boxes[i][0].start), max(y1, boxes[i][0].stop)
        x0, x1 = min(x0, boxes[i][1].start), max(x1, boxes[i][1].stop)
    changed = True
    while changed:
        changed = False
        reach = 0.4 * max(y1 - y0, x1 - x0)
        kept_size = sizes[list(keep)].sum()
        for i in order[1:]:
            i = int(i)
            if i in keep or sizes[i] < 0.02 * kept_size or sizes[i] < 3:
                continue
            ys, xs = boxes[i]
            gap_y = max(0, ys.start - y1, y0 - ys.stop)
            gap_x = max(0, xs.start - x1, x0 - xs.stop)
            if max(gap_y, gap_x) <= reach:
                keep.add(i)
                y0, y1 = min(y0, ys.start), max(y1, ys.stop)
                x0, x1 = min(x0, xs.start), max(x1, xs.stop)
                changed = True
    return np.isin(labels, [k + 1 for k in keep])


@dataclass(frozen=True)
class Found:
    ink: np.ndarray  # normalised ink of the kept strokes, cropped to their bounding box
    box: tuple[int, int, int, int]  # y0, y1, x0, x1 in the analysed image


@dataclass(frozen=True)
class Ink:
    """The ink of an analysed image: per-pixel strength, the thresholded strokes and the levels that tell
    paper from ink. One digit, or each digit of a number, is cut out of it with ``cut_out``."""

    strength: np.ndarray  # (H, W) in [0, 1], 0 = paper
    mask: np.ndarray  # (H, W) bool: the strokes
    threshold: float
    floor: float  # the paper's typical strength
    level: float  # the strokes' typical strength
    noise: float  # the paper's noise (robust sigma)

    def cut_out(self, strokes: np.ndarray) -> Found:
        """The soft ink of ``strokes`` (a part of ``mask``), cropped to its box and scaled to [0, 1]."""
        rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
        pad = 2  # anti-aliased edges lie just outside the thresholded strokes
        y0, y1 = max(0, int(rows[0]) - pad), min(strokes.shape[0], int(rows[-1]) + 1 + pad)
        x0, x1 = max(0, int(cols[0]) - pad), min(strokes.shape[1], int(cols[-1]) + 1 + pad)
        # Soft ink: paper maps to 0 and the typical stroke core to 1. A digit much bigger than the 20 px box is
        # nearly binarised first (MNIST's own sources were binary scans; shrinking makes the grey edges again),
        # which also removes blur halos; a digit at MNIST's scale keeps its grey levels, less the paper's
        # noise, so an MNIST digit passes through unchanged.
        halo_cut = 0.5 * (self.threshold - self.floor)
        big = max(y1 - y0, x1 - x0) >= 2 * BOX
        low = self.floor + (halo_cut if big else max(min(3.0 * self.noise, halo_cut), 0.3 * halo_cut))
        ink = np.clip((self.strength[y0:y1, x0:x1] - low) / max(self.level - low, 1e-6), 0.0, 1.0)
        ink = np.where(ndimage.binary_dilation(strokes[y0:y1, x0:x1], iterations=pad), ink, 0.0)
        # The bounding box is the ink's, faint edges included, as in MNIST (not the thresholded strokes').
        rows, cols = np.flatnonzero((ink > 0.25).any(axis=1)), np.flatnonzero((ink > 0.25).any(axis=0))
        if rows.size == 0:  # strokes too faint to survive the halo cut: keep their box
            rows, cols = np.arange(ink.shape[0]), np.arange(ink.shape[1])
        ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        box = (y0 + int(rows[0]), y0 + int(rows[-1]) + 1, x0 + int(cols[0]), x0 + int(cols[-1]) + 1)
        return Found(ink=ink.astype(np.float32), box=box)


def find_ink(colour: np.ndarray, is_alpha: bool) -> Ink | str:
    """The ink of an analysed image (H, W, C) in [0, 1], or the reason there is none (blank, too faint)."""
    strength = ink_map(colour, is_alpha)
    if float(strength.max()) < MIN_CONTRAST:
        return "blank image: no ink found"
    threshold = max(otsu_threshold(strength), 0.5 * MIN_CONTRAST)
    mask = strength > threshold
    paper = _sample(strength[~mask])
    floor = float(np.median(paper)) if paper.size else 0.0
    noise = 1.4826 * float(np.median(np.abs(paper - floor))) if paper.size else 0.0
    level = float(np.percentile(_sample(strength[mask]), 90)) if mask.any() else 0.0
    if level - floor < MIN_CONTRAST or level - floor < MIN_SNR * noise:
        return "no digit: the image is blank or too faint"
    return Ink(strength=strength, mask=mask, threshold=threshold, floor=floor, level=level, noise=noise)


def _find_digit(colour: np.ndarray, is_alpha: bool) -> Found | str:
    """The digit's ink, cropped and scaled to [0, 1], or the reason there is no digit."""
    ink = find_ink(colour, is_alpha)
    return ink if isinstance(ink, str) else ink.cut_out(_select_components(ink.mask))


def _locate(img: Image.Image, is_alpha: bool, depth: int = 0) -> tuple[Found | str, float]:
    """Find the digit; in a big image with a small digit, look again at full resolution around it."""
    work, factor = shrink(img, WORK_SIDE)
    found = _find_digit(as_array(work), is_alpha)
    if isinstance(found, str) or depth > 0 or factor <= 1.5:
        return found, factor
    y0, y1, x0, x1 = found.box
    if max(y1 - y0, x1 - x0) > 0.5 * WORK_SIDE:
        return found, factor
    margin = 0.25 * max(y1 - y0, x1 - x0) + 2
    crop = img.crop(
        (
            max(0, int((x0 - margin) * factor)),
            max(0, int((y0 - margin) * factor)),
            min(img.width, int((x1 + margin) * factor) + 1),
            min(img.height, int((y1 + margin) * factor) + 1),
        )
    )
    return _locate(crop, is_alpha, depth + 1)


# --------------------------------------------------------------------------- strokes and placement


def stroke_width(shape: np.ndarray) -> float:
    """Typical stroke width in pixels of a binary shape: twice the distance to the edge along the ridge."""
    if not shape.any():
        return 0.0
    dist = ndimage.distance_transform_edt(np.pad(shape, 1))[1:-1, 1:-1]
    ridge = (dist >= ndimage.maximum_filter(dist, size=3)) & shape
    return float(2.0 * np.median(dist[ridge]) - 1.0) if ridge.any() else 1.0


def _fit(ink: np.ndarray, longest: int, method: Image.Resampling) -> np.ndarray:
    h, w = ink.shape
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, method))


def normalise_strokes(ink: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Bring marker-thick or hairline strokes into MNIST's range; returns (ink, width, adjusted)."""
    method = Image.Resampling.BOX if max(ink.shape) > STROKE_SIDE else Image.Resampling.BILINEAR
    sample = _fit(ink, STROKE_SIDE, method)
    peak = float(np.percentile(sample[sample > 0], 95)) if (sample > 0).any() else 1.0
    sample = np.clip(sample / max(peak, 1e-6), 0, 1)  # thin strokes fade when shrunk: restore their strength
    shape = sample > 0.5
    width = stroke_width(shape)
    low, high = STROKE_BAND
    if low <= width <= high:
        return ink, width, False
    target = min(max(width, low), high)
    if width > high:
        reshaped = ndimage.distance_transform_edt(np.pad(shape, 1))[1:-1, 1:-1] > (width - target) / 2
    else:
        reshaped = ndimage.distance_transform_edt(~shape) <= (target - max(width, 1.0)) / 2 + 0.5
    if not reshaped.any():
        return ink, width, False
    smooth = ndimage.gaussian_filter(reshaped.astype(np.float32), sigma=1.0)  # anti-aliased edges, as MNIST has
    return smooth, width, True


def _place(patch: np.ndarray) -> np.ndarray:
    """Put the 20-box patch into 28x28 with its centre of mass at MNIST's centre, but never past the frame:
    ink whose mass sits far off its box's centre (two parts of unequal weight) would lose a part."""
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    cy, cx = ndimage.center_of_mass(patch)
    h, w = patch.shape
    top = min(max(int(round(CENTRE - cy)), 0), SIDE - h)
    left = min(max(int(round(CENTRE - cx)), 0), SIDE - w)
    out[top : top + h, left : left + w] = patch  # the clamps keep the whole patch inside
    return out


def preprocess(source: bytes | str | Path | Image.Image | io.IOBase) -> Preprocessed:
    """Any image -> the model's 28x28 input in [0, 1] (ink high), or a "no digit" verdict with its reason."""
    img = decode_image(source)
    found, factor = _locate(*ink_source(img))
    if isinstance(found, str):
        return Preprocessed(image=None, reason=found)
    return preprocess_ink(found.ink, extent=max(found.ink.shape) * factor)


def preprocess_ink(ink: np.ndarray, extent: float | None = None) -> Preprocessed:
    """Cropped ink (ink high, [0, 1]) -> 28x28: stroke normalisation, 20x20 fit, centre of mass."""
    if extent is not None and extent < MIN_EXTENT_PX:
        return Preprocessed(image=None, reason="no digit: only a speck of ink")
    ink, width, adjusted = normalise_strokes(ink)
    if STROKE_SIDE / max(width, 1.0) < MIN_ELONGATION:
        return Preprocessed(image=None, reason="no digit: a dot or a smudge", stroke_width=width)
    method = Image.Resampling.BOX if max(ink.shape) >= BOX else Image.Resampling.BILINEAR
    patch = np.clip(_fit(ink, BOX, method), 0, None)
    peak = float(patch.max())
    if peak <= 0:
        return Preprocessed(image=None, reason="no digit: nothing left after cleaning")
    patch = np.clip(patch / peak, 0, 1)
    return Preprocessed(image=_place(patch), stroke_width=width, stroke_adjusted=adjusted)
