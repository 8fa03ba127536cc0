"""Fine-tuning the base model on the training corrections mixed with MNIST replay."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ml.checkpoint import Checkpoint
from ml.data import MnistSplits
from ml.model import DigitNet
from ml.negatives import training_negative_inputs
from ml.refusal import NOT_A_DIGIT_LABEL
from ml.retrain.config import RetrainConfig
from ml.retrain.split import CorrectionSet
from ml.train import EpochRecord, fine_tune

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], step), as ml.train reports it


def replay_sample(data: MnistSplits, *, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` MNIST training digits (uint8 (count, 28, 28) and labels), drawn without replacement."""
    pick = np.random.default_rng(seed).choice(len(data.train_images), size=count, replace=False)
    return data.train_images[pick], data.train_labels[pick]


def fine_tune_on_corrections(
    base: Checkpoint,
    train: CorrectionSet,
    data: MnistSplits,
    config: RetrainConfig,
    *,
    replay: int,
    refuses: bool,
    progress: Progress | None = None,
) -> tuple[DigitNet, list[EpochRecord]]:
    """Fine-tune on ``train`` plus ``replay`` MNIST digits; the epoch is selected on MNIST validation.

    Corrections labelled not a digit, and, when the model ``refuses``, replayed synthetic negatives, are
    trained towards a uniform answer (outlier exposure), as the model was first trained.
    """
    is_negative = train.labels == NOT_A_DIGIT_LABEL
    replay_images, replay_labels = replay_sample(data, count=replay, seed=config.seed)
    images = np.concatenate([train.images[~is_negative], replay_images.astype(np.float32) / 255.0])  # (N, 28, 28)
    labels = np.concatenate([train.labels[~is_negative], replay_labels.astype(np.int64)])
    replayed = config.negative_replay_per_kind if refuses else 0
    negatives = [train.images[is_negative], training_negative_inputs(data.train_images, data.train_labels, replayed)]
    torch.manual_seed(config.seed)
    return fine_tune(
        base,
        images,
        labels,
        data.val_images,
        data.val_labels,
        epochs=config.epochs,
        lr=config.lr,
        seed=config.seed,
        threads=config.threads,
        progress=progress,
        negatives=np.concatenate(negatives),
    )
