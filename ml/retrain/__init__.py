"""Retraining from people's corrections: stable holdout split, fine-tuning with MNIST replay, comparison, gate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml.retrain.config import GateConfig, RetrainConfig
from ml.retrain.errors import (
    BaseCheckpointError,
    EmptyHoldoutError,
    InvalidCorrectionsError,
    NoCorrectionsError,
    RetrainError,
    RetrainTimeout,
    TrainingDataError,
)
from ml.retrain.gate import PROMOTE, REJECT, gate, gate_rules
from ml.retrain.split import (
    GROUP_SEPARATOR,
    HOLDOUT_FRACTION,
    SPLIT_SALT,
    CorrectionSet,
    check_split,
    split_key_is_holdout,
    split_problem,
)

if TYPE_CHECKING:
    from ml.retrain.pipeline import CANDIDATE_NAME, RetrainResult, retrain

# The pipeline pulls in torch and ONNX Runtime (~500 MB); the web tier only needs the split and the errors
# above to refuse a retraining that cannot work, so the pipeline loads on first use.
_PIPELINE = {"retrain", "RetrainResult", "CANDIDATE_NAME"}


def __getattr__(name: str):
    if name in _PIPELINE:
        from ml.retrain import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ml.retrain' has no attribute {name!r}")


__all__ = [
    "CANDIDATE_NAME",
    "HOLDOUT_FRACTION",
    "PROMOTE",
    "REJECT",
    "SPLIT_SALT",
    "BaseCheckpointError",
    "CorrectionSet",
    "EmptyHoldoutError",
    "GateConfig",
    "InvalidCorrectionsError",
    "NoCorrectionsError",
    "RetrainConfig",
    "RetrainError",
    "RetrainResult",
    "RetrainTimeout",
    "TrainingDataError",
    "check_split",
    "gate",
    "gate_rules",
    "GROUP_SEPARATOR",
    "split_key_is_holdout",
    "split_problem",
    "retrain",
]
