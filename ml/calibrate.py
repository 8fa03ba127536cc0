"""Temperature scaling and expected calibration error (ECE)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

ECE_BINS = 15


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    return float(-log_softmax(logits / temperature, axis=1)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The single temperature that minimises NLL on held-out logits (Guo et al., 2017)."""
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(result.x))


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS) -> list[dict]:
    """Per confidence bin: count, mean confidence and accuracy (empty bins included, count 0)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        members = index == b
        count = int(members.sum())
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "confidence": float(confidence[members].mean()) if count else 0.0,
                "accuracy": float(correct[members].mean()) if count else 0.0,
            }
        )
    return bins


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Weighted mean |accuracy - confidence| over equal-width confidence bins."""
    bins = reliability_bins(probs, labels, n_bins)
    total = sum(b["count"] for b in bins)
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins) / max(total, 1))


def calibrated_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    return softmax(logits / temperature, axis=1)
