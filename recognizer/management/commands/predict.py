"""Recognise the digit in image files with the active model version; one JSON object per line with --json."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ml.decode import ImageDecodeError
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
        "Exits 1 if any file could not be read."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="image files (PNG, JPEG, ...)")
        parser.add_argument("--json", action="store_true", help="print one JSON object per line")
        parser.add_argument(
            "--checkpoint",
            type=Path,
            default=None,
            help="read with this model checkpoint instead of the active model version (the one the site serves)",
        )

    def handle(self, *args, files: list[str], checkpoint: Path | None, **options) -> None:
        render = self._as_json if options["json"] else self._as_text
        predictor = _checkpoint_predictor(checkpoint) if checkpoint else _active_predictor()
        failed = 0
        for name in files:
            result = self._predict_file(predictor, name)
            failed += "error" in result
            self.stdout.write(render(result))
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) could not be read", returncode=1)

    @staticmethod
    def _predict_file(predictor, name: str) -> dict:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            return {"file": name, "error": f"cannot read file: {exc.strerror or exc}"}
        try:
            pred = predictor.predict(data)
        except ImageDecodeError as exc:
            return {"file": name, "error": str(exc)}
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

    @staticmethod
    def _as_json(result: dict) -> str:
        return json.dumps(result)

    @staticmethod
    def _as_text(result: dict) -> str:
        if "error" in result:
            return f"{result['file']}: error: {result['error']}"
        if result.get("no_digit"):
            return f"{result['file']}: no digit found"
        if result.get("not_a_digit"):
            # "not a digit (not a digit; ...)" would say it twice: only a more telling reason is repeated.
            reason = f"{result['reason']}; " if result["reason"] and result["reason"] != NOT_A_DIGIT else ""
            closest = f"closest {result['closest_digit']} at {result['closest_probability']:.1%}"
            return f"{result['file']}: not a digit ({reason}{closest})"
        return f"{result['file']}: {result['digit']} (confidence {result['confidence']:.1%})"
