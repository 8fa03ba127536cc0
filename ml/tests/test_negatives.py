"""Synthetic not-a-digit training inputs: model-input shape, determinism, kinds, the font split."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ml.negatives import (
    DIGIT_LIKE_LETTERS,
    KINDS,
    LETTERS,
    NegativesConfig,
    OneLikeness,
    cached_training_negatives,
    is_training_font,
    training_font_paths,
    training_negatives,
)
from ml.tests.drawing import digit_mask

DIGITS = ("7", "4", "2", "0")


@pytest.fixture(scope="module")
def drawn_digits() -> tuple[np.ndarray, np.ndarray]:
    """A few MNIST-like uint8 28x28 digits (ink high), so most tests need no MNIST files."""
    images = [
        np.rint(255 * digit_mask(d, size=(28, 28), height=20, stroke=2.5, centre=(14 + dx, 14))).astype(np.uint8)
        for d in DIGITS
        for dx in (-1, 0, 1)
    ]
    labels = [int(d) for d in DIGITS for _ in range(3)]
    return np.stack(images), np.array(labels)


def small(n: int = 4, **kw) -> NegativesConfig:
    return NegativesConfig(**({kind: n for kind in KINDS} | kw))


@pytest.fixture(scope="module")
def negatives(drawn_digits):
    return training_negatives(*drawn_digits, small(seed=3))


def test_model_inputs_shape_dtype_and_range(negatives):
    assert negatives.images.dtype == np.float32
    assert negatives.images.shape == (len(negatives.kinds), 28, 28)
    assert negatives.images.min() >= 0.0 and negatives.images.max() <= 1.0
    assert np.all(negatives.images.reshape(len(negatives.images), -1).max(axis=1) > 0.5)  # ink, not blank
    # Preprocess fits the ink into the 20x20 box inside the frame, as for every real input.
    ink = negatives.images > 0.05
    assert ink.any(axis=2).sum(axis=1).max() <= 20 and ink.any(axis=1).sum(axis=1).max() <= 20


def test_every_kind_present_with_its_count_and_drops_accounted(negatives):
    kinds, counts = np.unique(negatives.kinds, return_counts=True)
    assert dict(zip(kinds.tolist(), counts.tolist(), strict=True)) == {kind: 4 for kind in KINDS}
    for kind in KINDS:
        assert negatives.attempts[kind] == 4 + sum(negatives.dropped[kind].values())


def test_deterministic_for_a_seed(drawn_digits, negatives):
    again = training_negatives(*drawn_digits, small(seed=3))
    np.testing.assert_array_equal(again.images, negatives.images)
    assert again.kinds.tolist() == negatives.kinds.tolist()
    other = training_negatives(*drawn_digits, small(seed=4))
    assert not np.array_equal(other.images, negatives.images)


def test_each_kind_draws_from_its_own_stream(drawn_digits, negatives):
    fewer = training_negatives(*drawn_digits, small(seed=3, letters=1, scribbles=0))
    assert "scribbles" not in fewer.kinds
    np.testing.assert_array_equal(fewer.of_kind("shapes"), negatives.of_kind("shapes"))


def test_training_fonts_are_sans_only_never_serif_or_mono():
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansCondensed-Oblique.ttf"):
        assert is_training_font(f"/usr/share/fonts/truetype/dejavu/{name}")
    for name in ("DejaVuSansMono.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerifCondensed.ttf", "DejaVuMathTeXGyre.ttf"):
        assert not is_training_font(f"/usr/share/fonts/truetype/dejavu/{name}")
    assert not is_training_font("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")


def test_installed_training_fonts_draw_the_letters(drawn_digits):
    fonts = training_font_paths()
    if not fonts:
        pytest.skip("no DejaVu Sans fonts installed: letters are stroke-drawn (tested below)")
    assert all("Mono" not in f and "Serif" not in f for f in fonts)
    result = training_negatives(*drawn_digits, NegativesConfig(**{k: 0 for k in KINDS} | {"letters": 6}))
    assert result.letters_from_fonts and result.fonts == fonts
    assert len(result.of_kind("letters")) == 6


def test_letters_without_fonts_are_stroke_drawn(drawn_digits):
    result = training_negatives(*drawn_digits, NegativesConfig(**{k: 0 for k in KINDS} | {"letters": 6}, fonts=()))
    assert not result.letters_from_fonts
    assert len(result.of_kind("letters")) == 6


def test_a_benchmark_font_is_refused(drawn_digits):
    with pytest.raises(ValueError, match="TRAINING_FONT_FAMILIES"):
        training_negatives(*drawn_digits, small(1, fonts=("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",)))


def test_letters_that_are_digit_shapes_are_left_out():
    assert not set(LETTERS) & set("OoIl")
    assert DIGIT_LIKE_LETTERS <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    assert "A" in LETTERS  # the letter that read as a 4 at 99.9% in issue 13


def test_mnist_kinds_need_training_digits():
    with pytest.raises(ValueError, match="MNIST training digits"):
        training_negatives(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), small(1))


def test_several_digits_hold_the_ink_of_two_or_three_digits(mnist_root):
    from ml.data import load_mnist

    mnist = load_mnist(mnist_root)
    config = NegativesConfig(**{k: 0 for k in KINDS} | {"several_digits": 24})
    result = training_negatives(mnist.train_images[:2000], mnist.train_labels[:2000], config)
    images = result.of_kind("several_digits")
    assert len(images) == 24
    for image in images:
        rows, cols = np.flatnonzero(image.max(axis=1) > 0.2), np.flatnonzero(image.max(axis=0) > 0.2)
        height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert width >= 1.2 * height  # side by side: fitted to the 20 px box by its width
        assert width >= 19


def _stroke(points: list[tuple[float, float]], width: float) -> np.ndarray:
    """A pen line through ``points`` on a 28x28 float image (ink high), drawn at 4x and averaged down."""
    canvas = Image.new("L", (112, 112), 0)
    ImageDraw.Draw(canvas).line([(4 * x, 4 * y) for x, y in points], fill=255, width=round(4 * width), joint="curve")
    return np.asarray(canvas.resize((28, 28), Image.BOX), dtype=np.float32) / 255.0


def _ones(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Straight strokes, upright or slightly slanted, labelled 1, as uint8 28x28 (ink high)."""
    rng = np.random.default_rng(5)
    images = []
    for _ in range(n):
        top, bottom = 14 + rng.uniform(-3, 3), 14 + rng.uniform(-3, 3)
        images.append(np.rint(255 * _stroke([(top, 4), (bottom, 24)], rng.uniform(1.8, 3.0))).astype(np.uint8))
    return np.stack(images), np.ones(n, dtype=np.int64)


def test_one_likeness_tells_a_straight_stroke_from_a_bent_one():
    ones = OneLikeness(*_ones(), seed=0)
    bar = _stroke([(15, 4), (13, 24)], 2.4)
    check_mark = _stroke([(5, 16), (10, 23), (23, 5)], 2.4)
    bracket = _stroke([(17, 4), (12, 9), (11, 14), (12, 19), (17, 24)], 2.4)
    assert ones.reads_as_a_one(bar)
    assert not ones.reads_as_a_one(check_mark)
    assert not ones.reads_as_a_one(bracket)


def test_without_any_1s_nothing_reads_as_a_one(drawn_digits):
    ones = OneLikeness(*drawn_digits, seed=0)
    assert not ones.reads_as_a_one(drawn_digits[0][0].astype(np.float32) / 255)


def test_cached_negatives_are_made_once_and_read_back(drawn_digits, tmp_path):
    first = cached_training_negatives(*drawn_digits, small(2, seed=9), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("negatives-*.npz"))) == 1
    second = cached_training_negatives(*drawn_digits, small(2, seed=9), cache_dir=tmp_path)
    np.testing.assert_array_equal(first.images, second.images)
    assert list(first.kinds) == list(second.kinds)
    other = cached_training_negatives(*drawn_digits, small(2, seed=10), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("negatives-*.npz"))) == 2 and not np.array_equal(other.images, first.images)


def test_a_damaged_cache_file_is_made_again(drawn_digits, tmp_path):
    made = cached_training_negatives(*drawn_digits, small(2, seed=9), cache_dir=tmp_path)
    (path,) = tmp_path.glob("negatives-*.npz")
    path.write_bytes(b"not a numpy file")
    again = cached_training_negatives(*drawn_digits, small(2, seed=9), cache_dir=tmp_path)
    np.testing.assert_array_equal(made.images, again.images)
