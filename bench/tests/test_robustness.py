"""The robustness suite: every condition present, decodable, labelled and shaped as its name promises."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from bench import robustness
from bench.robustness import CONDITIONS, build_suite, render, sklearn_digits, thin_pen, typed_digits

PER_CONDITION = 2


def _draw(paint) -> np.ndarray:
    """A 28x28 MNIST-like digit: white ink on black, about 20 px tall."""
    img = Image.new("L", (28, 28), 0)
    paint(ImageDraw.Draw(img))
    return np.asarray(img, dtype=np.uint8)


def _one(draw: ImageDraw.ImageDraw) -> None:
    draw.line([(13, 4), (15, 23)], fill=255, width=3)


def _zero(draw: ImageDraw.ImageDraw) -> None:
    draw.ellipse([8, 4, 20, 23], outline=255, width=3)


def _ell(draw: ImageDraw.ImageDraw) -> None:
    """Tall, with a short heavy foot: every flip or rotation of it is told apart from the upright one."""
    draw.rectangle([9, 4, 12, 23], fill=255)
    draw.rectangle([9, 18, 19, 23], fill=255)


FAKE_IMAGES = np.stack([_draw(_one), _draw(_zero), _draw(_ell), _draw(_one)])
FAKE_LABELS = np.array([1, 0, 4, 1])


def _open(sample_or_bytes) -> Image.Image:
    data = getattr(sample_or_bytes, "data", sample_or_bytes)
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _ink(img: Image.Image) -> np.ndarray:
    """Boolean ink of a dark-on-light image."""
    return np.asarray(img.convert("L")) < 128


def _upright_ell(ink: np.ndarray) -> bool:
    """Taller than wide, with the ink's centre in the lower-left of its box, as _ell is drawn."""
    ys, xs = np.nonzero(ink)
    height, width = np.ptp(ys) + 1, np.ptp(xs) + 1
    fy, fx = (ys.mean() - ys.min()) / height, (xs.mean() - xs.min()) / width
    return bool(height > width and fy > 0.5 and fx < 0.5)


@pytest.fixture(scope="module")
def suite() -> list[robustness.Sample]:
    return build_suite(FAKE_IMAGES, FAKE_LABELS, per_condition=PER_CONDITION, seed=3)


def by_condition(samples, condition):
    return [s for s in samples if s.condition == condition]


def test_every_condition_is_present(suite):
    assert set(CONDITIONS) == {s.condition for s in suite}
    for condition in robustness.RENDERERS:
        assert len(by_condition(suite, condition)) == PER_CONDITION


def test_every_sample_decodes(suite):
    for sample in suite:
        img = _open(sample)
        assert img.width > 0 and img.height > 0, sample.condition
        ImageOps.exif_transpose(img).convert("RGB")


def test_labels_follow_their_source_digit(suite):
    for sample in suite:
        if sample.condition in robustness.RENDERERS:
            assert sample.label == FAKE_LABELS[sample.source_index]
        else:
            assert sample.source_index == -1
        assert 0 <= sample.label <= 9


def test_each_condition_uses_distinct_digits(suite):
    for condition in robustness.RENDERERS:
        indices = [s.source_index for s in by_condition(suite, condition)]
        assert len(set(indices)) == len(indices)


def test_same_seed_same_suite_other_seed_other_suite(suite):
    assert build_suite(FAKE_IMAGES, FAKE_LABELS, per_condition=PER_CONDITION, seed=3) == suite
    other = build_suite(FAKE_IMAGES, FAKE_LABELS, per_condition=PER_CONDITION, seed=4)
    assert [s.data for s in other] != [s.data for s in suite]


def test_canvas_alpha_has_real_transparency(suite):
    for sample in by_condition(suite, "canvas_alpha"):
        img = _open(sample)
        assert img.mode == "RGBA"
        alpha = np.asarray(img)[..., 3]
        assert alpha.min() == 0 and alpha.max() == 255
        assert ((alpha > 0) & (alpha < 255)).any(), "stroke edges should be antialiased"
        assert (alpha == 0).mean() > 0.5, "the background is transparent"


def test_exif_rotated_is_stored_turned_and_restored_upright():
    orientations = set()
    for seed in range(16):
        img = _open(render("exif_rotated", FAKE_IMAGES[2], np.random.default_rng(seed)))
        orientation = img.getexif().get(robustness.ORIENTATION_TAG)
        assert orientation in range(2, 9)
        orientations.add(orientation)
        assert not _upright_ell(_ink(img)), f"stored pixels should not be upright (orientation {orientation})"
        assert _upright_ell(_ink(ImageOps.exif_transpose(img))), f"orientation {orientation} not undone"
    assert {3, 6, 8} <= orientations


def test_exif_rotated_samples_in_suite_carry_a_turning_tag(suite):
    for sample in by_condition(suite, "exif_rotated"):
        assert _open(sample).getexif().get(robustness.ORIENTATION_TAG, 1) != 1


def test_palette_mode_is_p_with_and_without_transparency():
    transparent = set()
    for seed in range(12):
        img = _open(render("palette_mode", FAKE_IMAGES[1], np.random.default_rng(seed)))
        assert img.mode == "P"
        assert img.format in ("PNG", "GIF")
        transparent.add("transparency" in img.info)
    assert transparent == {True, False}


def test_file_modes(suite):
    for sample in by_condition(suite, "palette_mode"):
        assert _open(sample).mode == "P"
    for sample in by_condition(suite, "sixteen_bit"):
        img = _open(sample)
        assert img.mode in ("I;16", "I")
        assert np.asarray(img).max() > 255, "values should use the 16-bit range"
    for sample in by_condition(suite, "cmyk"):
        img = _open(sample)
        assert img.mode == "CMYK" and img.format in ("JPEG", "TIFF")
    for sample in by_condition(suite, "jpeg_noise") + by_condition(suite, "photo_uneven_background"):
        assert _open(sample).format == "JPEG"


def test_tiny_digit_in_a_big_canvas(suite):
    for sample in by_condition(suite, "tiny_in_big_canvas"):
        img = _open(sample).convert("L")
        assert min(img.size) >= 1000
        arr = np.asarray(img, dtype=np.int16)
        ys, _ = np.nonzero(np.abs(arr - np.median(arr)) > 60)
        assert 20 <= np.ptp(ys) + 1 <= 70


def test_touching_border_ink_reaches_an_edge(suite):
    for sample in by_condition(suite, "touching_border"):
        arr = np.asarray(_open(sample).convert("L"), dtype=np.int16)
        ink = np.abs(arr - np.median(arr)) > 60
        assert ink[0].any() or ink[-1].any() or ink[:, 0].any() or ink[:, -1].any()


def test_render_rejects_unknown_and_non_mnist_conditions():
    for condition in ("typed_fonts", "sklearn_digits", "no_such_condition"):
        with pytest.raises(KeyError):
            render(condition, FAKE_IMAGES[0], np.random.default_rng(0))


def test_typed_digits_cover_all_ten_and_are_deterministic():
    samples = typed_digits()
    if not robustness.font_paths():
        pytest.skip("no TrueType fonts installed")
    assert samples and {s.label for s in samples} == set(range(10))
    assert all(s.condition == "typed_fonts" and s.source_index == -1 for s in samples)
    assert _open(samples[0]).format == "PNG"
    assert typed_digits() == samples


def test_sklearn_digits_limit():
    samples = sklearn_digits(limit=20)
    assert len(samples) == 20
    assert [s.label for s in samples[:10]] == list(range(10))  # load_digits starts 0, 1, ..., 9
    assert 64 <= _open(samples[0]).width <= 128


def test_contact_sheet_writes_a_png(suite, tmp_path):
    path = tmp_path / "sheet.png"
    shown = [by_condition(suite, c)[0] for c in CONDITIONS]
    robustness.contact_sheet(shown, path, per_row=6)
    sheet = Image.open(path)
    assert sheet.format == "PNG" and sheet.width == 6 * 100


def _ink_size(ink: np.ndarray) -> tuple[int, int]:
    """(width, height) of the ink's box."""
    ys, xs = np.nonzero(ink)
    return int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1


def test_thin_pen_squeezed_is_narrower_and_the_same_height():
    plain = thin_pen(FAKE_IMAGES[1], np.random.default_rng(7), heights=(200, 200))
    narrow = thin_pen(FAKE_IMAGES[1], np.random.default_rng(7), heights=(200, 200), squeeze=(0.4, 0.4))
    width, height = _ink_size(_ink(_open(plain)))
    narrow_width, narrow_height = _ink_size(_ink(_open(narrow)))
    assert abs(narrow_height - height) <= 3
    assert 0.3 * width <= narrow_width <= 0.5 * width
