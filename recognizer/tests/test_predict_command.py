"""The `predict` management command and its stable JSON-lines contract."""

import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

PREDICTION_KEYS = {"file", "digit", "confidence", "probabilities", "model_version"}
NO_DIGIT_KEYS = PREDICTION_KEYS | {"no_digit"}
ERROR_KEYS = {"file", "error"}


def run_predict(*files: Path | str, checkpoint: Path, as_json: bool = True) -> tuple[list[str], CommandError | None]:
    """Run the command and return its stdout lines and the CommandError it ended with, if any."""
    stdout = io.StringIO()
    args = [str(f) for f in files] + ["--checkpoint", str(checkpoint)] + (["--json"] if as_json else [])
    error = None
    try:
        call_command("predict", *args, stdout=stdout)
    except CommandError as exc:
        error = exc
    return stdout.getvalue().splitlines(), error


def test_digit_image_gives_a_full_prediction(digit_png, untrained_checkpoint):
    lines, error = run_predict(digit_png, checkpoint=untrained_checkpoint)

    assert error is None
    [record] = [json.loads(line) for line in lines]
    assert set(record) == PREDICTION_KEYS
    assert record["file"] == str(digit_png)
    assert record["digit"] in range(10)
    assert len(record["probabilities"]) == 10
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in record["probabilities"])
    assert sum(record["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert all(p == round(p, 6) for p in record["probabilities"])
    assert 0.0 <= record["confidence"] <= 1.0
    assert isinstance(record["model_version"], str) and record["model_version"]


def test_blank_image_is_no_digit_not_a_failure(blank_png, untrained_checkpoint):
    lines, error = run_predict(blank_png, checkpoint=untrained_checkpoint)

    assert error is None
    [record] = [json.loads(line) for line in lines]
    assert set(record) == NO_DIGIT_KEYS
    assert record["no_digit"] is True
    assert record["digit"] is None and record["confidence"] is None and record["probabilities"] is None
    assert record["model_version"]


@pytest.mark.parametrize("bad", ["text", "missing"])
def test_unreadable_file_is_an_error_entry_and_exit_status_1(bad, text_file, tmp_path, untrained_checkpoint):
    path = text_file if bad == "text" else tmp_path / "no-such-file.png"

    lines, error = run_predict(path, checkpoint=untrained_checkpoint)

    [record] = [json.loads(line) for line in lines]
    assert set(record) == ERROR_KEYS
    assert record["file"] == str(path)
    assert record["error"]
    assert error is not None and error.returncode == 1


def test_goes_on_after_a_failure_and_keeps_the_order(digit_png, blank_png, text_file, tmp_path, untrained_checkpoint):
    missing = tmp_path / "gone.png"

    lines, error = run_predict(text_file, digit_png, missing, blank_png, checkpoint=untrained_checkpoint)

    records = [json.loads(line) for line in lines]
    assert [r["file"] for r in records] == [str(text_file), str(digit_png), str(missing), str(blank_png)]
    assert [set(r) for r in records] == [ERROR_KEYS, PREDICTION_KEYS, ERROR_KEYS, NO_DIGIT_KEYS]
    assert error is not None and error.returncode == 1
    assert "2 of 4" in str(error)


def test_human_readable_output(digit_png, blank_png, text_file, untrained_checkpoint):
    lines, error = run_predict(digit_png, blank_png, text_file, checkpoint=untrained_checkpoint, as_json=False)

    assert len(lines) == 3
    assert lines[0].startswith(f"{digit_png}: ") and "(confidence " in lines[0] and lines[0].endswith("%)")
    assert lines[1] == f"{blank_png}: no digit found"
    assert lines[2].startswith(f"{text_file}: error: ")
    assert error is not None and error.returncode == 1


def test_missing_checkpoint_is_a_clear_command_error(digit_png, tmp_path):
    with pytest.raises(CommandError, match="checkpoint"):
        call_command("predict", str(digit_png), "--checkpoint", str(tmp_path / "nope.pt"), stdout=io.StringIO())


def _predict_json(*files: Path) -> list[dict]:
    stdout = io.StringIO()
    call_command("predict", "--json", *[str(f) for f in files], stdout=stdout)
    return [json.loads(line) for line in stdout.getvalue().splitlines()]


@pytest.mark.django_db
def test_without_checkpoint_it_reads_with_the_active_version_as_the_site_does(digit_png, untrained_checkpoint, staff):
    """After a promotion the command line and the site agree: both serve the newly active version."""
    from recognizer.services import model_version_activate, model_version_register

    shipped = model_version_register(path=settings.DIGITVISION_CHECKPOINT, activate=True)
    assert _predict_json(digit_png)[0]["model_version"] == shipped.name

    promoted = model_version_register(path=untrained_checkpoint, name="promoted-candidate")
    model_version_activate(version=promoted, by=staff, reason="test promotion")
    [record] = _predict_json(digit_png)
    assert record["model_version"] == "promoted-candidate"
    assert set(record) == PREDICTION_KEYS


@pytest.mark.django_db
def test_no_active_version_is_a_clear_command_error(digit_png):
    with pytest.raises(CommandError, match="bootstrap"):
        call_command("predict", str(digit_png), stdout=io.StringIO())


NOT_A_DIGIT_KEYS = PREDICTION_KEYS | {"not_a_digit", "reason", "closest_digit", "closest_probability"}


@pytest.fixture
def two_strokes_png(tmp_path) -> Path:
    """Two dark upright strokes side by side on white: "looks like several digits" to a refusing model."""
    from PIL import Image, ImageDraw

    from recognizer.tests.conftest import png_bytes

    image = Image.new("L", (280, 280), 255)
    draw = ImageDraw.Draw(image)
    for x in (100, 180):
        draw.line([(x, 60), (x, 220)], fill=0, width=30)
    path = tmp_path / "eleven.png"
    path.write_bytes(png_bytes(image))
    return path


@pytest.mark.django_db
def test_ink_that_is_not_a_digit_says_so_with_the_closest_digit(digit_png, two_strokes_png, blank_png, refusing_model):
    records = _predict_json(digit_png, two_strokes_png, blank_png)

    refused, several, blank = records
    assert set(refused) == set(several) == NOT_A_DIGIT_KEYS
    assert refused["not_a_digit"] is True and refused["reason"] == "not a digit"
    assert several["reason"] == "looks like several digits"
    for record in (refused, several):
        assert record["digit"] is None and record["confidence"] is None
        assert len(record["probabilities"]) == 10 and record["model_version"] == refusing_model.name
        assert record["closest_probability"] == max(record["probabilities"])
        assert record["probabilities"].index(record["closest_probability"]) == record["closest_digit"]
    assert set(blank) == NO_DIGIT_KEYS  # blank is still "no digit", refusing model or not


@pytest.mark.django_db
def test_human_readable_not_a_digit(digit_png, two_strokes_png, refusing_model):
    stdout = io.StringIO()
    call_command("predict", str(digit_png), str(two_strokes_png), stdout=stdout)

    refused, several = stdout.getvalue().splitlines()
    assert re.fullmatch(rf"{re.escape(str(digit_png))}: not a digit \(closest \d at \d+\.\d%\)", refused)
    assert re.fullmatch(
        rf"{re.escape(str(two_strokes_png))}: not a digit \(looks like several digits; closest \d at \d+\.\d%\)",
        several,
    )


@pytest.mark.django_db
def test_a_model_that_never_refuses_keeps_the_digit_contract(digit_png, shipped_version):
    from recognizer import serving

    serving.get_predictor()[0].backend.rejection_threshold = None
    [record] = _predict_json(digit_png)
    assert set(record) == PREDICTION_KEYS and record["digit"] == 7
