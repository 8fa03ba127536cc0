"""The shipped checkpoint: loads safely, is calibrated, was trained on verified MNIST, and scores >= 99.5%."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ml.calibrate import calibrated_probabilities
from ml.checkpoint import SHIPPED_CHECKPOINT, load_checkpoint
from ml.data import MNIST_SHA256, load_mnist
from ml.report import CalibratedEvaluation, ModelMetrics, evaluation
from ml.tensors import checkpoint_logits

REQUIRED_ACCURACY = 0.995
MAX_TEST_REFUSALS = 0.003  # real digits the model may refuse as "not a digit"


@pytest.mark.slow
def test_shipped_checkpoint_scores_on_the_full_mnist_test_set(mnist_root):
    assert SHIPPED_CHECKPOINT.is_file(), f"{SHIPPED_CHECKPOINT} is missing: train it with `make train`"
    payload = torch.load(SHIPPED_CHECKPOINT, map_location="cpu", weights_only=True)
    assert isinstance(payload, dict)
    ckpt = load_checkpoint(SHIPPED_CHECKPOINT)
    assert 0.05 <= ckpt.temperature <= 20.0 and ckpt.temperature != 1.0, "checkpoint was never calibrated"
    assert ckpt.metrics.get("test_accuracy") is not None and ckpt.metrics.get("test_ece_after_scaling") is not None
    assert ckpt.data_checksums == MNIST_SHA256
    assert ckpt.normalisation.keys() == {"mean", "std"}

    splits = load_mnist(mnist_root)
    assert splits.test_images.shape == (10_000, 28, 28)
    previous = torch.get_num_threads()
    try:
        logits = checkpoint_logits(ckpt, splits.test_images)
    finally:
        torch.set_num_threads(previous)
    probs = calibrated_probabilities(logits, ckpt.temperature)
    # refusals count as errors
    result = evaluation(probs, splits.test_labels, None, ckpt.rejection_threshold, splits.test_images)
    assert result.accuracy >= REQUIRED_ACCURACY, (
        f"test accuracy {result.accuracy:.4f} ({result.errors} errors, {result.refused} refused) < {REQUIRED_ACCURACY}"
    )
    assert (result.refusal_rate or 0.0) <= MAX_TEST_REFUSALS
    # the recorded metric is the one measured here, not a stale number
    assert ckpt.metrics["test_accuracy"] == pytest.approx(result.accuracy, abs=5e-4)
    assert np.isfinite(ckpt.metrics["test_ece_after_scaling"])


def test_shipped_metrics_json_loads_into_the_typed_figures():
    """metrics.json as shipped (written before report.py's schema) reads through the one adapter."""
    import json

    document = json.loads((SHIPPED_CHECKPOINT.parent / "metrics.json").read_text())
    metrics = ModelMetrics.from_dict(document)
    assert metrics.test_accuracy == document["test_accuracy"] and metrics.temperature == document["temperature"]
    assert metrics.extra["checkpoint_sha256"] == document["checkpoint_sha256"]  # nothing is lost
    report = CalibratedEvaluation.from_dict(document["report"])
    # the headline counts refusals as errors; the calibration report reads every digit
    assert report.test.count == 10_000 and report.test.accuracy >= document["test_accuracy"]
    assert report.test.correct == 10_000 - document["report"]["test"]["errors"]
    assert report.test.recall == pytest.approx(document["report"]["test"]["recall"], abs=1e-5)
    assert ModelMetrics.from_dict(metrics.to_dict()) == metrics


def _letters_in_a_font_training_never_used(count: int = 12) -> list[bytes]:
    """Capital letters typed in DejaVu Serif (the training negatives use only the Sans families)."""
    import glob
    import io

    from PIL import Image, ImageDraw, ImageFont

    from ml.negatives import is_training_font

    fonts = [f for f in sorted(glob.glob("/usr/share/fonts/**/DejaVuSerif*.ttf", recursive=True))]
    assert fonts and not any(is_training_font(f) for f in fonts)
    files = []
    for i, letter in enumerate("AKWHMRFEXYNV"[:count]):
        img = Image.new("L", (200, 200), 255)
        ImageDraw.Draw(img).text((100, 100), letter, font=ImageFont.truetype(fonts[i % len(fonts)], 140), anchor="mm")
        buffer = io.BytesIO()
        img.save(buffer, format="PNG")
        files.append(buffer.getvalue())
    return files


@pytest.mark.slow
def test_shipped_model_refuses_letters_and_reads_mnist_digits(mnist_root):
    from ml.predictor import Predictor
    from ml.tests.drawing import encode

    predictor = Predictor.from_checkpoint(SHIPPED_CHECKPOINT)
    if predictor.backend.rejection_threshold is None:
        pytest.skip("the shipped model predates refusals (no rejection threshold): it answers a digit for any ink")
    letters = predictor.predict_batch(_letters_in_a_font_training_never_used())
    assert sum(p.not_a_digit for p in letters) >= 10, [p.closest_digit for p in letters if not p.not_a_digit]
    splits = load_mnist(mnist_root)
    digits = predictor.predict_batch([encode(Image.fromarray(d, "L")) for d in splits.test_images[:500]])
    assert sum(p.not_a_digit for p in digits) <= 2
    assert sum(p.digit == y for p, y in zip(digits, splits.test_labels[:500], strict=True)) >= 495
