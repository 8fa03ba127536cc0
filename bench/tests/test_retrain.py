"""The retraining benchmark's pieces: each style looks as its name says, and corrections are the model's misreads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from bench import retrain
from ml.data import MnistSplits
from ml.tests.drawing import toy_dataset


def _ink(png: bytes) -> np.ndarray:
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)
    return grey < 200  # dark ink on light paper (235-255), as both styles draw


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return toy_dataset(8, seed=5)


def test_every_style_renders_a_dark_digit_on_paper(digits):
    images, _ = digits
    for name, style in retrain.STYLES.items():
        ink = _ink(style.render(images[0], np.random.default_rng(0)))
        assert 0.0002 < ink.mean() < 0.4, name
        assert style.description


def test_the_narrow_style_is_narrow_and_the_slanted_one_leans_forward(digits):
    images, _ = digits
    ones = [i for i in range(len(images)) if images[i].sum()][:4]
    for index in ones:
        narrow = _ink(retrain.render_narrow_thin_pen(images[index], np.random.default_rng(index)))
        rows, cols = np.nonzero(narrow)
        assert np.ptp(cols) < 0.6 * np.ptp(rows)  # tall and condensed
    upright = np.zeros((40, 10), np.float32)
    upright[:, 4:6] = 1.0  # a vertical bar
    leaning = retrain.slanted(upright, 0.5)
    top, bottom = ndimage.center_of_mass(leaning[:5]), ndimage.center_of_mass(leaning[-5:])
    assert top[1] - bottom[1] == pytest.approx(0.5 * 35, abs=2.5)  # the top moved right by half the height
    assert leaning.shape == (40, 30) and leaning.max() <= 1.0


class _Reads:
    """A stand-in predictor: answers a fixed digit for everything, or refuses (-1)."""

    def __init__(self, answer: int):
        self.answer = answer

    def answers(self, inputs: np.ndarray) -> np.ndarray:
        return np.full(len(inputs), self.answer)


def test_corrections_are_only_the_misread_or_refused(digits):
    images, labels = toy_dataset(60, seed=8)
    splits = MnistSplits(images, labels, images[:1], labels[:1], images[:1], labels[:1], checksums={})
    style = retrain.STYLES["narrow_thin_pen"]
    order = np.arange(len(images))
    reads = int(labels[0])
    x, y, used, tried = retrain.make_corrections(style, splits, _Reads(reads), order, 5, np.random.default_rng(0))
    assert len(x) == len(y) == len(used) == 5 and x.shape[1:] == (28, 28)
    assert (y != reads).all() and (labels[used] == y).all()  # only what the model read wrong
    assert tried >= 5
    refused = retrain.make_corrections(style, splits, _Reads(-1), order, 5, np.random.default_rng(0))
    assert list(refused[2]) == list(range(5))  # a refusal is wrong for every digit
