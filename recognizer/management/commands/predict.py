"""Recognise the digit (or, with --number, the number) in image files with the active model version; one JSON
object per line with --json."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ml.decode import ImageDecodeError
from ml.numbers import read_number
from ml.predictor import Predictor
from ml.refusal import NOT_A_DIGIT
from recognizer import serving
from recognizer.exceptions import DigitVisionError


def _active_predictor() -> Predictor:
    """The predictor of the active model version, verified and loaded exactly as the site's."""
    try:
        return serving.get_predictor()[0]
    except DigitVisionError as exc:
        raise CommandError(f"{exc} (or pass --checkpoint)") from exc
    except DatabaseError as exc:
        raise CommandError(
            f"cannot ask the database which model version is active ({exc}): run `python manage.py migrate` "
            "and `python manage.py bootstrap` (`make run` does both), or pass --checkpoint"
        ) from exc


def _checkpoint_predictor(path: Path) -> Predictor:
    if not path.is_file():
        raise CommandError(f"model checkpoint {path} not found")
    try:
        return Predictor.from_checkpoint(path)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot load the model checkpoint {path}: {exc}") from exc


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


class Command(BaseCommand):
    help = (
        "Predict the digit in each FILE. With --json, print one object per line: "
        '{"file", "digit", "confidence", "probabilities", "model_version"}; for ink that is not one digit '
        '"digit": null, "not_a_digit": true, "reason", "closest_digit", "closest_probability"; for a blank image '
        '"digit": null, "no_digit": true; {"file", "error"} for a file it cannot read. '
        "With --number, read whole numbers instead: "
        '{"file", "number", "confidence", "digits": [{"digit", "confidence", "probabilities", "box", "refused"}], '
        '"model_version"}, with "number": null and "no_digit": true or "not_a_number": true (and "reason") when '
        "there is none. Exits 1 if any file could not be read."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="image files (PNG, JPEG, ...)")
        parser.add_argument("--json", action="store_true", help="print one JSON object per line")
        parser.add_argument(
            "--number", action="store_true", help="read a whole number (1 to 12 digits) in each file, not one digit"
        )
        parser.add_argument(
            "--checkpoint",
            type=Path,
            default=None,
            help="read with this model checkpoint instead of the active model version (the one the site serves)",
        )

    def handle(self, *args, files: list[str], checkpoint: Path | None, **options) -> None:
        render = self._as_json if options["json"] else self._as_text
        read = self._read_number_file if options["number"] else self._predict_file
        predictor = _checkpoint_predictor(checkpoint) if checkpoint else _active_predictor()
        failed = 0
        for name in files:
            result = read(predictor, name)
            failed += "error" in result
            self.stdout.write(render(result))
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) could not be read", returncode=1)

    @staticmethod
    def _read(name: str, answer):
        """``answer(data)`` for the file's bytes, or the error entry of a file that cannot be read."""
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            return {"file": name, "error": f"cannot read file: {exc.strerror or exc}"}
        try:
            return answer(data)
        except ImageDecodeError as exc:
            return {"file": name, "error": str(exc)}

    @classmethod
    def _predict_file(cls, predictor, name: str) -> dict:
        pred = cls._read(name, predictor.predict)
        if isinstance(pred, dict):
            return pred
        result = {
            "file": name,
            "digit": pred.digit,
            "confidence": _rounded(pred.confidence),
            "probabilities": None if pred.probabilities is None else [_rounded(p) for p in pred.probabilities],
            "model_version": predictor.version,
        }
        if pred.no_digit:
            result["no_digit"] = True
        elif pred.not_a_digit:
            result.update(
                not_a_digit=True,
                reason=pred.reason,
                closest_digit=pred.closest_digit,
                closest_probability=_rounded(pred.closest_probability),
            )
        return result

    @classmethod
    def _read_number_file(cls, predictor, name: str) -> dict:
        reading = cls._read(name, lambda data: read_number(predictor, data))
        if isinstance(reading, dict):
            return reading
        result = {
            "file": name,
            "number": reading.number,
            "confidence": _rounded(reading.confidence),
            "digits": [
                {
                    "digit": digit.digit,
                    "confidence": _rounded(digit.confidence),
                    "probabilities": [_rounded(p) for p in digit.probabilities],
                    "box": list(digit.box),
                    "refused": digit.refused,
                }
                for digit in reading.digits
            ],
            "model_version": predictor.version,
        }
        if reading.no_digit:
            result.update(no_digit=True, reason=reading.reason)
        elif reading.not_a_number:
            result.update(not_a_number=True, reason=reading.reason)
        return result

    @staticmethod
    def _as_json(result: dict) -> str:
        return json.dumps(result)

    @staticmethod
    def _as_text(result: dict) -> str:
        if "error" in result:
            return f"{result['file']}: error: {result['error']}"
        if result.get("no_digit"):
            return f"{result['file']}: no digit found"
        if result.get("not_a_number"):
            return f"{result['file']}: not a number ({result['reason'].removeprefix('not a number: ')})"
        if "number" in result:
            digits = ", ".join(f"{d['digit']} {d['confidence']:.1%}" for d in result["digits"])
            return f"{result['file']}: {result['number']} (confidence {result['confidence']:.1%}; digits {digits})"
        if result.get("not_a_digit"):
            # "not a digit (not a digit; ...)" would say it twice: only a more telling reason is repeated.
            reason = f"{result['reason']}; " if result["reason"] and result["reason"] != NOT_A_DIGIT else ""
            closest = f"closest {result['closest_digit']} at {result['closest_probability']:.1%}"
            return f"{result['file']}: not a digit ({reason}{closest})"
        return f"{result['file']}: {result['digit']} (confidence {result['confidence']:.1%})"
