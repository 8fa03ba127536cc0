"""Candidate and active model side by side on MNIST validation, test and the held-out corrections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.calibrate import calibrated_probabilities
from ml.data import MnistSplits
from ml.predictor import Predictor
from ml.refusal import answers, choose_threshold, refusals
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
    test_refused_by_candidate_only: int  # MNIST test digits one model refuses and the other does not: the gate's
    test_refused_by_active_only: int  # paired view of a change in refusals


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
    corrections: CorrectionSet,  # every correction the run used, the holdout among them
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
    report(hi, "evaluating: fitting the candidate's temperature on MNIST validation")
    calibrated = calibrated_evaluation(val_logits, data.val_labels, cand_test, data.test_labels)
    t = calibrated.temperature
    threshold = choose_threshold(calibrated_probabilities(val_logits, t)) if refuses else None
    active_threshold = active.backend.rejection_threshold
    cand_all = calibrated_probabilities(batched_logits(candidate.backend.calibrated_logits, corrections.images), t)
    act_all = calibrated_probabilities(batched_logits(active.backend.calibrated_logits, corrections.images), 1.0)
    row = {key: i for i, key in enumerate(corrections.keys)}
    held = [row[key] for key in holdout.keys]  # the holdout is among the corrections
    cand_hold, act_hold = cand_all[held], act_all[held]
    # Each model's refusals on MNIST test, one model at a time (the several-digits rule looks at every image).
    report(hi, "evaluating: the candidate's refusals on MNIST test")
    cand_test_probs = calibrated_probabilities(cand_test, t)
    cand_refused = refusals(cand_test_probs, data.test_images, threshold)
    candidate_test = evaluation(cand_test_probs, data.test_labels, None, threshold, data.test_images, cand_refused)
    report(hi, "evaluating: the active model's refusals on MNIST test")
    act_test_probs = calibrated_probabilities(act_test, 1.0)
    act_refused = refusals(act_test_probs, data.test_images, active_threshold)
    active_test = evaluation(act_test_probs, data.test_labels, None, active_threshold, data.test_images, act_refused)
    report(hi, "evaluating: both models on the corrections")
    return Comparison(
        candidate=calibrated,
        candidate_val_accuracy=float((val_logits.argmax(1) == data.val_labels).mean()),
        candidate_threshold=threshold,
        candidate_test=candidate_test,
        candidate_holdout=evaluation(cand_hold, holdout.labels, holdout.keys, threshold, holdout.images),
        active_test=active_test,
        active_holdout=evaluation(act_hold, holdout.labels, holdout.keys, active_threshold, holdout.images),
        candidate_answers=answers(cand_all, corrections.images, threshold),
        active_answers=answers(act_all, corrections.images, active_threshold),
        test_refused_by_candidate_only=int((cand_refused & ~act_refused).sum()),
        test_refused_by_active_only=int((act_refused & ~cand_refused).sum()),
    )
