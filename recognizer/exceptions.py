"""The recognizer's one error hierarchy: each error has a stable ``code`` and an HTTP ``status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recognizer.models import TrainingRun


class DigitVisionError(Exception):
    """An expected failure a person or client should be told about (never a programming error).

    Pages and the API map it to HTTP in one place each (``recognizer.api.errors`` and the pages' handler):
    ``status`` is the HTTP status, ``code`` the stable machine-readable code, ``str(exc)`` the message and
    ``details`` anything a client may act on.
    """

    code = "error"
    status = 400

    def __init__(self, message: str = "", *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message or self.default_message())
        self.details = details or {}

    @classmethod
    def default_message(cls) -> str:
        return (cls.__doc__ or cls.code).strip().splitlines()[0]


# --------------------------------------------------------------------------- the image a person sends


class SubmissionError(DigitVisionError):
    """The image cannot become a submission."""

    code = "invalid"


class TooLargeError(SubmissionError):
    """The image is too large."""

    code = "too_large"
    status = 413


class InvalidImageError(SubmissionError):
    """Not an image file that can be read."""

    code = "invalid_image"


class UnsupportedFormatError(SubmissionError):
    """The image format is not one of the documented formats."""

    code = "unsupported_format"
    status = 415


class NoDigitError(SubmissionError):
    """No digit found: draw or upload a single, clearly visible digit."""

    code = "no_digit"
    status = 422


class InvalidSourceError(SubmissionError):
    """The source must be canvas or upload."""

    code = "invalid_source"


class InvalidCorrectionError(DigitVisionError):
    """Choose a digit from 0 to 9, or say it is not a digit."""

    code = "invalid_digit"


class InvalidNumberError(InvalidCorrectionError):
    """A number is 1 to 12 of the digits 0-9."""

    code = "invalid_number"


class NotReplaceableError(DigitVisionError):
    """Only your own uncorrected submission can be replaced."""

    code = "not_replaceable"
    status = 409


class NotCorrectedError(DigitVisionError):
    """Only a corrected submission is used for training: this one has no correction."""

    code = "not_corrected"
    status = 409


# --------------------------------------------------------------------------- the model that serves


class ModelUnavailableError(DigitVisionError):
    """The recognizer is not available right now; please try again later."""

    code = "model_unavailable"
    status = 503


class NoActiveModelVersionError(ModelUnavailableError):
    """No model version is active, so nothing can be predicted."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "no active model version: run `python manage.py bootstrap` to register the shipped model"
        )


class ModelWeightsError(DigitVisionError):
    """The version's weights file is missing or is not the file that was registered.

    Activating such a version is refused (409); a prediction that finds no other version to serve reports
    it as ModelUnavailableError (503).
    """

    code = "model_weights_invalid"
    status = 409


class ModelVersionNameTakenError(DigitVisionError):
    """A different model version already has this name."""

    code = "name_taken"
    status = 409


# --------------------------------------------------------------------------- retraining


class TrainingError(DigitVisionError):
    """A training request that cannot go ahead."""

    code = "training_error"
    status = 409


class TrainingInProgressError(TrainingError):
    """Another training run is in flight: one run at a time."""

    code = "training_in_progress"

    def __init__(self, run: TrainingRun) -> None:
        super().__init__(
            f"training run #{run.pk} is already {run.state}; wait for it to finish (one run at a time)",
            details={"run": run.pk},
        )
        self.run = run


class TrainingQueueUnavailableError(TrainingError):
    """The task queue cannot be reached."""

    code = "queue_unavailable"
    status = 503

    def __init__(self, run: TrainingRun) -> None:
        super().__init__(
            f"the task queue cannot be reached, so training run #{run.pk} was not started: {run.reason}",
            details={"run": run.pk},
        )
        self.run = run


class TrainingRunFinishedError(TrainingError):
    """The training run is no longer in progress."""

    code = "not_in_progress"


class TrainingNotPossibleError(TrainingError):
    """A retraining that cannot work (no MNIST, no corrections, an empty holdout) is refused before it is queued."""

    code = "training_not_possible"
    status = 422
