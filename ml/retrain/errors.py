"""Why a retraining could not run, in words fit for the staff page."""


class RetrainError(RuntimeError):
    """A retraining could not run; the message says why."""


class NoCorrectionsError(RetrainError):
    """There are no corrections, or none left to train on after the holdout split."""


class EmptyHoldoutError(RetrainError):
    """No correction falls in the holdout, so nothing could judge the candidate."""


class InvalidCorrectionsError(RetrainError):
    """Correction images, labels or keys have the wrong shape, range or length."""


class BaseCheckpointError(RetrainError):
    """The base (active) checkpoint is missing or unreadable."""


class TrainingDataError(RetrainError):
    """MNIST (needed for replay, validation and the test set) is not available."""


class RetrainTimeout(RetrainError):
    """The run went over its time limit; nothing was written."""
