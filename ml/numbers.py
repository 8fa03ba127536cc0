"""From the ink of an image to the digits of a number, left to right, each read by the one-digit predictor."""

from __future__ import annotations

import io
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ml.decode import decode_image
from ml.predictor import Predictor
from ml.preprocess import Ink, as_array, find_ink, ink_map, ink_source, preprocess_ink, shrink
from ml.refusal import refusals
from ml.strings import DIGIT_ROWS, FRAME, PAD, StringDigit, StringReader, shipped_reader, string_input

__all__ = ["MAX_DIGITS", "NumberDigit", "NumberReading", "read_number", "read_numbers"]

MAX_DIGITS = 12
WORK_SIDE = 512  # a number is wide: its longer side is analysed at up to this many pixels (a digit's 384)
# Sizes are shares of the reference digit height: the typical height of the sizeable blobs of ink.
SIZEABLE_INK = 0.15  # a blob with this share of the largest blob's ink counts towards the reference height
SPECK_INK = 0.01  # a blob with less than this share of the largest one's ink is a speck, ignored
MIN_DIGIT_HEIGHT = 0.35  # a digit is at least this tall; a shorter mark alone is a dash, a dot, a comma
MAX_DIGIT_WIDTH = 1.6  # ... and at most this wide
STACKED = 0.6  # blobs sharing this share of the narrower one's columns are one digit's strokes
JOIN_GAP = 0.25  # blobs further apart than this are never one digit
SPLIT_WIDTH = 0.85  # a blob wider than this may be digits that touch: it is cut at the thinnest columns
MIN_SLICE = 0.2  # no cut leaves a slice narrower than this (a 1 is about this wide)
CUT_STEP = 0.2  # ... and, in a blob wider than EVEN_CUTS_WIDTH, every this share of the reference height
EVEN_CUTS_WIDTH = 1.1
MAX_RUN = 8  # a digit is made of at most this many neighbouring blobs or slices
# The search's costs, in nats: each digit read costs -log(its probability) plus DIGIT_COST, so a 0 is not
# read as "11" unless the two 1s are far surer; a part the predictor refuses costs REFUSED_COST more; leaving
# ink out costs SKIP_COST per reference digit's worth of ink, so stray marks go and digits stay. Chosen on
# synthetic strings of MNIST training digits.
DIGIT_COST = 0.1
REFUSED_COST = 2.0
SKIP_COST = 3.0
# Each digit's width / height on a log scale, mean and spread, measured on the first 50,000 MNIST training
# digits (``aspect_statistics``): two touching digits read as one are too wide for the digit read, and pay
# for it (half the squared z-score), so "81" is not taken for an 8.
ASPECTS = (
    (-0.104, 0.196),
    (-0.934, 0.462),
    (-0.073, 0.220),
    (-0.235, 0.212),
    (-0.243, 0.212),
    (-0.077, 0.259),
    (-0.325, 0.219),
    (-0.263, 0.216),
    (-0.282, 0.222),
    (-0.395, 0.207),
)
WIDE_Z = 1.5  # ... beyond this z-score: a digit may be written wide
RELOCATE_FACTOR = 1.5  # a big image whose ink is small is looked at again at full resolution around the ink
NOISY_INK = 0.2  # ... and where more of it than this is "ink", or none is, the threshold saw the paper's noise:
SALIENT_SNR = 8.0  # ... the ink is then what stands this many robust deviations above the smoothed paper


@dataclass(frozen=True)
class NumberDigit:
    """One digit of a number: what was read, and where (x, y, width, height in the original image's pixels)."""

    digit: int
    confidence: float
    probabilities: list[float]
    box: tuple[int, int, int, int]
    input_image: np.ndarray  # float32 (28, 28) in [0, 1]: what the model saw
    refused: bool = False  # alone, this ink would be refused as not a digit: its digit is the closest one


@dataclass(frozen=True)
class NumberReading:
    """A number read: its digits as a string (leading zeros kept) and a confidence that the whole string is
    right; or no number, because the image is blank (``no_digit``) or its ink holds no digit."""

    number: str | None
    confidence: float | None
    digits: list[NumberDigit]
    reason: str = ""
    not_a_number: bool = False

    @property
    def no_digit(self) -> bool:
        return self.number is None and not self.not_a_number


@dataclass(frozen=True)
class _Atom:
    """A blob of ink, or a slice of a blob cut where digits may touch: the smallest piece a digit is made of."""

    mask: np.ndarray  # bool, the analysed image's shape
    x0: int
    x1: int
    y0: int
    y1: int
    ink: int  # pixels
    blob: int = 0  # which blob it is, or is a slice of
    partial: bool = False  # a slice: the blob was cut

    @property
    def centre(self) -> float:
        return 0.5 * (self.x0 + self.x1)


@dataclass(frozen=True)
class _Candidate:
    """Neighbouring atoms ``start:stop`` read as one digit: its model input and its box in the original."""

    start: int
    stop: int
    image: np.ndarray
    box: tuple[int, int, int, int]
    aspect: float  # log(width / height) of its ink, the writing's slant taken out
    partial: bool  # it holds part of a blob that was cut, not all of it


@dataclass(frozen=True)
class _String:
    """A blob that was cut (atoms ``start:stop`` are its slices), also read whole by the string reader."""

    start: int
    stop: int
    mask: np.ndarray  # bool, the analysed image's shape
    x0: int  # the first column of its ink in the analysed image
    scale: float  # analysed pixels per column of the reader's input
    input: np.ndarray


@dataclass(frozen=True)
class _Pieces:
    """One image's ink: its atoms, left to right, and the blobs that were cut into several of them."""

    atoms: list[_Atom]
    strings: list[_String]
    reference: float
    analysed: _Analysed
    slant: float


@dataclass(frozen=True)
class _Edge:
    """A step of the search: atoms ``start:stop`` read as ``digits`` (one, or a string's) at ``cost``."""

    start: int
    stop: int
    cost: float
    digits: list[NumberDigit]


@dataclass(frozen=True)
class _Analysed:
    """An image's ink, and how to map its pixels back to the original image: scale, then offset."""

    ink: Ink | str
    factor: float
    offset: tuple[int, int] = (0, 0)  # x, y of the analysed region in the original


def read_number(
    predictor: Predictor, image: bytes | str | Path | Image.Image | io.IOBase, strings: StringReader | None = None
) -> NumberReading:
    """The number in one image; raises ImageDecodeError for anything unreadable."""
    return read_numbers(predictor, [image], strings)[0]


def read_numbers(predictor: Predictor, images: list, strings: StringReader | None = None) -> list[NumberReading]:
    """The numbers in several images. Each blob cut where digits may touch is also read whole by the string
    reader (the shipped one unless given), which says where its digits lie; the digits it found and every
    candidate digit of all the images go through the digit model in one batch; then a search picks each
    image's cheapest reading, the cut pieces' or the whole blob's."""
    pieces = [_pieces(image) for image in images]
    found = [p for p in pieces if not isinstance(p, str)]
    wide = [(p, s) for p in found for s in p.strings]
    texts = (strings or shipped_reader()).read([s.input for _, s in wide]) if wide else []
    whole: dict[int, list[tuple[_String, list[_Candidate], list[StringDigit]]]] = {id(p): [] for p in found}
    for (p, s), text in zip(wide, texts, strict=True):
        parts = _split(p, s, text) if text else []
        if parts and all(parts):  # else the reader saw no digit here, or a digit without ink: cut the blob
            whole[id(p)].append((s, parts, text))
    candidates = {id(p): _candidates(p) for p in found}
    inputs = [c.image for p in found for c in candidates[id(p)]]
    inputs += [part.image for p in found for _, parts, _ in whole[id(p)] for part in parts]
    batch = np.stack(inputs) if inputs else np.zeros((0, 28, 28), np.float32)
    probabilities = predictor.probabilities(batch) if inputs else np.zeros((0, 10))
    refused = refusals(probabilities, batch, predictor.backend.rejection_threshold)
    answers = iter(zip(probabilities, refused, strict=True))
    edges = {id(p): [_single_edge(c, *next(answers)) for c in candidates[id(p)]] for p in found}  # batch order
    for p in found:
        edges[id(p)] += [_string_edge(s, parts, text, answers) for s, parts, text in whole[id(p)]]
    return [
        NumberReading(number=None, confidence=None, digits=[], reason=p)
        if isinstance(p, str)
        else _best_reading(p, edges[id(p)])
        for p in pieces
    ]


# --------------------------------------------------------------------------- from the image to the pieces


def _pieces(image) -> _Pieces | str:
    """The atoms of an image's ink and its cut blobs, or why there is no ink."""
    analysed = _analyse(decode_image(image))
    if isinstance(analysed.ink, str):
        return analysed.ink
    atoms, reference, slant = _atoms(analysed.ink.mask)
    return _Pieces(atoms, _strings(atoms, analysed), reference, analysed, slant)


def _strings(atoms: list[_Atom], analysed: _Analysed) -> list[_String]:
    """Each blob that was cut into slices, whole, as the string reader's input."""
    out = []
    for blob in dict.fromkeys(a.blob for a in atoms if a.partial):
        at = [k for k, a in enumerate(atoms) if a.blob == blob and a.partial]
        mask = np.logical_or.reduce([atoms[k].mask for k in at])
        found = analysed.ink.cut_out(mask)
        y0, y1, x0, _ = found.box
        out.append(_String(min(at), max(at) + 1, mask, x0, (y1 - y0) / DIGIT_ROWS, string_input(found.ink)))
    return out


def _analyse(img: Image.Image) -> _Analysed:
    """Find the ink; in a big image with a small number, look again at full resolution around it."""
    source, is_alpha = ink_source(img)
    work, factor = shrink(source, WORK_SIDE)
    colour = as_array(work)
    ink = find_ink(colour, is_alpha)
    if factor <= RELOCATE_FACTOR:
        return _Analysed(ink, factor)
    if isinstance(ink, str) or ink.mask.mean() > NOISY_INK:  # the whole image's threshold saw only noise
        box = None if is_alpha else _salient_box(colour)
    else:
        rows, cols = np.flatnonzero(ink.mask.any(axis=1)), np.flatnonzero(ink.mask.any(axis=0))
        box = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
    if box is None or max(box[1] - box[0], box[3] - box[2]) > 0.5 * WORK_SIDE:
        return _Analysed(ink, factor)
    y0, y1, x0, x1 = box
    margin = 0.25 * max(y1 - y0, x1 - x0) + 2
    left, top = max(0, int((x0 - margin) * factor)), max(0, int((y0 - margin) * factor))
    right = min(source.width, int((x1 + margin) * factor) + 1)
    bottom = min(source.height, int((y1 + margin) * factor) + 1)
    work, factor = shrink(source.crop((left, top, right, bottom)), WORK_SIDE)
    return _Analysed(find_ink(as_array(work), is_alpha), factor, (left, top))


def _salient_box(colour: np.ndarray) -> tuple[int, int, int, int] | None:
    """Where a small number lies in a big, noisy photo (y0, y1, x0, x1), or None: the strongest cluster of ink,
    dark or light (a shadow across the page fools the polarity a whole image shows), standing SALIENT_SNR
    robust deviations above the smoothed paper, with the clusters in line with it (the number's other digits)."""
    best = None
    for dark in (True, False):
        strength = ndimage.gaussian_filter(ink_map(colour, dark=dark), 1.0)
        edge = 4  # the paper's estimate is worst at the image's border
        strength[:edge], strength[-edge:], strength[:, :edge], strength[:, -edge:] = 0, 0, 0, 0
        floor = float(np.median(strength))
        noise = 1.4826 * float(np.median(np.abs(strength - floor)))
        labels, count = ndimage.label(strength > floor + SALIENT_SNR * max(noise, 1e-3))
        if count:
            excess = ndimage.sum(strength - floor, labels, index=np.arange(1, count + 1))
            if best is None or excess.max() > best[0]:
                best = (float(excess.max()), labels, int(np.argmax(excess)))
    if best is None:
        return None
    _, labels, strongest = best
    ys, xs = ndimage.find_objects(labels)[strongest]
    reach = 2 * max(ys.stop - ys.start, xs.stop - xs.start)
    near = labels[max(0, ys.start - reach) : ys.stop + reach, max(0, xs.start - 3 * reach) : xs.stop + 3 * reach]
    inked = np.isin(labels, np.unique(near[near > 0]))
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _atoms(mask: np.ndarray) -> tuple[list[_Atom], float, float]:
    """The ink's blobs, specks dropped, wide blobs cut into slices where digits may touch, left to right; and
    the reference digit height and the writing's slant (find_ink found ink, so there is at least one blob)."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel())[1:]
    boxes = ndimage.find_objects(labels)
    keep = [i for i in range(count) if sizes[i] >= SPECK_INK * sizes.max()]
    heights = [boxes[i][0].stop - boxes[i][0].start for i in keep if sizes[i] >= SIZEABLE_INK * sizes.max()]
    reference = float(np.percentile(heights, 75))
    slant = _slant(labels, [i for i in keep if sizes[i] >= SIZEABLE_INK * sizes.max()], boxes)
    atoms: list[_Atom] = []
    for group in _stacked(keep, boxes):
        box = tuple(slice(min(boxes[i][d].start for i in group), max(boxes[i][d].stop for i in group)) for d in (0, 1))
        blob = np.zeros(mask.shape, dtype=bool)
        blob[box] = np.isin(labels[box], [i + 1 for i in group])  # within its box: the image may be large
        atoms.extend(_slices(blob, box, reference, slant, blob_id=group[0]))
    return sorted(atoms, key=lambda a: a.centre), reference, slant


def _stacked(blobs: list[int], boxes: list) -> list[list[int]]:
    """Blobs grouped when they share most of the narrower one's columns: the strokes of one digit (a 5's bar,
    a 4 in two strokes, a thin pen's broken line) lie over each other; neighbouring digits overlap a little."""
    groups: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    for i in sorted(blobs, key=lambda i: boxes[i][1].start):
        x0, x1 = boxes[i][1].start, boxes[i][1].stop
        for g, (g0, g1) in enumerate(spans):
            if min(x1, g1) - max(x0, g0) >= STACKED * min(x1 - x0, g1 - g0):
                groups[g].append(i)
                spans[g] = (min(x0, g0), max(x1, g1))
                break
        else:
            groups.append([i])
            spans.append((x0, x1))
    return groups


def _slant(labels: np.ndarray, blobs: list[int], boxes: list) -> float:
    """How far the writing leans: the median over sizeable blobs narrower than tall of |dx/dy| along their ink
    (image moments)."""
    leans = []
    for i in blobs:
        height, width = (s.stop - s.start for s in boxes[i])
        if width > height:
            continue  # perhaps several digits: their layout is no slant
        ys, xs = np.nonzero(labels[boxes[i]] == i + 1)
        spread = float(((ys - ys.mean()) ** 2).mean())
        leans.append(abs(float(((xs - xs.mean()) * (ys - ys.mean())).mean())) / spread if spread > 0 else 0.0)
    return float(np.median(leans)) if leans else 0.0  # no single digit to tell: upright


def _atom(mask: np.ndarray, within: tuple[slice, slice], blob: int, partial: bool) -> _Atom:
    """The atom of ``mask``, whose ink lies ``within`` that box of the image."""
    window = mask[within]
    rows, cols = np.flatnonzero(window.any(axis=1)), np.flatnonzero(window.any(axis=0))
    y, x = within[0].start, within[1].start
    box = (x + int(cols[0]), x + int(cols[-1]) + 1, y + int(rows[0]), y + int(rows[-1]) + 1)
    return _Atom(mask, *box, int(window.sum()), blob, partial)


def _slices(blob: np.ndarray, box: tuple[slice, slice], reference: float, slant: float, *, blob_id: int) -> list[_Atom]:
    """A blob as one atom, or, when it is wide enough to be touching digits, cut along the paths that cross
    the least ink, starting from its thinnest columns (touching digits overlap: no straight cut parts them)."""
    ys, xs = box
    window = blob[ys, xs]
    width, height = window.shape[1], window.shape[0]
    if width - slant * height <= SPLIT_WIDTH * min(reference, height):  # slanted writing is wider
        return [_atom(blob, box, blob_id, partial=False)]
    least = max(1, round(MIN_SLICE * reference))
    wide = width - slant * height > EVEN_CUTS_WIDTH * min(reference, height)
    starts = _thinnest_columns(window, least, reference, even=wide)
    paths = [_cut_path(window, x, least) for x in starts]
    columns = np.arange(width)[None, :]
    pieces, left = [], np.full(window.shape[0], -1)
    for right in [*paths, np.full(window.shape[0], width)]:
        right = np.maximum(right, left)  # paths never cross: each slice lies between two of them
        part = np.zeros_like(blob)
        part[ys, xs] = window & (columns > left[:, None]) & (columns <= right[:, None])
        if part[ys, xs].any():
            pieces.append(_atom(part, box, blob_id, partial=True))
        left = right
    return pieces if len(pieces) > 1 else [_atom(blob, box, blob_id, partial=False)]


def _thinnest_columns(window: np.ndarray, least: int, reference: float, even: bool) -> list[int]:
    """Where to start cutting: columns with locally least ink, no two closer than ``least``, left to right."""
    width = window.shape[1]
    profile = ndimage.uniform_filter1d(window.sum(axis=0).astype(np.float32), size=max(1, round(reference / 12)))
    minima = [
        x
        for x in range(least, width - least)
        if profile[x] <= profile[max(0, x - least // 2) : x + least // 2 + 1].min()
    ]
    cuts: list[int] = []
    for x in sorted(minima, key=lambda x: profile[x]):  # thinnest first
        if all(abs(x - c) >= least for c in cuts):
            cuts.append(x)
    cuts = sorted(cuts[: max(1, int(width / least))])
    if even:  # and, in a blob wider than any digit, evenly spaced starts: strokes may join along their length
        step = max(2, round(CUT_STEP * reference))
        cuts = sorted(set(cuts) | set(range(least, width - least + 1, step)))
    return cuts


def _cut_path(window: np.ndarray, start: int, reach: int) -> np.ndarray:
    """The column, per row, of the top-to-bottom path within ``reach`` of ``start`` that crosses the least ink
    (one column of drift per row at most; drifting costs a little, so the path stays straight on paper)."""
    lo, hi = max(0, start - reach), min(window.shape[1], start + reach + 1)
    ink = window[:, lo:hi].astype(np.float32)
    drift = 0.05
    cost = ink[0] + drift * np.abs(np.arange(hi - lo) - (start - lo))
    steps = np.zeros(ink.shape, dtype=np.int8)
    options = np.full((3, hi - lo), np.inf, dtype=np.float32)  # from the left, straight above, the right
    for y in range(1, ink.shape[0]):
        options[0, 1:], options[1], options[2, :-1] = cost[:-1] + drift, cost, cost[1:] + drift
        steps[y] = options.argmin(axis=0) - 1
        cost = ink[y] + options.min(axis=0)
    path = np.empty(ink.shape[0], dtype=int)
    path[-1] = int(cost.argmin())
    for y in range(ink.shape[0] - 1, 0, -1):
        path[y - 1] = path[y] + steps[y, path[y]]
    return path + lo


def _candidates(pieces: _Pieces) -> list[_Candidate]:
    """Every run of neighbouring atoms that could be one digit, with its model input."""
    atoms, reference = pieces.atoms, pieces.reference
    out: list[_Candidate] = []
    for start in range(len(atoms)):
        x0, x1 = atoms[start].x0, atoms[start].x1
        for stop in range(start + 1, min(len(atoms), start + MAX_RUN) + 1):
            if stop > start + 1:
                nxt = atoms[stop - 1]
                if nxt.x0 - x1 > JOIN_GAP * reference:
                    break
                x0, x1 = min(x0, nxt.x0), max(x1, nxt.x1)
                if x1 - x0 > MAX_DIGIT_WIDTH * reference:
                    break
            candidate = _candidate(atoms, start, stop, pieces.analysed, reference, pieces.slant)
            if candidate is not None:
                out.append(candidate)
    return out


def _candidate(atoms: list[_Atom], start: int, stop: int, analysed: _Analysed, reference: float, slant: float):
    run = atoms[start:stop]
    if max(a.y1 for a in run) - min(a.y0 for a in run) < MIN_DIGIT_HEIGHT * reference:
        return None
    mask = run[0].mask if len(run) == 1 else np.logical_or.reduce([a.mask for a in run])
    cut = {a.blob for a in run if a.partial}
    partial = any(a.blob in cut and not start <= k < stop for k, a in enumerate(atoms))
    return _prepared(mask, analysed, slant, start, stop, partial)


def _prepared(mask: np.ndarray, analysed: _Analysed, slant: float, start: int, stop: int, partial: bool):
    """The ink of ``mask`` as a candidate digit: its 28x28 input and its box; None if it is no digit."""
    found = analysed.ink.cut_out(mask)
    prepared = preprocess_ink(found.ink, extent=max(found.ink.shape) * analysed.factor)
    if prepared.no_digit:
        return None
    y0, y1, x0, x1 = found.box
    f, (ox, oy) = analysed.factor, analysed.offset
    box = (ox + round(x0 * f), oy + round(y0 * f), max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f)))
    upright = max(x1 - x0 - slant * (y1 - y0), 0.2 * (x1 - x0))
    return _Candidate(start, stop, prepared.image, box, float(np.log(upright / (y1 - y0))), partial)


def _split(pieces: _Pieces, string: _String, digits: list[StringDigit]) -> list[_Candidate | None]:
    """The blob's ink under each digit the string reader read, parted half-way between neighbouring digits'
    frames, as a candidate (its input and box; None where no digit's worth of ink lies)."""
    columns = np.arange(string.mask.shape[1])[None, :]
    edges = [PAD] + [FRAME * 0.5 * (a.frames[1] + b.frames[0]) for a, b in pairwise(digits)]
    edges.append(np.inf)
    out = []
    for lo, hi in pairwise(edges):
        x_lo = string.x0 + (lo - PAD) * string.scale if lo > PAD else -np.inf
        x_hi = string.x0 + (hi - PAD) * string.scale
        part = string.mask & (columns >= x_lo) & (columns < x_hi)
        out.append(
            _prepared(part, pieces.analysed, pieces.slant, string.start, string.stop, True) if part.any() else None
        )
    return out


# --------------------------------------------------------------------------- choosing the reading


def _single_edge(candidate: _Candidate, probabilities: np.ndarray, refused: bool) -> _Edge:
    cost = _cost(candidate, probabilities, bool(refused))
    return _Edge(candidate.start, candidate.stop, cost, [_digit(candidate, probabilities, bool(refused))])


def _string_edge(string: _String, parts: list[_Candidate], digits: list[StringDigit], answers) -> _Edge:
    """A cut blob read whole: each digit where the string reader found it, read by both models (the product
    of their probabilities, renormalised: two opinions, either can veto), at -log of its probability."""
    out = []
    for part, read in zip(parts, digits, strict=True):
        alone, _ = next(answers)  # the digit model's refusal is no veto: the cut leaves a neighbour's strokes
        both = read.probabilities * alone
        out.append(_digit(part, both / max(float(both.sum()), 1e-12), False))
    cost = sum(-np.log(max(d.confidence, 1e-9)) + DIGIT_COST for d in out)
    return _Edge(string.start, string.stop, float(cost), out)


def _best_reading(pieces: _Pieces, edges: list[_Edge]) -> NumberReading:
    """The cheapest way to read the atoms left to right as digits, leaving stray marks out (dynamic programming
    over how many atoms are used)."""
    atoms, reference = pieces.atoms, pieces.reference
    reference_ink = float(np.median([a.ink for a in atoms if a.ink >= SIZEABLE_INK * max(b.ink for b in atoms)]))
    by_start: dict[int, list[_Edge]] = {}
    for edge in edges:
        by_start.setdefault(edge.start, []).append(edge)
    best = [np.inf] * (len(atoms) + 1)  # best[i]: the cheapest reading of atoms[:i]
    best[0], came_from = 0.0, [None] * (len(atoms) + 1)
    for i in range(len(atoms)):
        if not np.isfinite(best[i]):
            continue
        skip = best[i] + SKIP_COST * max(atoms[i].ink / reference_ink, (atoms[i].y1 - atoms[i].y0) / reference)
        if skip < best[i + 1]:
            best[i + 1], came_from[i + 1] = skip, (i, None)
        for edge in by_start.get(i, []):
            if best[i] + edge.cost < best[edge.stop]:
                best[edge.stop], came_from[edge.stop] = best[i] + edge.cost, (i, edge)
    chosen, i = [], len(atoms)
    while i > 0:
        i, edge = came_from[i]
        if edge is not None:
            chosen.append(edge)
    return _reading([d for edge in reversed(chosen) for d in edge.digits])


def _cost(candidate: _Candidate, probabilities: np.ndarray, refused: bool) -> float:
    """What reading a candidate as its most probable digit costs the search, in nats. A blob is cut only into
    digits: a part of a cut blob that is not one (half an X) is no reading at all."""
    if refused and candidate.partial:
        return np.inf
    mean, spread = ASPECTS[int(probabilities.argmax())]
    unlikely_shape = 0.5 * max(0.0, (candidate.aspect - mean) / spread - WIDE_Z) ** 2  # too wide: merged digits
    return -np.log(max(float(probabilities.max()), 1e-9)) + DIGIT_COST + unlikely_shape + REFUSED_COST * refused


def aspect_statistics(images: np.ndarray, labels: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Per digit, the mean and spread of log(width / height) of MNIST digits' ink (uint8, ink high)."""
    ink = np.asarray(images) > 64
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    heights = rows.shape[1] - rows[:, ::-1].argmax(axis=1) - rows.argmax(axis=1)
    widths = cols.shape[1] - cols[:, ::-1].argmax(axis=1) - cols.argmax(axis=1)
    aspects = np.log(widths / heights)
    return tuple((float(aspects[labels == d].mean()), float(aspects[labels == d].std())) for d in range(10))


def _digit(candidate: _Candidate, probabilities: np.ndarray, refused: bool) -> NumberDigit:
    digit = int(probabilities.argmax())
    return NumberDigit(
        digit=digit,
        confidence=float(probabilities[digit]),
        probabilities=[float(p) for p in probabilities],
        box=candidate.box,
        input_image=candidate.image,
        refused=refused,
    )


def _reading(digits: list[NumberDigit]) -> NumberReading:
    if not digits or all(d.refused for d in digits):
        return NumberReading(
            number=None, confidence=None, digits=digits, reason="not a number: no digit in the ink", not_a_number=True
        )
    if len(digits) > MAX_DIGITS:
        return NumberReading(
            number=None,
            confidence=None,
            digits=digits,
            reason=f"not a number: more than {MAX_DIGITS} digits",
            not_a_number=True,
        )
    confidence = float(np.prod([d.confidence for d in digits]))
    return NumberReading(number="".join(str(d.digit) for d in digits), confidence=confidence, digits=digits)
