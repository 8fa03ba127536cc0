"""Candidate and active model side by side on MNIST validation, test and the held-out corrections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.calibrate import calibrated_probabilities
from ml.data import MnistSplits
from ml.predictor import Predictor
from ml.refusal import answers, choose_threshold
from ml.report import CalibratedEvaluation, Evaluation, calibrated_evaluation, evaluation
from ml.retrain.split import CorrectionSet
from ml.tensors import batched_logits

Report = Callable[[float, str], None]  # (percent, step); may raise to stop the run between batches


@dataclass(frozen=True)
class Comparison:
    candidate: CalibratedEvaluation  # the candidate on MNIST test, temperature fitted on validation
    candidate_val_accuracy: float
    candidate_threshold: float | None  # chosen on MNIST validation; None when the candidate never refuses
    candidate_test: Evaluation  # MNIST test with the candidate's refusals counted as errors
    candidate_holdout: Evaluation
    active_test: Evaluation  # with the active model's own refusals
    active_holdout: Evaluation
    candidate_answers: np.ndarray  # each model's answer to every correction (ml.refusal.answers), in order
    active_answers: np.ndarray


def _logits(
    predictor: Predictor, images: np.ndarray, report: Report, span: tuple[float, float], what: str
) -> np.ndarray:
    lo, hi = span

    def after_batch(done: int, total: int) -> None:
        report(lo + (hi - lo) * done / max(total, 1), f"evaluating {what} ({done:,}/{total:,})")

    return batched_logits(predictor.backend.calibrated_logits, images, after_batch=after_batch)


def compare(
    *,
    candidate: Predictor,
    active: Predictor,
    data: MnistSplits,
    holdout: CorrectionSet,
    corrections: CorrectionSet,
    report: Report,
    span: tuple[float, float],
    refuses: bool,
) -> Comparison:
    """Both models through their serving backends; ``candidate`` must be the draft with temperature 1.

    The candidate's temperature is fitted on MNIST validation (never the test set); the active model's graph
    already divides by its own. With ``refuses``, the candidate's rejection threshold is chosen on MNIST
    validation too; each model is judged with its own refusals. Both answer every one of ``corrections`` too
    (what the run page shows as learnt or still wrong). Progress spans ``span`` (percent).
    """
    lo, hi = span
    step = (hi - lo) / 5
    val_logits = _logits(candidate, data.val_images, report, (lo, lo + step), "candidate on MNIST validation")
    cand_test = _logits(candidate, data.test_images, report, (lo + step, lo + 3 * step), "candidate on MNIST test")
    act_test = _logits(active, data.test_images, report, (lo + 3 * step, hi), "active model on MNIST test")
    calibrated = calibrated_evaluation(val_logits, data.val_labels, cand_test, data.test_labels)
    t = calibrated.temperature
    threshold = choose_threshold(calibrated_probabilities(val_logits, t)) if refuses else None
    active_threshold = active.backend.rejection_threshold
    hold_logits = batched_logits(candidate.backend.calibrated_logits, holdout.images)
    cand_hold = calibrated_probabilities(hold_logits, t)
    act_hold = calibrated_probabilities(batched_logits(active.backend.calibrated_logits, holdout.images), 1.0)
    cand_all = calibrated_probabilities(batched_logits(candidate.backend.calibrated_logits, corrections.images), t)
    act_all = calibrated_probabilities(batched_logits(active.backend.calibrated_logits, corrections.images), 1.0)
    return Comparison(
        candidate=calibrated,
        candidate_val_accuracy=float((val_logits.argmax(1) == data.val_labels).mean()),
        candidate_threshold=threshold,
        candidate_test=evaluation(
            calibrated_probabilities(cand_test, t), data.test_labels, None, threshold, data.test_images
        ),
        candidate_holdout=evaluation(cand_hold, holdout.labels, holdout.keys, threshold, holdout.images),
        active_test=evaluation(
            calibrated_probabilities(act_test, 1.0), data.test_labels, None, active_threshold, data.test_images
        ),
        active_holdout=evaluation(act_hold, holdout.labels, holdout.keys, active_threshold, holdout.images),
        candidate_answers=answers(cand_all, corrections.images, threshold),
        active_answers=answers(act_all, corrections.images, active_threshold),
    )
