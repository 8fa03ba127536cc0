"""Saying "not a digit": the rejection score, its threshold chosen on validation digits, and the reason given."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

NOT_A_DIGIT = "not a digit"
SEVERAL_DIGITS = "looks like several digits"
# The label of a "not a digit" sample among digit labels 0-9 (a confirmed refusal, a correction to "not a
# digit"), where ml code needs one array of labels: retraining trains such samples towards a uniform answer.
NOT_A_DIGIT_LABEL = -1
# The threshold refuses at most this share of the validation digits (MNIST digits held out of training).
# The figures to hold are 0.3% on MNIST test and 1% on every robustness condition, which are harder digits.
MAX_FALSE_REFUSAL = 0.001
INK_LEVEL = 0.3  # a pixel of the 28x28 input is ink above this
PART_HEIGHT = 0.5  # a part counts as a digit of its own if it is at least this share of the ink's height ...
PART_INK = 0.15  # ... and holds at least this share of the ink
MAX_OVERLAP = 0.35  # two parts stand side by side when they share at most this share of the narrower's width


def rejection_scores(probabilities: np.ndarray) -> np.ndarray:
    """(N, 10) calibrated probabilities -> (N,) scores, higher meaning "less likely one digit": 1 - max p.

    Trained with outlier exposure, the model spreads its probability over all ten digits for ink that is not
    one, so the largest probability is low exactly there (Hendrycks et al., 2019).
    """
    return 1.0 - np.asarray(probabilities, dtype=np.float64).max(axis=1)


def choose_threshold(val_probabilities: np.ndarray, max_false_refusal: float = MAX_FALSE_REFUSAL) -> float:
    """The rejection score above which an input is refused, such that at most ``max_false_refusal`` of the
    validation digits are: a quantile of their scores. Never chosen on test data."""
    scores = rejection_scores(val_probabilities)
    if scores.size == 0:
        raise ValueError("choosing a refusal threshold needs validation digits")
    return float(np.quantile(scores, 1.0 - max_false_refusal, method="higher"))


def refusals(probabilities: np.ndarray, images: np.ndarray, threshold: float | None) -> np.ndarray:
    """THE refusal rule: (N, 10) calibrated probabilities and their (N, 28, 28) inputs -> (N,) bools.

    Refused ("not a digit") when the rejection score is above the threshold, or when the input holds several
    digit-sized parts side by side: a model reading one digit can be sure of "17" as a 7, the shape of the ink
    cannot. A model without a threshold (trained before refusals existed) never refuses.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, 10)
    if threshold is None:
        return np.zeros(len(probabilities), dtype=bool)
    several = np.fromiter((looks_like_several_digits(image) for image in images), dtype=bool, count=len(images))
    return (rejection_scores(probabilities) > threshold) | several


def answers(probabilities: np.ndarray, images: np.ndarray, threshold: float | None) -> np.ndarray:
    """(N,) answers under the refusal rule: the most likely digit, or NOT_A_DIGIT_LABEL where refused."""
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, 10)
    return np.where(refusals(probabilities, images, threshold), NOT_A_DIGIT_LABEL, probabilities.argmax(axis=1))


def refusal_reason(image: np.ndarray) -> str:
    """Why a refused 28x28 input (float, ink high) is not a digit: several digit-sized parts side by side
    read as "several digits", anything else as "not a digit"."""
    return SEVERAL_DIGITS if looks_like_several_digits(image) else NOT_A_DIGIT


def looks_like_several_digits(image: np.ndarray) -> bool:
    """Whether a 28x28 input (float in [0, 1] or uint8, ink high) holds two parts, each at least half the
    ink's height and a sizeable share of its ink, standing side by side (a single digit's broken stroke is
    shorter or overlaps)."""
    image = np.asarray(image)
    ink = (image / 255.0 if image.dtype == np.uint8 else image) > INK_LEVEL  # MNIST files are uint8
    labels, count = ndimage.label(ink, structure=np.ones((3, 3)))
    if count < 2:
        return False
    rows = np.flatnonzero(ink.any(axis=1))
    height, total = rows[-1] - rows[0] + 1, ink.sum()
    parts = []
    for box, index in zip(ndimage.find_objects(labels), range(1, count + 1), strict=True):
        rows_slice, cols_slice = box
        size = int((labels[box] == index).sum())
        if rows_slice.stop - rows_slice.start >= PART_HEIGHT * height and size >= PART_INK * total:
            parts.append((cols_slice.start, cols_slice.stop))
    parts.sort()
    for (left_start, left_stop), (right_start, right_stop) in zip(parts, parts[1:], strict=False):
        narrower = min(left_stop - left_start, right_stop - right_start)
        if left_stop - right_start <= MAX_OVERLAP * narrower:
            return True
    return False
