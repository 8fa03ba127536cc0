"""The shipped checkpoint: loads safely, is calibrated, was trained on verified MNIST, and scores >= 99.5%."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.checkpoint import SHIPPED_CHECKPOINT, load_checkpoint
from ml.data import MNIST_SHA256, load_mnist
from ml.report import CalibratedEvaluation, ModelMetrics
from ml.tensors import checkpoint_logits

REQUIRED_ACCURACY = 0.995


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
        predicted = checkpoint_logits(ckpt, splits.test_images).argmax(axis=1)
    finally:
        torch.set_num_threads(previous)
    accuracy = float((predicted == splits.test_labels).mean())
    errors = int((predicted != splits.test_labels).sum())
    assert accuracy >= REQUIRED_ACCURACY, f"test accuracy {accuracy:.4f} ({errors} errors) < {REQUIRED_ACCURACY}"
    # the recorded metric is the one measured here, not a stale number
    assert ckpt.metrics["test_accuracy"] == pytest.approx(accuracy, abs=5e-4)
    assert np.isfinite(ckpt.metrics["test_ece_after_scaling"])


def test_shipped_metrics_json_loads_into_the_typed_figures():
    """metrics.json as shipped (written before report.py's schema) reads through the one adapter."""
    import json

    document = json.loads((SHIPPED_CHECKPOINT.parent / "metrics.json").read_text())
    metrics = ModelMetrics.from_dict(document)
    assert metrics.test_accuracy == document["test_accuracy"] and metrics.temperature == document["temperature"]
    assert metrics.extra["checkpoint_sha256"] == document["checkpoint_sha256"]  # nothing is lost
    report = CalibratedEvaluation.from_dict(document["report"])
    assert report.test.count == 10_000 and report.test.accuracy == document["test_accuracy"]
    assert report.test.correct == 10_000 - document["report"]["test"]["errors"]
    assert report.test.recall == pytest.approx(document["report"]["test"]["recall"], abs=1e-5)
    assert ModelMetrics.from_dict(metrics.to_dict()) == metrics
