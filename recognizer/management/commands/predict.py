"""Recognise the digit in image files; one JSON object per line with --json (a stable contract)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.predictor import ImageDecodeError, Predictor


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


class Command(BaseCommand):
    help = (
        "Predict the digit in each FILE. With --json, print one object per line: "
        '{"file", "digit", "confidence", "probabilities", "model_version"} or {"file", "error"}. '
        "Exits 1 if any file could not be read."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="image files (PNG, JPEG, ...)")
        parser.add_argument("--json", action="store_true", help="print one JSON object per line")
        parser.add_argument(
            "--checkpoint", type=Path, default=None, help="model checkpoint (default: settings.DIGITVISION_CHECKPOINT)"
        )

    def handle(self, *args, files: list[str], checkpoint: Path | None, **options) -> None:
        render = self._as_json if options["json"] else self._as_text
        path = checkpoint or Path(settings.DIGITVISION_CHECKPOINT)
        if not path.is_file():
            raise CommandError(
                f"model checkpoint {path} not found: pass --checkpoint, set DIGITVISION_CHECKPOINT "
                "or train one with `python manage.py train`"
            )
        try:
            predictor = Predictor.from_checkpoint(path)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot load the model checkpoint {path}: {exc}") from exc

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
        return f"{result['file']}: {result['digit']} (confidence {result['confidence']:.1%})"
