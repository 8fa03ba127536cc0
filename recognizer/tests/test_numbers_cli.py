"""`manage.py predict --number`: whole numbers, one JSON object per line, errors that do not stop the rest."""

import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command

from recognizer.tests.conftest import number_png
from recognizer.tests.test_predict_command import ERROR_KEYS, run_predict

NUMBER_KEYS = {"file", "number", "confidence", "digits", "model_version"}
DIGIT_KEYS = {"digit", "confidence", "probabilities", "box", "refused"}


def run_numbers(*files, as_json: bool = True):
    return run_predict(*files, "--number", checkpoint=settings.DIGITVISION_CHECKPOINT, as_json=as_json)


def test_a_number_gives_its_digits_left_to_right(number_png_file):
    lines, error = run_numbers(number_png_file)

    assert error is None
    [record] = [json.loads(line) for line in lines]
    assert set(record) == NUMBER_KEYS
    assert (record["file"], record["number"]) == (str(number_png_file), "42")
    assert 0.0 < record["confidence"] <= 1.0 and record["model_version"].startswith("digitnet-")
    assert [d["digit"] for d in record["digits"]] == [4, 2]
    for digit in record["digits"]:
        assert set(digit) == DIGIT_KEYS
        assert len(digit["probabilities"]) == 10 and sum(digit["probabilities"]) == pytest.approx(1.0, abs=1e-4)
        assert len(digit["box"]) == 4 and all(isinstance(v, int) for v in digit["box"])
    assert record["digits"][0]["box"][0] < record["digits"][1]["box"][0]


def test_leading_zeros_are_kept(tmp_path):
    path = tmp_path / "zero.png"
    path.write_bytes(number_png("0427"))
    [line], _ = run_numbers(path)
    assert json.loads(line)["number"] == "0427"


def test_blank_is_no_digit_not_a_failure(blank_png):
    [line], error = run_numbers(blank_png)
    record = json.loads(line)
    assert error is None
    assert set(record) == NUMBER_KEYS | {"no_digit", "reason"}
    assert (record["number"], record["confidence"], record["digits"], record["no_digit"]) == (None, None, [], True)


def test_ink_with_no_digit_is_not_a_number(refusing_model, number_png_file):
    """With the active model version (as the site serves it), made to refuse every part."""
    out = io.StringIO()
    call_command("predict", str(number_png_file), "--number", "--json", stdout=out)

    record = json.loads(out.getvalue())
    assert set(record) == NUMBER_KEYS | {"not_a_number", "reason"}
    assert (record["number"], record["confidence"], record["not_a_number"]) == (None, None, True)
    assert record["reason"] and all(d["refused"] for d in record["digits"])
    assert record["model_version"] == refusing_model.name
    out = io.StringIO()
    call_command("predict", str(number_png_file), "--number", stdout=out)
    assert out.getvalue().strip() == f"{number_png_file}: not a number (no digit in the ink)"


def test_an_unreadable_file_is_an_error_line_and_the_rest_goes_on(number_png_file, text_file, tmp_path, blank_png):
    missing = tmp_path / "gone.png"

    lines, error = run_numbers(text_file, number_png_file, missing, blank_png)

    records = [json.loads(line) for line in lines]
    assert [r["file"] for r in records] == [str(text_file), str(number_png_file), str(missing), str(blank_png)]
    assert set(records[0]) == ERROR_KEYS and set(records[2]) == ERROR_KEYS
    assert records[1]["number"] == "42" and records[3]["no_digit"] is True
    assert error is not None and error.returncode == 1 and "2 of 4" in str(error)


def test_plain_text_without_json(number_png_file, blank_png, text_file):
    lines, error = run_numbers(number_png_file, blank_png, text_file, as_json=False)
    assert lines[0].startswith(f"{number_png_file}: 42 (confidence ") and "digits 4 " in lines[0]
    assert lines[1] == f"{blank_png}: no digit found"
    assert lines[2].startswith(f"{text_file}: error: ")
    assert error is not None and error.returncode == 1
