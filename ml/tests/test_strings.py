"""The string reader of touching digits: its synthetic strings, its input, CTC decoding and the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from ml.strings import (
    BLANK,
    FRAME,
    MAX_STRING,
    STRING_HEIGHT,
    decode,
    frames_of,
    pad_batch,
    shipped_reader,
    string_input,
    synthesise,
)


def _frames(*labels: int, sure: float = 0.9) -> np.ndarray:
    """Frame probabilities whose most probable class is each of ``labels`` in turn."""
    out = np.full((len(labels), BLANK + 1), (1 - sure) / BLANK, dtype=np.float32)
    out[np.arange(len(labels)), labels] = sure
    return out


def test_decoding_merges_a_run_of_one_digit_and_blanks_part_repeated_digits():
    digits = decode(_frames(BLANK, 4, 4, BLANK, 4, 7, BLANK, BLANK))
    assert [d.digit for d in digits] == [4, 4, 7]
    assert [d.frames for d in digits] == [(1, 3), (4, 5), (5, 6)]
    assert all(d.probabilities.shape == (10,) and d.probabilities.sum() == pytest.approx(1) for d in digits)
    assert decode(_frames(BLANK, BLANK)) == []


def test_the_input_is_the_ink_scaled_to_the_reader_height_with_its_width_in_proportion():
    ink = np.zeros((100, 250), dtype=np.float32)
    ink[10:90, 20:230] = 1.0
    x = string_input(ink)
    assert x.shape == (STRING_HEIGHT, 70 + 4)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert x[:2].max() == 0 and x[:, :2].max() == 0  # the paper margin


def test_a_batch_pads_to_whole_frames_on_the_right():
    batch = pad_batch([np.ones((STRING_HEIGHT, 9), np.float32), np.ones((STRING_HEIGHT, 3), np.float32)])
    assert batch.shape == (2, 1, STRING_HEIGHT, 12)
    assert batch[1, 0, :, 3:].max() == 0
    assert frames_of(9) == 3 and frames_of(8) == 2 and frames_of(12) == 12 // FRAME


def test_synthetic_strings_hold_one_to_four_digits_of_the_given_images_and_repeat_with_their_seed():
    rng = np.random.default_rng(0)
    images = (rng.random((50, 28, 28)) > 0.7).astype(np.uint8) * 255
    images[:, :4], images[:, -4:] = 0, 0
    labels = np.arange(50) % 10
    strings = synthesise(images, labels, 40, seed=3)
    assert all(s.image.shape[0] == STRING_HEIGHT and 1 <= len(s.digits) <= MAX_STRING for s in strings)
    assert {len(s.digits) for s in strings} >= {1, 2, 3}
    again = synthesise(images, labels, 40, seed=3)
    assert all(np.array_equal(a.image, b.image) and a.digits == b.digits for a, b in zip(strings, again, strict=True))


def test_the_shipped_reader_reads_touching_strings_of_mnist_test_digits(mnist_root):
    from ml.data import load_mnist

    splits = load_mnist(mnist_root)
    strings = [s for s in synthesise(splits.test_images, splits.test_labels, 200, seed=11) if len(s.digits) >= 2]
    read = shipped_reader().read([s.image for s in strings])
    right = sum(tuple(d.digit for d in r) == s.digits for r, s in zip(read, strings, strict=True))
    assert right / len(strings) >= 0.85
