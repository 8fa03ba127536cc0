"""Fine-tuning the base model on the training corrections mixed with MNIST replay."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ml.augment import AugmentConfig
from ml.checkpoint import Checkpoint
from ml.data import MnistSplits, as_unit_float
from ml.model import DigitNet
from ml.negatives import training_negative_inputs
from ml.refusal import NOT_A_DIGIT_LABEL
from ml.retrain.config import RetrainConfig
from ml.retrain.split import CorrectionSet
from ml.train import EpochRecord, SelectKey, fine_tune

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], step), as ml.train reports it


def replay_sample(data: MnistSplits, *, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` MNIST training digits (uint8 (count, 28, 28) and labels), drawn without replacement."""
    pick = np.random.default_rng(seed).choice(len(data.train_images), size=count, replace=False)
    return data.train_images[pick], data.train_labels[pick]


def epoch_choice(*, base_val_accuracy: float, max_val_drop_pts: float) -> SelectKey:
    """How an epoch is chosen: those within ``max_val_drop_pts`` of the base model's MNIST validation accuracy
    first, the best on the selection slice among them (then MNIST validation); without a slice, MNIST
    validation alone."""
    floor = base_val_accuracy - max_val_drop_pts / 100 - 1e-9

    def key(record: EpochRecord) -> tuple:
        within = record.val_accuracy >= floor
        on_slice = record.selection_accuracy if within and record.selection_accuracy is not None else 0.0
        return (within, on_slice, record.val_accuracy, -record.val_loss)

    return key


def fine_tune_on_corrections(
    base: Checkpoint,
    train: CorrectionSet,
    data: MnistSplits,
    config: RetrainConfig,
    *,
    replay: int,
    refuses: bool,
    selection: CorrectionSet,
    select_key: SelectKey,
    progress: Progress | None = None,
) -> tuple[DigitNet, list[EpochRecord]]:
    """Fine-tune on ``train``, oversampled and augmented, plus ``replay`` MNIST digits; the epoch is chosen on
    MNIST validation and the ``selection`` corrections by ``select_key`` (``epoch_choice``).

    Corrections labelled not a digit, and, when the model ``refuses``, replayed synthetic negatives, are
    trained towards a uniform answer (outlier exposure), as the model was first trained.
    """
    is_negative = train.labels == NOT_A_DIGIT_LABEL
    replay_images, replay_labels = replay_sample(data, count=replay, seed=config.seed)
    repeats = config.correction_repeats(digits=int((~is_negative).sum()), replay=replay)
    shown = np.tile(train.images[~is_negative], (repeats, 1, 1))
    images = np.concatenate([shown, as_unit_float(replay_images)])
    labels = np.concatenate([np.tile(train.labels[~is_negative], repeats), replay_labels.astype(np.int64)])
    replayed = config.negative_replay_per_kind if refuses else 0
    making = None if progress is None else (lambda what: progress(0.0, f"making the replayed negatives once: {what}"))
    synthetic = training_negative_inputs(data.train_images, data.train_labels, replayed, heartbeat=making)
    corrected_negatives = np.tile(train.images[is_negative], (max(repeats, 1), 1, 1))
    if progress is not None:
        progress(0.0, f"{len(images):,} digits an epoch, each correction {repeats} times; {len(synthetic):,} negatives")
    torch.manual_seed(config.seed)
    return fine_tune(
        base,
        images,  # (N, 28, 28) in [0, 1]
        labels,
        data.val_images,
        data.val_labels,
        epochs=config.epochs,
        lr=config.lr,
        seed=config.seed,
        threads=config.threads,
        progress=progress,
        negatives=np.concatenate([corrected_negatives, as_unit_float(synthetic)]),
        augment=AugmentConfig(elastic_px=config.elastic_px),
        selection=(selection.images, selection.labels) if len(selection) else None,
        select_key=select_key,
        freeze_batchnorm=config.freeze_batchnorm,
        distill_rows=np.arange(len(images)) >= len(shown) if config.distill_weight > 0 else None,
        distill_weight=config.distill_weight,
        distill_temperature=config.distill_temperature,
    )
