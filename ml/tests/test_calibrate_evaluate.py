"""Calibration (ECE, temperature scaling) and the evaluation report and plots."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from ml.calibrate import (
    calibrated_probabilities,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
)
from ml.evaluate import calibration_report, save_plots
from ml.report import CalibratedEvaluation, Evaluation, calibrated_evaluation, evaluation
from ml.tensors import checkpoint_logits
from ml.tests.conftest import make_checkpoint
from ml.tests.drawing import toy_dataset


def _probs_with_confidence(confidence: float, predicted: int) -> np.ndarray:
    row = np.full(10, (1 - confidence) / 9)
    row[predicted] = confidence
    return row


def _calibrated_toy() -> tuple[np.ndarray, np.ndarray]:
    """20 answers at confidence 0.8 of which 16 are right, 10 at 0.6 of which 6 are right, 5 at 1.0 all right."""
    probs, labels = [], []
    for confidence, count, right in ((0.8, 20, 16), (0.6, 10, 6), (1.0, 5, 5)):
        for i in range(count):
            probs.append(_probs_with_confidence(confidence, predicted=3))
            labels.append(3 if i < right else 5)
    return np.array(probs), np.array(labels)


def test_ece_is_zero_when_confidence_matches_accuracy():
    probs, labels = _calibrated_toy()
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-9)


def test_ece_of_overconfident_predictions():
    probs = np.array([_probs_with_confidence(0.99, predicted=1)] * 10)
    labels = np.array([1] * 5 + [2] * 5)  # half right at 99% confidence
    assert expected_calibration_error(probs, labels) == pytest.approx(0.49, abs=1e-6)


def test_reliability_bins():
    probs, labels = _calibrated_toy()
    bins = reliability_bins(probs, labels, n_bins=10)
    assert len(bins) == 10 and sum(b["count"] for b in bins) == len(labels)
    by_count = {b["count"]: b for b in bins if b["count"]}
    assert by_count[20]["confidence"] == pytest.approx(0.8) and by_count[20]["accuracy"] == pytest.approx(0.8)
    assert by_count[10]["accuracy"] == pytest.approx(0.6)
    assert by_count[5]["high"] == 1.0  # confidence 1.0 falls in the last bin


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2.5, size=(6000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(true_logits, axis=1)])  # calibrated by construction
    overconfident = 3.0 * true_logits
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, rel=0.1)
    # scaling helps: lower NLL and lower ECE than the raw over-confident logits
    nll = negative_log_likelihood
    assert nll(overconfident, labels, temperature) < nll(overconfident, labels, 1.0)
    before = expected_calibration_error(calibrated_probabilities(overconfident, 1.0), labels)
    after = expected_calibration_error(calibrated_probabilities(overconfident, temperature), labels)
    assert after < before / 2


def test_calibrated_probabilities_sum_to_one_and_keep_the_argmax():
    logits = np.random.default_rng(1).normal(size=(50, 10)) * 4
    for t in (0.5, 1.0, 3.0):
        probs = calibrated_probabilities(logits, t)
        assert np.allclose(probs.sum(axis=1), 1.0)
        assert (probs.argmax(1) == logits.argmax(1)).all()


def test_evaluation_confusion_matrix_precision_and_recall():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 9])
    predicted = np.array([0, 0, 1, 1, 1, 2, 2, 0, 9, 9])
    probs = np.eye(10)[predicted] * 0.9 + 0.01
    report = evaluation(probs, labels, keys=[f"k{i}" for i in range(10)])
    matrix = np.array(report.confusion_matrix)
    assert matrix.shape == (10, 10) and matrix.sum() == len(labels)
    assert matrix[0, 0] == 2 and matrix[0, 1] == 1 and matrix[2, 0] == 1 and matrix[2, 9] == 1
    assert report.count == 10 and report.errors == 3 and report.wrong_keys == ["k2", "k7", "k8"]
    assert report.accuracy == pytest.approx(0.7)
    assert np.array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    assert Evaluation.from_dict(report.to_dict()) == report
    precision, recall = report.precision, report.recall
    assert precision[0] == pytest.approx(2 / 3, abs=1e-4)  # predicted 0 three times, right twice
    assert recall[0] == pytest.approx(2 / 3, abs=1e-4)
    assert precision[1] == pytest.approx(2 / 3, abs=1e-4) and recall[1] == pytest.approx(1.0)
    assert precision[2] == pytest.approx(1.0) and recall[2] == pytest.approx(0.5)
    assert precision[9] == pytest.approx(0.5) and recall[9] == pytest.approx(1.0)
    assert precision[5] == 0.0 and recall[5] == 0.0  # absent class: no division by zero
    assert 0.0 <= report.ece <= 1.0
    empty = evaluation(np.zeros((0, 10)), np.zeros(0, dtype=np.int64))
    assert empty.count == 0 and empty.accuracy is None and empty.recall == [0.0] * 10


def test_calibration_report_on_a_tiny_model():
    ckpt = make_checkpoint()
    images, labels = toy_dataset(60, seed=3)
    logits = checkpoint_logits(ckpt, images)
    assert logits.shape == (60, 10) and np.isfinite(logits).all()
    report = calibration_report(ckpt, images[:30], labels[:30], images[30:], labels[30:])
    assert 0.05 <= report.temperature <= 20.0
    assert report.test.count == 30
    assert len(report.reliability_before) == report.ece_bins
    document = report.to_dict()
    assert document["schema"] == 1 and CalibratedEvaluation.from_dict(document) == report


def _plot_report() -> CalibratedEvaluation:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 10, 200)
    logits = rng.normal(size=(200, 10))
    logits[np.arange(200), labels] += 3
    return calibrated_evaluation(logits[:100], labels[:100], logits[100:], labels[100:])


def test_save_plots_writes_three_pngs(tmp_path):
    history = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "val_loss": 1.1 / e,
            "train_accuracy": 0.97 + e / 1000,
            "val_accuracy": 0.98 + e / 1000,
        }
        for e in range(1, 4)
    ]
    paths = save_plots(_plot_report(), history, tmp_path / "plots")
    assert len(paths) == 3
    assert {p.name for p in paths} == {"confusion_matrix.png", "reliability.png", "training_curves.png"}
    for path in paths:
        assert path.parent == tmp_path / "plots"
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000


def test_save_plots_without_history_skips_the_curves(tmp_path):
    paths = save_plots(_plot_report(), [], tmp_path)
    assert sorted(p.name for p in paths) == ["confusion_matrix.png", "reliability.png"]
