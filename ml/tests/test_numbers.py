"""Reading whole numbers: segmentation cases made in memory from MNIST test digits and drawn strokes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ml.checkpoint import SHIPPED_CHECKPOINT
from ml.data import load_mnist
from ml.numbers import ASPECTS, MAX_DIGITS, aspect_statistics, read_number, read_numbers
from ml.predictor import Predictor
from ml.strings import STRING_HEIGHT, StringDigit

SCALE = 4  # MNIST digits are pasted four times their size: 112 px, as drawn on a canvas


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_checkpoint(SHIPPED_CHECKPOINT)


@pytest.fixture(scope="module")
def digits(mnist_root, predictor) -> dict[int, list[np.ndarray]]:
    """Per digit, MNIST test digits the shipped model reads right and surely on their own (cropped to ink)."""
    splits = load_mnist(mnist_root)
    images, labels = splits.test_images[:2000], splits.test_labels[:2000]
    probs = predictor.probabilities(images.astype(np.float32) / 255.0)
    sure = (probs.argmax(axis=1) == labels) & (probs.max(axis=1) > 0.99)
    return {d: [_crop(images[i]) for i in np.flatnonzero(sure & (labels == d))[:6]] for d in range(10)}


def _crop(digit: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(digit.max(axis=1) > 30), np.flatnonzero(digit.max(axis=0) > 30)
    big = Image.fromarray(digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    return np.asarray(big.resize((big.width * SCALE, big.height * SCALE), Image.Resampling.BILINEAR)) / 255.0


def _png(ink: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((255 - 230 * np.clip(ink, 0, 1)).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _number(parts: list[np.ndarray], gaps: list[int], lifts: list[int] | None = None) -> tuple[np.ndarray, list]:
    """Ink of ``parts`` left to right, ``gaps[k]`` px after part k (negative: overlapping), on a margin."""
    lifts = lifts or [0] * len(parts)
    width = sum(p.shape[1] for p in parts) + sum(gaps) + 80
    height = max(p.shape[0] for p in parts) + max(lifts) + 80
    ink, x, boxes = np.zeros((height, width)), 40, []
    for part, gap, lift in zip(parts, [*gaps, 0], lifts, strict=True):
        y = 40 + lift
        window = ink[y : y + part.shape[0], x : x + part.shape[1]]
        np.maximum(window, part, out=window)
        boxes.append((x, y, part.shape[1], part.shape[0]))
        x += part.shape[1] + gap
    return ink, boxes


def _touching(left: np.ndarray, right: np.ndarray) -> int:
    """The gap (negative) at which ``right``'s ink first touches ``left``'s, both top-aligned."""
    for overlap in range(0, min(left.shape[1], right.shape[1])):
        tail, head = left[:, left.shape[1] - overlap - 1 :], right[:, : overlap + 1]
        h = min(tail.shape[0], head.shape[0])
        if ((tail[:h] > 0.5) & (head[:h] > 0.5)).any():
            return -overlap - 1
    raise AssertionError("these digits never touch")


def test_separated_digits_read_left_to_right_with_boxes_inputs_and_a_confidence(predictor, digits):
    parts = [digits[2][0], digits[0][0], digits[2][1], digits[6][0]]
    ink, boxes = _number(parts, [30, 45, 25], lifts=[0, 12, 4, 20])  # an uneven baseline
    reading = read_number(predictor, _png(ink))
    assert reading.number == "2026" and not reading.no_digit and not reading.not_a_number
    assert [d.digit for d in reading.digits] == [2, 0, 2, 6]
    for digit, (x, y, w, h) in zip(reading.digits, boxes, strict=True):
        bx, by, bw, bh = digit.box
        # the pasted digits' faint edges lie outside the ink's box: a few pixels either way
        assert max(abs(bx - x), abs(by - y), abs(bx + bw - x - w), abs(by + bh - y - h)) <= 8
        assert digit.input_image.shape == (28, 28) and len(digit.probabilities) == 10 and not digit.refused
    assert reading.confidence == pytest.approx(np.prod([d.confidence for d in reading.digits]))


def test_leading_zeros_are_kept_and_one_digit_alone_is_a_number(predictor, digits):
    ink, _ = _number([digits[0][2], digits[0][3], digits[7][0]], [30, 30])
    assert read_number(predictor, _png(ink)).number == "007"
    alone, _ = _number([digits[5][0]], [])
    assert read_number(predictor, _png(alone)).number == "5"


@pytest.mark.parametrize(("left", "right"), [(3, 5), (2, 8), (0, 7), (8, 3)])
def test_touching_digits_are_split(predictor, digits, left, right):
    a, b = digits[left][0], digits[right][1]
    ink, _ = _number([a, b], [_touching(a, b) - 2])  # two pixels into each other: one blob of ink
    from scipy import ndimage

    assert ndimage.label(ink > 0.5)[1] == 1
    assert read_number(predictor, _png(ink)).number == f"{left}{right}"


def _strokes(size: tuple[int, int], lines: list[list[tuple[int, int]]], width: int = 11) -> np.ndarray:
    img = Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    for line in lines:
        draw.line(line, fill=255, width=width, joint="curve")
    return np.asarray(img) / 255.0


def test_a_four_and_a_five_in_two_strokes_each_are_two_digits(predictor):
    four = [[(40, 10), (12, 80), (80, 80)], [(62, 40), (62, 130)]]  # the bar does not touch the rest
    five = [[(30, 12), (26, 62), (50, 54), (78, 70), (82, 100), (62, 126), (28, 120)], [(34, 8), (86, 8)]]
    ink = np.zeros((160, 260))
    ink[10:150, 10:110] = _strokes((100, 140), four)
    ink[10:150, 140:240] = _strokes((100, 140), five)
    reading = read_number(predictor, _png(ink))
    assert reading.number == "45"


def test_stray_dots_are_left_out(predictor, digits):
    ink, _ = _number([digits[7][1], digits[2][2]], [40])
    ink[20:26, 20:26] = 1.0  # a speck before the number
    ink[-30:-24, ink.shape[1] // 2 : ink.shape[1] // 2 + 6] = 1.0  # and one under it
    assert read_number(predictor, _png(ink)).number == "72"


def test_slanted_writing(predictor, digits):
    ink, _ = _number([digits[1][0], digits[9][0], digits[8][0]], [35, 35])
    shear = 0.25  # x' = x + shear * (height - y): the top leans right, as most people write
    img = Image.fromarray((ink * 255).astype(np.uint8))
    wide = img.transform(
        (img.width + int(shear * img.height), img.height),
        Image.Transform.AFFINE,
        (1, shear, -shear * img.height, 0, 1, 0),
        resample=Image.Resampling.BILINEAR,
    )
    assert read_number(predictor, _png(np.asarray(wide) / 255.0)).number == "198"


def test_twelve_digits_read_and_thirteen_are_too_many(predictor, digits):
    truth = "031415926535"
    parts = [digits[int(c)][k % 3] for k, c in enumerate(truth)]
    ink, _ = _number(parts, [30] * (len(parts) - 1))
    assert read_number(predictor, _png(ink)).number == truth
    ink, _ = _number([*parts, digits[8][0]], [30] * len(parts))
    reading = read_number(predictor, _png(ink))
    assert reading.number is None and reading.not_a_number and str(MAX_DIGITS) in reading.reason


def test_a_small_number_in_a_big_photo_is_found_at_full_resolution(predictor, digits):
    ink, boxes = _number([digits[4][0], digits[2][3]], [30])
    page = np.zeros((1800, 2400))
    page[1200 : 1200 + ink.shape[0], 300 : 300 + ink.shape[1]] = ink
    reading = read_number(predictor, _png(page))
    assert reading.number == "42"
    x, y, _, _ = reading.digits[0].box
    assert abs(x - (300 + boxes[0][0])) <= 6 and abs(y - (1200 + boxes[0][1])) <= 6


def test_a_tiny_number_in_a_big_noisy_photo_is_found_where_it_stands_out(predictor, digits):
    small = [
        np.asarray(Image.fromarray(d).resize((d.shape[1] // 4, d.shape[0] // 4), Image.BILINEAR))
        for d in (digits[7][0], digits[3][2], digits[9][0])
    ]  # 28 px tall: a number 80 px wide in a 2000 px photo
    ink, _ = _number(small, [6, 6])
    rng = np.random.default_rng(5)
    light = np.linspace(150, 235, 2000)[None, :] * np.ones((1500, 1))  # a shadow across the page
    page = light + rng.normal(0, 4, light.shape)
    page[900 : 900 + ink.shape[0], 1300 : 1300 + ink.shape[1]] *= 1 - 0.7 * ink
    buffer = io.BytesIO()
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=85)
    reading = read_number(predictor, buffer.getvalue())
    assert reading.number == "739"
    x, y, _, _ = reading.digits[0].box
    assert 1300 <= x <= 1300 + 50 and 900 <= y <= 900 + 50


def test_blank_is_no_digit_and_ink_without_digits_is_not_a_number(predictor):
    blank = read_number(predictor, _png(np.zeros((120, 360))))
    assert blank.no_digit and blank.number is None and blank.digits == []
    cross = _strokes((360, 160), [[(120, 20), (240, 140)], [(240, 20), (120, 140)]], width=9)
    reading = read_number(predictor, _png(cross))
    assert reading.not_a_number and reading.number is None and not reading.no_digit


def test_a_batch_reads_as_each_image_alone(predictor, digits):
    one, _ = _number([digits[3][0], digits[1][1]], [30])
    two, _ = _number([digits[9][1], digits[0][4], digits[5][1]], [30, 40])
    files = [_png(one), _png(np.zeros((50, 90))), _png(two)]
    batch = read_numbers(predictor, files)
    assert [r.number for r in batch] == [read_number(predictor, f).number for f in files] == ["31", None, "905"]


def test_the_aspect_figures_are_the_ones_measured_on_mnist_training_digits(mnist_root):
    splits = load_mnist(mnist_root)
    measured = aspect_statistics(splits.train_images[:50_000], splits.train_labels[:50_000])
    assert np.allclose(measured, ASPECTS, atol=1e-3)


class _FakeStrings:
    """A string reader that reads every blob as the digits it was given (frames as given)."""

    def __init__(self, *digits: tuple[int, tuple[int, int]]):
        self.digits = digits
        self.inputs: list[np.ndarray] = []

    def read(self, inputs: list[np.ndarray]) -> list[list[StringDigit]]:
        self.inputs.extend(inputs)
        return [[StringDigit(d, np.where(np.arange(10) == d, 0.91, 0.01), f) for d, f in self.digits] for _ in inputs]


def test_a_cut_blob_is_also_read_whole_by_the_string_reader_its_ink_parted_between_the_digits(predictor, digits):
    a, b = digits[3][0], digits[5][1]
    ink, boxes = _number([a, b], [_touching(a, b) - 2])
    reader = _FakeStrings((3, (1, 4)), (5, (7, 10)))
    reading = read_number(predictor, _png(ink), reader)
    assert len(reader.inputs) == 1 and reader.inputs[0].shape[0] == STRING_HEIGHT
    assert reading.number == "35"
    (x0, _, w0, _), (x1, _, w1, _) = (d.box for d in reading.digits)
    assert x0 < x1 and x0 + w0 <= x1 + 6  # side by side (their faint edges overlap)
    assert abs(x0 - boxes[0][0]) <= 8 and abs(x1 + w1 - boxes[1][0] - boxes[1][2]) <= 8
    assert all(d.input_image.shape == (28, 28) and len(d.probabilities) == 10 for d in reading.digits)


def test_the_digit_model_has_a_say_in_what_the_string_reader_reads(predictor, digits):
    a, b = digits[3][0], digits[5][1]
    ink, _ = _number([a, b], [_touching(a, b) - 2])
    assert read_number(predictor, _png(ink), _FakeStrings((8, (1, 4)), (6, (7, 10)))).number == "35"
    assert read_number(predictor, _png(ink), _FakeStrings()).number == "35"  # no digit read whole: cut
