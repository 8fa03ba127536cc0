"""The number suite: each kind draws what it claims from the test digits given; the report's arithmetic; the CLI."""

from __future__ import annotations

import io
import json
import sys
import time
import types
from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from bench import numbers
from bench.numbers import DIGIT_COUNTS, KINDS, NumberSample, SourceDigits, build_suite, evaluate, lay_out
from bench.robustness import load_font

PER_KIND = 3


def _fake_test_set() -> tuple[np.ndarray, np.ndarray]:
    """Digits 0-9 typed in two fonts as 28x28 white-on-black images, MNIST-like, each glyph one piece of ink."""
    images, labels = [], []
    for path in numbers.typed_fonts()[:2]:
        font = load_font(path, 22)
        for label in range(10):
            img = Image.new("L", (28, 28), 0)
            ImageDraw.Draw(img).text((14, 14), str(label), font=font, fill=255, anchor="mm")
            images.append(np.asarray(img, dtype=np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels)


FAKE_IMAGES, FAKE_LABELS = _fake_test_set()


@pytest.fixture(scope="module")
def suite() -> list[NumberSample]:
    return build_suite(FAKE_IMAGES, FAKE_LABELS, per_kind=PER_KIND)


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _ink(img: Image.Image, photo: bool = False) -> np.ndarray:
    """Boolean ink: the alpha channel of a canvas export, else what stands far from the paper's median (in a
    photo's uneven light, from the paper around it)."""
    if img.mode == "RGBA":
        return np.asarray(img)[..., 3] > 127
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    if not photo:
        away = np.abs(grey - np.median(grey))
        return away > 0.5 * np.percentile(away, 99.9)
    grey = ndimage.gaussian_filter(grey, 1.0)  # the sensor noise off; a tiny number's ink is a few hundred pixels
    away = np.abs(grey - ndimage.uniform_filter(grey, 61))
    return away > 0.5 * away.max()


def _pieces(ink: np.ndarray, min_area: int = 30) -> int:
    labels, count = ndimage.label(ink, structure=np.ones((3, 3)))
    areas = ndimage.sum(ink, labels, range(1, count + 1))
    return int(np.sum(np.asarray(areas) >= min_area))


def test_every_kind_renders_decodable_numbers_of_test_digits(suite):
    assert [s.kind for s in suite] == [k for k in KINDS for _ in range(PER_KIND)]
    for sample in suite:
        lo, hi = DIGIT_COUNTS[sample.kind]
        assert sample.truth.isdigit() and lo <= len(sample.truth) <= hi, sample
        img = _open(sample.data)
        assert min(img.size) >= 16 and _ink(img).any(), sample.kind
        if sample.kind == "typed":
            assert sample.source_indices == ()
        else:  # one MNIST test digit per position, of the label the truth says
            assert len(sample.source_indices) == len(sample.truth)
            assert "".join(str(FAKE_LABELS[i]) for i in sample.source_indices) == sample.truth


def test_the_suite_is_deterministic_with_its_own_seed(suite):
    from bench import not_a_digit

    kinds = ("typed", "touching", "canvas")  # a kind's numbers do not depend on the others built with it
    again = build_suite(FAKE_IMAGES, FAKE_LABELS, per_kind=PER_KIND, kinds=kinds)
    assert [s.data for s in again] == [s.data for k in kinds for s in suite if s.kind == k]
    other = build_suite(FAKE_IMAGES, FAKE_LABELS, per_kind=PER_KIND, seed=numbers.SEED + 1, kinds=kinds)
    assert not {s.data for s in other} & {s.data for s in again}
    assert numbers.SEED not in (not_a_digit.SEED, 0)  # the robustness suite's default seed is 0


def test_leading_zeros_are_drawn_and_kept():
    rng = np.random.default_rng(0)
    strings = [numbers.digit_string(rng, 2, 6) for _ in range(400)]
    assert any(s.startswith("0") for s in strings)
    assert {len(s) for s in strings} == {2, 3, 4, 5, 6}


def _rows(mode: str, count: tuple[int, int], n: int = 20) -> list[tuple[str, numbers.Row]]:
    digits = SourceDigits(FAKE_IMAGES, FAKE_LABELS)
    rng = np.random.default_rng(7)
    rows = []
    while len(rows) < n:
        truth = numbers.digit_string(rng, *count)
        style = "pen" if len(rows) % 2 else "shape"
        try:
            rows.append((truth, lay_out(numbers._maker(truth, digits, 90, style, rng), len(truth), 90, mode, rng)))
        except numbers.NoRoom:
            continue
    return rows


def _columns(box: tuple[int, int, int, int]) -> tuple[int, int]:
    return box[0], box[0] + box[2]


def test_separated_digits_have_a_column_of_paper_between_them():
    for truth, row in _rows("gap", (2, 6)):
        assert len(row.boxes) == len(truth)
        for a, b in zip(row.boxes, row.boxes[1:], strict=False):
            assert _columns(a)[1] < _columns(b)[0]


def test_touching_neighbours_share_connected_ink():
    for truth, row in _rows("touch", (2, 3)):
        for a, b in zip(row.solids, row.solids[1:], strict=False):
            assert (ndimage.binary_dilation(a, np.ones((3, 3))) & b).any(), truth


def test_overlapping_boxes_overlap_and_their_ink_does_not_touch():
    for truth, row in _rows("overlap", (2, 4)):
        for a, b in zip(row.boxes, row.boxes[1:], strict=False):
            assert _columns(b)[0] < _columns(a)[1], truth  # the next digit starts inside this one's columns
        for i, a in enumerate(row.solids):
            grown = ndimage.binary_dilation(a, np.ones((3, 3)))
            assert not any((grown & b).any() for b in row.solids[i + 1 :]), truth


def test_the_images_show_it(suite):
    for sample in suite:
        ink = _ink(_open(sample.data))
        if sample.kind == "separated":  # a canvas export: one run of inked columns per digit
            runs = np.diff(np.concatenate([[0], ink.any(axis=0).astype(int), [0]]))
            assert int((runs == 1).sum()) == len(sample.truth), sample.truth
        if sample.kind == "touching":  # each glyph is one piece, and neighbours connect: one piece in all
            assert _pieces(ink) == 1, sample.truth


def test_canvas_numbers_are_what_the_number_page_sends(suite):
    for sample in (s for s in suite if s.kind == "canvas"):
        img = _open(sample.data)
        assert img.format == "PNG" and img.mode == "RGBA" and img.size == numbers.NUMBER_CANVAS
        rgba = np.asarray(img)
        inked = rgba[..., 3] > 0
        assert inked.any() and not rgba[..., :3].any()  # black strokes on transparent: the drawing is the alpha


def test_latency_files_are_four_digit_canvases_and_one_digit_canvases_as_tall():
    wide, single = numbers.latency_files(FAKE_IMAGES, FAKE_LABELS, count=2)
    assert [_open(d).size for d in wide] == [numbers.NUMBER_CANVAS] * 2
    assert [_open(d).size for d in single] == [(280, 280)] * 2
    for data in wide:
        runs = np.diff(np.concatenate([[0], _ink(_open(data)).any(axis=0).astype(int), [0]]))
        assert int((runs == 1).sum()) == numbers.LATENCY_DIGITS


def test_photos_dark_grounds_and_tiny_numbers(suite):
    for sample in suite:
        img = _open(sample.data)
        grey = np.asarray(img.convert("L"), dtype=np.float32)
        ink = _ink(img, photo=sample.kind in ("paper_photo", "tiny_in_big_image"))
        if sample.kind == "paper_photo":
            assert img.format == "JPEG" and img.mode == "RGB"
            below = grey - ndimage.uniform_filter(grey, 61)
            assert below[ink].mean() < -15 and np.median(grey) > 120  # dark ink on light paper, however lit
        if sample.kind == "dark_background":
            assert np.median(grey) < 90 and grey[ink].mean() > np.median(grey) + 60
        if sample.kind == "tiny_in_big_image":
            assert img.format == "JPEG" and sorted(img.size) == [1500, 2000]
            cols = np.flatnonzero(ink.any(axis=0))
            assert 30 <= cols[-1] - cols[0] + 1 <= 160, sample.family


def test_typed_numbers_never_use_a_training_font(suite):
    fonts = numbers.typed_fonts()
    assert fonts and not any(numbers.is_training_font(path) for path in fonts)
    typed = [s.family for s in suite if s.kind == "typed"]
    assert typed and all(any(path.endswith(f"/{stem}.ttf") for path in fonts) for stem in typed)


# ---------------------------------------------------------------- the report on fake readers


@dataclass(frozen=True)
class FakeDigit:
    digit: int
    refused: bool = False


@dataclass(frozen=True)
class FakeReading:
    number: str | None
    digits: list[FakeDigit] = field(default_factory=list)
    no_digit: bool = False
    not_a_number: bool = False


def _reading(text: str) -> FakeReading:
    return FakeReading(text, [FakeDigit(int(c)) for c in text])


class Truthful:
    """Reads every number right: it knows the suite."""

    def __init__(self, samples: list[NumberSample]):
        self.truth = {s.data: s.truth for s in samples}

    def __call__(self, data: bytes) -> FakeReading:
        return _reading(self.truth[data])


def test_a_reader_that_is_always_right(suite):
    report = evaluate(Truthful(suite), suite)
    assert set(report["per_kind"]) == set(KINDS)
    for row in [*report["per_kind"].values(), report["overall"]]:
        assert row["whole_number"] == row["count_right"] == row["digit_accuracy"] == 1.0
        assert row["no_number"] == 0.0 and row["wrong_examples"] == [] and row["numbers_per_second"] > 0
    assert report["overall"]["count"] == len(suite)
    assert report["overall"]["digits_scored"] == sum(len(s.truth) for s in suite)
    assert set(report["whole_number_by_length"].values()) == {1.0}


def test_a_reader_that_drops_a_digit(suite):
    truthful = Truthful(suite)
    report = evaluate(lambda data: _reading(truthful.truth[data][:-1]), suite)
    overall = report["overall"]
    assert overall["whole_number"] == 0.0 and overall["count_right"] == 0.0
    assert overall["digit_accuracy"] is None and overall["digits_scored"] == 0  # no number had the right count
    assert overall["no_number"] == 0.0
    assert overall["wrong_examples"][0]["read"] == overall["wrong_examples"][0]["truth"][:-1]


def test_a_reader_that_misreads_the_last_digit_or_refuses_a_digit(suite):
    truthful = Truthful(suite)

    def misread(data: bytes) -> FakeReading:
        truth = truthful.truth[data]
        return _reading(truth[:-1] + str((int(truth[-1]) + 1) % 10))

    overall = evaluate(misread, suite)["overall"]
    assert overall["whole_number"] == 0.0 and overall["count_right"] == 1.0
    expected = 1 - len(suite) / sum(len(s.truth) for s in suite)
    assert overall["digit_accuracy"] == pytest.approx(expected)

    def refuses_first(data: bytes) -> FakeReading:
        truth = truthful.truth[data]
        digits = [FakeDigit(int(truth[0]), refused=True)] + [FakeDigit(int(c)) for c in truth[1:]]
        return FakeReading(None, digits, not_a_number=True)

    overall = evaluate(refuses_first, suite)["overall"]
    assert overall["digit_accuracy"] == pytest.approx(expected)  # a refused digit is not a right one
    assert overall["no_number"] == 1.0 and overall["not_a_number"] == len(suite) and overall["no_digit"] == 0


def test_a_reader_that_finds_nothing(suite):
    report = evaluate(lambda data: FakeReading(None, no_digit=True), suite)
    assert report["overall"]["no_number"] == 1.0 and report["overall"]["no_digit"] == len(suite)
    assert report["overall"]["whole_number"] == 0.0 and report["overall"]["count_right"] == 0.0


def _busy(seconds: float):
    def call(data: bytes) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            pass

    return call


def test_the_latency_ratio_compares_side_by_side():
    files = [b"a", b"b"]
    result = numbers.latency_ratio(_busy(0.003), _busy(0.0), files, files, rounds=2, repeats=10)
    assert result["ratio"] > 1.0 and result["number_p50_ms"] > result["digit_p50_ms"] >= 0
    assert result["rounds"] == 2 and result["repeats_per_round"] == 10


# ---------------------------------------------------------------- wiring and the command line


class NoTrainingSplit:
    """A stand-in for ml.data's splits that fails if anything reaches for the training digits."""

    test_images, test_labels = FAKE_IMAGES, FAKE_LABELS

    def __getattr__(self, name: str):
        raise AssertionError(f"the benchmark read {name}")


def test_load_hands_over_the_test_digits_only(monkeypatch):
    import ml.data
    import ml.predictor

    predictor = types.SimpleNamespace(version="fake-1", backend=types.SimpleNamespace(name="fake"))
    predictor.predict = lambda data: None
    read = types.ModuleType("ml.numbers")
    read.read_number = lambda predictor, data: _reading("12")
    monkeypatch.setitem(sys.modules, "ml.numbers", read)
    monkeypatch.setattr(ml.data, "load_mnist", NoTrainingSplit)
    monkeypatch.setattr(ml.predictor.Predictor, "from_checkpoint", lambda path, threads: predictor)
    setup = numbers.load(None)
    assert setup.test_images is FAKE_IMAGES and setup.test_labels is FAKE_LABELS
    assert setup.read(b"x").number == "12" and setup.model_version == "fake-1"


def test_the_command_line_writes_the_report(monkeypatch, tmp_path, capsys):
    known: dict[bytes, str] = {}
    real_build = numbers.build_suite

    def build_and_remember(*args, **kwargs):
        samples = real_build(*args, **kwargs)
        known.update((s.data, s.truth) for s in samples)
        return samples

    setup = numbers.Setup(
        FAKE_IMAGES, FAKE_LABELS, lambda data: _reading(known.get(data, "0000")), _busy(0.0), "fake-1", "fake"
    )
    monkeypatch.setattr(numbers, "load", lambda checkpoint: setup)
    monkeypatch.setattr(numbers, "build_suite", build_and_remember)
    out = tmp_path / "results" / "numbers.json"
    assert numbers.main(["--per-kind", "1", "--json", str(out), "--rounds", "1", "--repeats", "2"]) == 0
    report = json.loads(out.read_text())
    assert report["model_version"] == "fake-1" and report["seed"] == numbers.SEED and report["numbers_per_kind"] == 1
    assert list(report["per_kind"]) == list(KINDS) and report["overall"]["whole_number"] == 1.0
    assert report["targets"] == numbers.TARGETS and report["latency"]["rounds"] == 1
    assert report["meets_targets"]["whole_number_separated"] and report["meets_targets"]["whole_number_touching"]
    assert "separated" in capsys.readouterr().out
