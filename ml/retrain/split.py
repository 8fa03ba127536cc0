"""People's corrections as the model saw them, split by a stable hash into train and holdout (no torch here)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ml.refusal import NOT_A_DIGIT_LABEL
from ml.retrain.errors import EmptyHoldoutError, InvalidCorrectionsError, NoCorrectionsError

HOLDOUT_FRACTION = 0.20
# Part of every hashed key: changing it would move corrections between train and holdout, so it is fixed.
SPLIT_SALT = "digitvision-retrain-holdout-v1"
ALLOWED_LABELS = (NOT_A_DIGIT_LABEL, *range(10))


GROUP_SEPARATOR = "/"  # "number-12/digit-3": keys with the same group (before it) fall on the same side


# Another salt for the slice of training corrections kept aside to choose the epoch: independent of the holdout.
SELECTION_SALT = "digitvision-retrain-selection-v1"


def _hashed_fraction(key: str, salt: str) -> float:
    """A key's stable place in [0, 1): sha256 of the salted group, the same in every process.

    A key's group is the part before GROUP_SEPARATOR (the whole key if it has none), and it is the group that
    is hashed: the digits of one number, written together in one hand, are never on both sides, so the
    holdout judges the candidate on numbers it has not seen a digit of."""
    group = key.split(GROUP_SEPARATOR, 1)[0]
    digest = hashlib.sha256(f"{salt}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_key_is_holdout(key: str) -> bool:
    """True for the ~20% of keys held out for judging."""
    return _hashed_fraction(key, SPLIT_SALT) < HOLDOUT_FRACTION


def split_problem(keys: Iterable[str]) -> str | None:
    """Why corrections with these keys cannot make a retraining (none, nothing to train on, empty holdout), or
    None when they can. The web tier asks this before queuing a run; the retraining itself raises the same."""
    keys = list(keys)
    every = round(1 / HOLDOUT_FRACTION)
    held = sum(split_key_is_holdout(k) for k in keys)
    if not keys:
        return "no corrections to learn from: correct some wrong predictions first"
    if held == len(keys):
        return (
            f"all {len(keys)} corrections fell in the holdout (about 1 in {every} is held out for judging); "
            "nothing left to train on: add more corrections"
        )
    if held == 0:
        return (
            f"none of the {len(keys)} corrections fell in the holdout (about 1 in {every} is held out, by a stable "
            "hash), so nothing could judge the candidate: add more corrections"
        )
    return None


def check_split(keys: Iterable[str]) -> None:
    """Raise the RetrainError that split_problem describes, if any."""
    keys = list(keys)
    problem = split_problem(keys)
    if problem is None:
        return
    if keys and not all(split_key_is_holdout(k) for k in keys):
        raise EmptyHoldoutError(problem)
    raise NoCorrectionsError(problem)


@dataclass(frozen=True)
class CorrectionSet:
    """Corrected samples as the model saw them: float32 (N, 28, 28) in [0, 1], labels (N,): a digit or
    NOT_A_DIGIT_LABEL, and stable keys (N)."""

    images: np.ndarray
    labels: np.ndarray
    keys: list[str]

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        images = images.astype(np.float32, copy=False)
        if images.ndim == 4 and images.shape[1] == 1:  # (N, 1, 28, 28), as the model takes them
            images = images[:, 0]
        if images.size == 0:
            images = np.zeros((0, 28, 28), dtype=np.float32)
        labels = np.asarray(self.labels).astype(np.int64, copy=False).reshape(-1)
        keys = [str(k) for k in self.keys]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise InvalidCorrectionsError(f"correction images must be (N, 28, 28), got {np.shape(self.images)}")
        if not (len(images) == len(labels) == len(keys)):
            raise InvalidCorrectionsError(
                f"{len(images)} images, {len(labels)} labels and {len(keys)} keys: they must match one to one"
            )
        if len(images) and (not np.isfinite(images).all() or images.min() < 0.0 or images.max() > 1.0):
            raise InvalidCorrectionsError("correction images must be finite values in [0, 1]")
        if len(labels) and not np.isin(labels, ALLOWED_LABELS).all():
            raise InvalidCorrectionsError(f"correction labels must be digits 0-9 or {NOT_A_DIGIT_LABEL} (not a digit)")
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "keys", keys)

    def __len__(self) -> int:
        return len(self.labels)

    def holdout_mask(self) -> np.ndarray:
        return np.array([split_key_is_holdout(k) for k in self.keys], dtype=bool)

    def subset(self, mask: np.ndarray) -> CorrectionSet:
        return CorrectionSet(
            images=self.images[mask],
            labels=self.labels[mask],
            keys=[k for k, m in zip(self.keys, mask, strict=True) if m],
        )

    def split(self) -> tuple[CorrectionSet, CorrectionSet]:
        """(train, holdout) by the stable hash of each key."""
        mask = self.holdout_mask()
        return self.subset(~mask), self.subset(mask)

    def selection_split(self, fraction: float) -> tuple[CorrectionSet, CorrectionSet]:
        """(train, selection): about ``fraction`` of the digit corrections, by a stable hash of their keys (an
        independent one from the holdout's), set aside to choose the epoch. "Not a digit" corrections always
        train; so does everything when the slice would leave no digit to train on."""
        digits = self.labels != NOT_A_DIGIT_LABEL
        chosen = digits & np.array([_hashed_fraction(k, SELECTION_SALT) < fraction for k in self.keys], dtype=bool)
        if chosen.sum() == digits.sum():
            chosen[:] = False
        return self.subset(~chosen), self.subset(chosen)
