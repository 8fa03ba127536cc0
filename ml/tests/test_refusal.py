"""Not a digit: the rejection score and threshold, the reason, the predictor's third answer, figures and gate."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image, ImageOps

from ml.checkpoint import load_checkpoint, save_checkpoint
from ml.export import export_onnx
from ml.predictor import Predictor
from ml.refusal import (
    NOT_A_DIGIT,
    NOT_A_DIGIT_LABEL,
    SEVERAL_DIGITS,
    choose_threshold,
    refusal_reason,
    refusals,
    rejection_scores,
)
from ml.report import evaluation
from ml.retrain import REJECT, CorrectionSet, InvalidCorrectionsError, gate
from ml.tests.drawing import black_on_white, draw_digit, encode


def _probs(*peaks: float) -> np.ndarray:
    """One row per peak: that probability on digit 3, the rest spread evenly."""
    rows = np.full((len(peaks), 10), 0.0)
    for row, peak in zip(rows, peaks, strict=True):
        row[:] = (1 - peak) / 9
        row[3] = peak
    return rows


def test_the_score_is_one_minus_the_largest_probability():
    np.testing.assert_allclose(rejection_scores(_probs(0.99, 0.5, 0.1)), [0.01, 0.5, 0.9])


def test_the_threshold_refuses_at_most_the_chosen_share_of_validation_digits():
    rng = np.random.default_rng(0)
    peaks = rng.uniform(0.3, 1.0, 5000)
    threshold = choose_threshold(_probs(*peaks), max_false_refusal=0.01)
    refused = rejection_scores(_probs(*peaks)) > threshold
    assert 0.005 <= refused.mean() <= 0.01


def test_the_threshold_needs_validation_digits():
    with pytest.raises(ValueError, match="validation digits"):
        choose_threshold(np.zeros((0, 10)))


def _blob(image: np.ndarray, rows: slice, cols: slice) -> None:
    image[rows, cols] = 1.0


def _pair() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    _blob(image, slice(8, 20), slice(4, 11))
    _blob(image, slice(8, 20), slice(16, 24))
    return image


def _single() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    _blob(image, slice(4, 24), slice(8, 20))
    return image


def test_the_score_refuses_above_the_threshold():
    images = [_single()] * 2
    assert refusals(_probs(0.5, 0.7), images, 0.4).tolist() == [True, False]


def test_several_digits_are_refused_however_sure_the_model_is():
    assert refusals(_probs(0.99, 0.99), [_pair(), _single()], 0.4).tolist() == [True, False]
    uint8_pair = (_pair() * 255).astype(np.uint8)  # MNIST files hold uint8 ink
    assert refusals(_probs(0.99), [uint8_pair], 0.4).tolist() == [True]


def test_a_model_without_a_threshold_never_refuses():
    assert refusals(_probs(0.1, 0.99), [_single(), _pair()], None).tolist() == [False, False]


def test_two_digit_sized_parts_side_by_side_look_like_several_digits():
    assert refusal_reason(_pair()) == SEVERAL_DIGITS


def test_one_part_or_parts_stacked_are_just_not_a_digit():
    one = _single()
    stacked = np.zeros((28, 28), np.float32)  # a 5's bar above its body: not side by side
    _blob(stacked, slice(4, 8), slice(8, 20))
    _blob(stacked, slice(10, 24), slice(8, 20))
    assert refusal_reason(one) == NOT_A_DIGIT
    assert refusal_reason(stacked) == NOT_A_DIGIT


# ---------------------------------------------------------------- the predictor's three answers


@pytest.fixture
def thresholded(untrained_checkpoint, tmp_path):
    """A copy of the untrained checkpoint whose threshold refuses everything with ink, exported to ONNX."""
    path = tmp_path / "refusing.pt"
    shutil.copyfile(untrained_checkpoint, path)
    ckpt = load_checkpoint(path)
    ckpt.rejection_threshold = -1.0
    save_checkpoint(ckpt, path)
    export_onnx(path)
    return path


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_the_threshold_travels_with_the_checkpoint_and_its_onnx_export(thresholded, backend):
    predictor = Predictor.from_checkpoint(thresholded, backend=backend)
    assert predictor.backend.rejection_threshold == -1.0
    prediction = predictor.predict(encode(black_on_white("7", size=(200, 200), height=140, stroke=12)))
    assert prediction.not_a_digit and not prediction.no_digit
    assert prediction.digit is None and prediction.confidence is None
    assert prediction.reason in (NOT_A_DIGIT, SEVERAL_DIGITS)
    assert len(prediction.probabilities) == 10 and prediction.input_image.shape == (28, 28)
    assert prediction.closest_digit == int(np.argmax(prediction.probabilities))
    assert prediction.closest_probability == pytest.approx(max(prediction.probabilities))
    assert prediction.rejection_score == pytest.approx(1 - prediction.closest_probability)


def test_two_digits_side_by_side_are_refused_as_several_digits_whatever_the_score(thresholded):
    ckpt = load_checkpoint(thresholded)
    ckpt.rejection_threshold = 1.0  # the score alone never refuses
    save_checkpoint(ckpt, thresholded)
    predictor = Predictor.from_checkpoint(thresholded, backend="torch")
    pair = Image.new("L", (420, 200), 0)
    draw_digit(pair, "7", 120, 12, (80, 100))
    draw_digit(pair, "4", 120, 12, (330, 100))  # far apart: preprocessing keeps both
    two, one = predictor.predict_batch([ImageOps.invert(pair), black_on_white("7", size=(200, 200), height=140)])
    assert two.not_a_digit and two.several_digits and two.reason == SEVERAL_DIGITS
    assert not one.not_a_digit and one.digit is not None


def test_blank_is_still_no_digit_with_a_threshold(thresholded):
    blank = encode(black_on_white("", size=(100, 100)))
    prediction = Predictor.from_checkpoint(thresholded).predict(blank)
    assert prediction.no_digit and not prediction.not_a_digit and prediction.probabilities is None


def test_an_old_checkpoint_answers_a_digit(untrained_checkpoint, seven_png):
    predictor = Predictor.from_checkpoint(untrained_checkpoint, backend="torch")
    assert predictor.backend.rejection_threshold is None
    prediction = predictor.predict(seven_png)
    assert prediction.digit is not None and not prediction.not_a_digit and not prediction.no_digit


# ---------------------------------------------------------------- figures and the gate


def test_refused_digits_are_errors_and_refused_negatives_are_right():
    probs = _probs(0.99, 0.4, 0.99, 0.3, 0.95)
    labels = [3, 3, 5, NOT_A_DIGIT_LABEL, NOT_A_DIGIT_LABEL]
    images = [_single()] * 5
    result = evaluation(probs, labels, keys=list("abcde"), rejection_threshold=0.5, images=images)
    # a: right; b: a 3 refused; c: a 5 read as 3; d: refused, right; e: read as 3, wrong
    assert (result.correct, result.refused, result.not_a_digit_count, result.not_a_digit_refused) == (2, 1, 2, 1)
    assert result.wrong_keys == ["b", "c", "e"]
    assert result.refusal_rate == pytest.approx(1 / 3)
    assert result.per_class_count[3] == 2 and result.per_class_correct[3] == 1
    assert sum(map(sum, result.confusion_matrix)) == 2  # only the digits answered


def test_judging_refusals_needs_the_images():
    with pytest.raises(ValueError, match="images"):
        evaluation(_probs(0.2), [3], rejection_threshold=0.5)


def test_without_a_threshold_nothing_is_refused():
    result = evaluation(_probs(0.2, 0.99), [3, 3])
    assert result.refused == 0 and result.correct == 2


def _gate(**refusals):
    masks = {"candidate_holdout_correct": [True] * 30, "active_holdout_correct": [True] * 30}
    return gate(candidate_test_correct=9960, active_test_correct=9960, test_total=10_000, **masks, **refusals)


def test_the_gate_rejects_a_candidate_refusing_more_test_digits():
    verdict, reason = _gate(candidate_test_refused=16, active_test_refused=10)
    assert verdict == REJECT and "more MNIST test digits refused" in reason


def test_the_gate_allows_refusals_that_moved_by_chance_and_not_a_clean_rise():
    # 9 refused by the candidate alone, 4 by the active model alone: as likely as not to be two noisy thresholds
    verdict, reason = _gate(
        candidate_test_refused=15,
        active_test_refused=10,
        test_refused_by_candidate_only=9,
        test_refused_by_active_only=4,
    )
    assert verdict == "promote" and "digits refused: MNIST test 10 -> 15" in reason
    # the same counts, every extra refusal the candidate's alone: a worse model
    verdict, reason = _gate(
        candidate_test_refused=15,
        active_test_refused=10,
        test_refused_by_candidate_only=5,
        test_refused_by_active_only=0,
    )
    assert verdict == REJECT and "5 by the candidate alone, 0 by the active model alone: p = 0.031" in reason


def test_the_refusal_sign_test():
    from ml.retrain.gate import refusal_rise_p

    assert refusal_rise_p(0, 0) == 1.0 and refusal_rise_p(3, 3) == 1.0 and refusal_rise_p(2, 7) == 1.0
    assert refusal_rise_p(4, 0) == pytest.approx(1 / 16) and refusal_rise_p(5, 0) == pytest.approx(1 / 32)
    assert refusal_rise_p(9, 3) == pytest.approx(299 / 4096)  # P(X >= 9), X ~ Binomial(12, 1/2)


def test_the_gate_rejects_a_candidate_refusing_more_held_out_digits():
    verdict, reason = _gate(candidate_holdout_refused=2, active_holdout_refused=1)
    assert verdict == REJECT and "more held-out digits refused" in reason


def test_the_gate_promotes_a_candidate_refusing_fewer():
    verdict, _ = _gate(
        candidate_test_refused=8, active_test_refused=10, candidate_holdout_refused=0, active_holdout_refused=1
    )
    assert verdict == "promote"


def test_corrections_may_say_not_a_digit_and_nothing_else():
    images = np.zeros((3, 28, 28), np.float32)
    ok = CorrectionSet(images=images, labels=[1, NOT_A_DIGIT_LABEL, 9], keys=["a", "b", "c"])
    assert list(ok.labels) == [1, NOT_A_DIGIT_LABEL, 9]
    with pytest.raises(InvalidCorrectionsError):
        CorrectionSet(images=images, labels=[1, -2, 10], keys=["a", "b", "c"])
