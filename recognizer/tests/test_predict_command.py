"""The `predict` management command and its stable JSON-lines contract."""

import io
import json
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
