"""The browser-numbers benchmark: which digits it writes, where their strokes go on the pad, its report; the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import browser_numbers as bn
from bench.browser_numbers import BrowserNumbersReport, NumberResult, choose_numbers
from recognizer.tests import browser_strokes as bs

REPO_ROOT = Path(__file__).resolve().parents[2]
CANVAS = {"x": 39.0, "y": 248.0, "width": 730.0, "height": 243.0}  # the Number page's pad at 1100x900
# Stand-in digits in the traced strokes' pixel grid (112x112): a tall "1", a wide bar, a two-stroke "4".
ONE = [[(56.0, 10.0), (58.0, 100.0)]]
BAR = [[(5.0, 50.0), (107.0, 60.0)]]
FOUR = [[(70.0, 10.0), (20.0, 70.0), (90.0, 70.0)], [(70.0, 30.0), (72.0, 105.0)]]


def _unavailable(reason: str):
    """Missing tooling fails in CI and under `make test`, where it must be there, and skips elsewhere."""
    if os.environ.get("CI") or os.environ.get("DIGITVISION_REQUIRE_MNIST"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def mnist():
    try:
        return bs.mnist_test()
    except Exception as exc:  # whatever the reason (missing files, bad checksum)
        _unavailable(f"MNIST is not available ({exc}); run `make fetch-mnist`")


def test_numbers_are_2_to_4_distinct_test_digits_the_same_for_a_seed():
    chosen = choose_numbers(200, seed=7, test_size=10_000)
    assert chosen == choose_numbers(200, seed=7, test_size=10_000)
    assert chosen != choose_numbers(200, seed=8, test_size=10_000)
    assert {len(number) for number in chosen} == {2, 3, 4}
    for number in chosen:
        assert len(set(number)) == len(number) and all(0 <= i < 10_000 for i in number)
    assert len({i for number in chosen for i in number}) > 400  # spread over the set, not a few favourites


def _digit_extents(strokes: list[bs.Polyline], per_digit: list[int]) -> list[tuple[float, float, float, float]]:
    """(left, right, top, bottom) of each digit's strokes, from how many strokes each digit has."""
    extents, start = [], 0
    for count in per_digit:
        points = [p for stroke in strokes[start : start + count] for p in stroke]
        xs, ys = [x for x, _ in points], [y for _, y in points]
        extents.append((min(xs), max(xs), min(ys), max(ys)))
        start += count
    return extents


def _assert_inside_and_left_to_right(strokes, per_digit, canvas=CANVAS) -> None:
    extents = _digit_extents(strokes, per_digit)
    slot = canvas["width"] / len(per_digit)
    for left, right, top, bottom in extents:
        assert canvas["x"] < left and right < canvas["x"] + canvas["width"]
        assert canvas["y"] < top and bottom < canvas["y"] + canvas["height"]
    for (_, right, _, _), (left, _, _, _) in zip(extents, extents[1:], strict=False):
        assert left - right >= 0.1 * slot  # a visible gap between neighbours, as a person leaves


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 12])
def test_a_numbers_strokes_stay_on_the_pad_left_to_right_with_gaps(count):
    shapes = [ONE, BAR, FOUR]
    digits = [shapes[i % 3] for i in range(count)]
    strokes = bs.lay_out_number(digits, CANVAS)
    assert len(strokes) == sum(len(d) for d in digits)
    _assert_inside_and_left_to_right(strokes, [len(d) for d in digits])
    # Each digit as tall (or wide) as its slot allows, whatever its shape: the same size on the pad.
    sizes = [max(r - le, b - t) for le, r, t, b in _digit_extents(strokes, [len(d) for d in digits])]
    assert max(sizes) - min(sizes) < 1e-6


def test_mnist_numbers_are_laid_out_the_same_way_with_their_labels(mnist):
    _, labels = mnist
    for indices in choose_numbers(10, seed=bn.SEED, test_size=len(labels)):
        strokes, truth = bn.number_strokes(indices, CANVAS)
        assert truth == "".join(str(labels[i]) for i in indices)
        per_digit = [len(bs.digit_strokes(i)[0]) for i in indices]
        _assert_inside_and_left_to_right(strokes, per_digit)


def _result(truth: str, read: str | None, latency: float | None = 800.0, answer: str = "number") -> NumberResult:
    return NumberResult(indices=list(range(len(truth))), truth=truth, read=read, answer=answer, latency_ms=latency)


def test_the_report_counts_whole_numbers_digits_and_the_target():
    results = [_result("12", "12"), _result("345", "315"), _result("6789", "678"), _result("07", "07")]
    results += [_result("2026", None, latency=None, answer="not-a-number")]
    report = BrowserNumbersReport(seed=1, results=results, wall_s=12.34)
    assert (report.drawn, report.read_whole, report.share) == (5, 2, 0.4)
    assert [r.truth for r in report.wrong] == ["345", "6789", "2026"]
    assert report.by_digit_count() == {
        2: {"drawn": 2, "read_whole": 2},
        3: {"drawn": 1, "read_whole": 0},
        4: {"drawn": 2, "read_whole": 0},
    }
    assert report.digit_accuracy() == (6, 7)  # "6789" read as 3 digits and the refusal are not scored digit by digit
    assert report.latency_ms() == {"median": 800.0, "p90": 800.0, "max": 800.0}
    assert not report.target_met

    data = json.loads(json.dumps(report.to_dict()))
    assert (data["numbers"], data["read_whole"], data["whole_share"], data["digit_accuracy"]) == (5, 2, 0.4, 0.8571)
    assert data["wrong"][0] == {"truth": "345", "read": "315", "answer": "number", "indices": [0, 1, 2]}
    assert data["by_digit_count"]["4"] == {"drawn": 2, "read_whole": 0}
    assert data["target"] == {"numbers": 40, "whole_share": 0.95} and data["wall_s"] == 12.3
    table = report.table()
    assert "345 -> 315" in table and "2026 -> not-a-number" in table and "NOT met" in table


@pytest.mark.parametrize(("drawn", "right", "met"), [(40, 38, True), (40, 37, False), (39, 39, False), (60, 57, True)])
def test_the_target_is_95_percent_of_at_least_40_numbers(drawn, right, met):
    results = [_result("42", "42") for _ in range(right)] + [_result("42", "47") for _ in range(drawn - right)]
    assert BrowserNumbersReport(seed=0, results=results).target_met is met


def test_an_empty_report_has_no_share_and_no_latency():
    report = BrowserNumbersReport(seed=0)
    assert (report.share, report.latency_ms(), report.digit_accuracy()) == (0.0, None, (0, 0))
    assert report.to_dict()["digit_accuracy"] is None


@pytest.mark.browser
def test_the_command_writes_two_numbers_in_chromium_and_reports_them(mnist, tmp_path):
    """The whole benchmark, small: gunicorn on a throwaway database, a new account, 2 numbers written."""
    if not Path(bn.CHROMIUM).exists():
        _unavailable(f"{bn.CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    out = tmp_path / "browser_numbers.json"
    command = [sys.executable, "-m", "bench.browser_numbers", "--numbers", "2", "--seed", "3", "--json", str(out)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "target: >= 95% of >= 40 numbers read whole: NOT met" in result.stdout  # 2 numbers are too few

    data = json.loads(out.read_text())
    _, labels = mnist
    assert data["numbers"] == 2 and data["seed"] == 3 and data["stored_numbers"] == 2  # one stored per drawing
    assert isinstance(data["model_version"], str) and data["model_version"]
    for row, indices in zip(data["results"], choose_numbers(2, seed=3, test_size=len(labels)), strict=True):
        assert row["indices"] == list(indices) and row["truth"] == "".join(str(labels[i]) for i in indices)
        assert row["answer"] in ("number", "not-a-number")
        if row["answer"] == "number":
            assert row["api_number"] == row["read"]  # what the page shows is what was stored
            assert row["latency_ms"] >= bn.auto_read_delay_ms()  # read by itself, after the pause
    assert data["read_whole"] == sum(row["read"] == row["truth"] for row in data["results"])
