"""The not-a-digit suite: every kind decodable, deterministic, off the training fonts; the score seam and report."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from bench import not_a_digit
from bench.not_a_digit import KINDS, build_negatives, evaluate, refused, rejection_score
from bench.tests.test_robustness import FAKE_IMAGES, FAKE_LABELS

PER_KIND = 4


@pytest.fixture(scope="module")
def negatives() -> list[not_a_digit.Negative]:
    return build_negatives(FAKE_IMAGES, FAKE_LABELS, per_kind=PER_KIND)


def test_every_kind_renders_decodable_images(negatives):
    assert [n.kind for n in negatives] == [k for k in KINDS for _ in range(PER_KIND)]
    for negative in negatives:
        img = Image.open(io.BytesIO(negative.data))
        img.load()
        assert min(img.size) >= 16, negative.family
        grey = np.asarray(img.convert("RGBA" if img.mode == "RGBA" else "L"))
        assert grey.std() > 0, f"{negative.kind} {negative.family} is one flat colour"


def test_the_suite_is_deterministic(negatives):
    again = build_negatives(FAKE_IMAGES, FAKE_LABELS, per_kind=PER_KIND)
    assert [n.data for n in again] == [n.data for n in negatives]
    other = build_negatives(FAKE_IMAGES, FAKE_LABELS, per_kind=PER_KIND, seed=not_a_digit.SEED + 1)
    assert [n.data for n in other] != [n.data for n in negatives]


def test_digit_based_kinds_name_their_test_digits(negatives):
    for negative in negatives:
        if negative.kind in ("several_digits", "fragments", "faint_or_cut"):
            assert negative.source_indices and all(0 <= i < len(FAKE_IMAGES) for i in negative.source_indices)
        if negative.kind == "fragments":  # any piece of a 1 is still a 1
            assert FAKE_LABELS[negative.source_indices[0]] != 1


def test_letters_and_symbols_never_use_a_training_font(negatives):
    fonts = not_a_digit.benchmark_fonts()
    assert fonts, "no font outside the training ones draws the suite's letters"
    assert not any(not_a_digit.is_training_font(path) for path in fonts)
    assert not any("DejaVuSans." in p or "DejaVuSansCondensed" in p for p in fonts)
    typed = [n.family.split(":")[0] for n in negatives if ":" in n.family]
    assert typed and all(any(path.endswith(f"/{stem}.ttf") for path in fonts) for stem in typed)


@dataclass(frozen=True)
class FakeAnswer:
    confidence: float | None
    probabilities: list[float] | None = None
    not_a_digit: bool = False

    @property
    def no_digit(self) -> bool:
        return self.confidence is None and not self.not_a_digit


@dataclass(frozen=True)
class ScoredAnswer(FakeAnswer):
    rejection_score: float | None = None


def test_the_score_seam():
    assert rejection_score(FakeAnswer(confidence=0.9)) == pytest.approx(0.1)
    assert rejection_score(FakeAnswer(confidence=None)) == 1.0  # "no digit": refused before the model
    assert rejection_score(ScoredAnswer(confidence=0.9, rejection_score=0.7)) == 0.7
    assert rejection_score(ScoredAnswer(confidence=0.9)) == pytest.approx(0.1)
    assert not refused(FakeAnswer(confidence=0.9))
    assert refused(FakeAnswer(confidence=0.2, not_a_digit=True))
    assert refused(FakeAnswer(confidence=None))


class Everything:
    """Refuses every image, with the same score: nothing told apart."""

    def predict_batch(self, images):
        return [FakeAnswer(confidence=0.5, probabilities=[0.5] + [0.5 / 9] * 9, not_a_digit=True) for _ in images]


class Nothing:
    """Reads every image as a digit, surer of the real digits than of the rest."""

    def __init__(self, digits: list[bytes]):
        self.digits = set(digits)

    def predict_batch(self, images):
        return [FakeAnswer(confidence=0.99 if data in self.digits else 0.6) for data in images]


def _digit_files() -> list[bytes]:
    from bench.accuracy import png_bytes

    return [png_bytes(d) for d in FAKE_IMAGES]


def test_a_predictor_that_refuses_everything(negatives):
    report = evaluate(Everything(), negatives, _digit_files(), {"thin_pen": _digit_files()[:2]})
    assert set(report["kinds"]) == set(KINDS)
    assert all(row["share"] == 1.0 and row["count"] == PER_KIND for row in report["kinds"].values())
    assert all(row["median_max_probability"] == 0.5 for row in report["kinds"].values())
    assert report["negatives_overall"]["share"] == 1.0
    assert report["false_refusals"]["mnist_test"] == {"count": 4, "refused": 4, "share": 1.0, "no_digit": 0}
    assert report["false_refusals"]["robustness"]["thin_pen"]["share"] == 1.0
    assert report["auroc"] == 0.5


def test_a_predictor_that_refuses_nothing(negatives):
    report = evaluate(Nothing(_digit_files()), negatives, _digit_files(), {"thin_pen": _digit_files()})
    assert all(row["share"] == 0.0 for row in report["kinds"].values())
    assert all(row["median_max_probability"] is None for row in report["kinds"].values())  # no probabilities
    assert report["false_refusals"]["mnist_test"]["share"] == 0.0
    assert report["false_refusals"]["robustness_worst"] == "thin_pen"
    assert report["auroc"] == 1.0


class Timed:
    """A predictor whose model step takes a fixed extra time, to check the ratio's direction."""

    def __init__(self, extra_s: float):
        self.extra_s = extra_s

    def predict_preprocessed(self, prepared):
        import time

        deadline = time.perf_counter() + self.extra_s
        while time.perf_counter() < deadline:
            pass
        return [None for _ in prepared]


def test_the_latency_ratio_compares_side_by_side():
    files = _digit_files()
    result = not_a_digit.latency_ratio(Timed(0.004), Timed(0.0), files, rounds=2, repeats=20)
    assert result["ratio"] > 1.0 and result["p50_ms"] > result["baseline_p50_ms"] >= 0
    assert result["rounds"] == 2 and result["repeats_per_round"] == 20


def test_negatives_that_read_as_a_1_are_drawn_again():
    from ml.negatives import OneLikeness
    from ml.tests.test_negatives import _ones

    ones = OneLikeness(*_ones(), seed=0)
    bar = np.zeros((200, 200), np.uint8)
    bar[30:170, 92:108] = 255
    ring = np.zeros((200, 200), np.uint8)
    yy, xx = np.mgrid[:200, :200]
    ring[np.abs(np.hypot(yy - 100, xx - 100) - 60) < 8] = 255

    def negative(ink: np.ndarray) -> not_a_digit.Negative:
        buffer = io.BytesIO()
        Image.fromarray(255 - ink, "L").save(buffer, format="PNG")
        return not_a_digit.Negative(buffer.getvalue(), "shapes", "test")

    assert not_a_digit.reads_as_a_one(negative(bar), ones)
    assert not not_a_digit.reads_as_a_one(negative(ring), ones)
