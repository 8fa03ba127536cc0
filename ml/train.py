"""Training from scratch on MNIST and fine-tuning a checkpoint on extra samples mixed with MNIST replay."""

from __future__ import annotations

import argparse
import copy
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ml.augment import AugmentConfig, augment_batch, pick_redrawn
from ml.checkpoint import SHIPPED_CHECKPOINT, Checkpoint, checkpoint_from_model, load_checkpoint, save_checkpoint
from ml.data import sha256_of
from ml.evaluate import finalize_checkpoint
from ml.model import DigitNet, ModelConfig, count_parameters
from ml.strokes import redrawn
from ml.tensors import MNIST_NORMALISATION, as_float_images, normalise, predict_logits

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], human-readable step)


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 128
    lr: float = 4e-3  # OneCycle peak
    weight_decay: float = 5e-4
    label_smoothing: float = 0.05
    # Outlier exposure (Hendrycks et al., 2019): with negatives given, each batch also carries this many
    # not-a-digit inputs whose predicted distribution is pulled towards uniform, at this weight.
    negatives_per_kind: int = 0  # synthetic training negatives of each ml.negatives kind; 0: none
    negatives_per_batch: int = 64
    negative_weight: float = 1.0
    # Fine-tuning on a few hundred corrections: BatchNorm keeps the statistics it learnt on all of MNIST, since
    # batches half full of one person's style would shift them and cost MNIST accuracy.
    freeze_batchnorm: bool = False
    distill_weight: float = 1.0  # with a teacher (fine-tuning): its answers on the replayed digits, kept
    distill_temperature: float = 2.0
    seed: int = 0
    threads: int = 2
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        return data


@dataclass
class EpochRecord:
    epoch: int
    lr: float
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    selection_accuracy: float | None = None  # on the caller's selection set (retraining: a slice of corrections)


SelectKey = Callable[[EpochRecord], tuple]


def best_on_validation(record: EpochRecord) -> tuple:
    """The default epoch choice: validation accuracy, ties broken by validation loss."""
    return (record.val_accuracy, -record.val_loss)


def outlier_exposure_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy from the uniform distribution: low when the model is unsure among all ten digits."""
    return -F.log_softmax(logits, dim=1).mean()


def _redrawn_copies(images: torch.Tensor | None, cfg: AugmentConfig) -> torch.Tensor | None:
    """(N, 1, 28, 28) copies of ``images`` redrawn with a uniform pen when the augmentation uses them, made
    once per run (thinning is numpy work, too slow for every batch)."""
    if images is None or cfg.p_redrawn <= 0 or not len(images):
        return None
    return torch.from_numpy(redrawn(images[:, 0].numpy())).unsqueeze(1)


def _rows(images: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    return None if images is None else images[idx]


def _loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    return F.cross_entropy(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()


def _batch_loss(
    model: DigitNet,
    x: torch.Tensor,
    y: torch.Tensor,
    outliers: torch.Tensor | None,
    keep: tuple[torch.Tensor, torch.nn.Module] | None,
    cfg: TrainConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits' logits and the batch's loss: cross-entropy on the digits, outlier exposure on ``outliers``
    (one pass, so BatchNorm sees digits and negatives together), and with ``keep`` = (rows, teacher) the
    teacher's answers distilled into those rows (Li & Hoiem's "learning without forgetting")."""
    both = model(x if outliers is None else torch.cat([x, outliers]))
    logits = both[: len(y)]
    loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    if outliers is not None:
        loss = loss + cfg.negative_weight * outlier_exposure_loss(both[len(y) :])
    if keep is not None and keep[0].any():
        rows, teacher = keep
        t = cfg.distill_temperature
        with torch.no_grad():
            target = F.log_softmax(teacher(x[rows]) / t, dim=1)
        student = F.log_softmax(logits[rows] / t, dim=1)
        distilled = F.kl_div(student, target, log_target=True, reduction="batchmean") * t * t
        loss = loss + cfg.distill_weight * distilled
    return logits, loss


def _validating(progress: Progress, fraction: float, step: str, done: int, total: int) -> None:
    progress(fraction, f"{step} ({done:,}/{total:,})")


def _validate(
    model: DigitNet,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    selection: tuple[torch.Tensor, torch.Tensor] | None,
    normalisation: dict[str, float],
    after_batch: Callable[[int, int], None] | None,
) -> tuple[float, float, float | None]:
    """Validation loss and accuracy of the model as it is now, and its accuracy on ``selection`` (if any)."""
    logits = predict_logits(model, val_x, normalisation, after_batch=after_batch)
    val_loss, val_acc = _loss_and_accuracy(logits, val_y)
    if selection is None:
        return val_loss, val_acc, None
    on_selection = predict_logits(model, selection[0], normalisation).argmax(1) == selection[1]
    return val_loss, val_acc, on_selection.float().mean().item()


def fit(
    model: DigitNet,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    cfg: TrainConfig,
    progress: Progress | None = None,
    show_bar: bool = True,
    normalisation: dict[str, float] = MNIST_NORMALISATION,
    negatives: torch.Tensor | None = None,
    selection: tuple[torch.Tensor, torch.Tensor] | None = None,
    select_key: SelectKey = best_on_validation,
    teacher: torch.nn.Module | None = None,
    distill_rows: torch.Tensor | None = None,
) -> tuple[DigitNet, list[EpochRecord]]:
    """Train with augmentation, AdamW and OneCycle; return the epoch ``select_key`` ranks highest, and the history.

    ``negatives``: optional (M, 1, 28, 28) not-a-digit inputs in [0, 1], trained towards a uniform answer.
    ``selection``: optional (images, labels) measured after each epoch as ``EpochRecord.selection_accuracy``.
    ``teacher``: a frozen model whose answers on the training rows marked in ``distill_rows`` (bool (N,)) are
    distilled at ``cfg.distill_weight``: fine-tuning keeps what the base model knew there.
    """
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    gen = torch.Generator().manual_seed(cfg.seed)
    steps_per_epoch = max(1, len(train_x) // cfg.batch_size)  # drop the ragged last batch: BatchNorm dislikes 1
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch
    )
    train_redrawn = _redrawn_copies(train_x, cfg.augment)
    negative_redrawn = _redrawn_copies(negatives, cfg.augment)
    history: list[EpochRecord] = []
    best_state, best_key = None, None
    total_steps = cfg.epochs * steps_per_epoch
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        model.train()
        if cfg.freeze_batchnorm:
            for module in model.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()
        order = torch.randperm(len(train_x), generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", disable=not show_bar, leave=False)
        for step in bar:
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            drawn = pick_redrawn(train_x[idx], _rows(train_redrawn, idx), cfg.augment, gen)
            x = normalise(augment_batch(drawn, cfg.augment, gen), normalisation)
            y = train_y[idx]
            outliers = None
            if negatives is not None and len(negatives):
                pick = torch.randint(len(negatives), (cfg.negatives_per_batch,), generator=gen)
                drawn = pick_redrawn(negatives[pick], _rows(negative_redrawn, pick), cfg.augment, gen)
                outliers = normalise(augment_batch(drawn, cfg.augment, gen), normalisation)
            keep = None if teacher is None else (distill_rows[idx], teacher)
            logits, loss = _batch_loss(model, x, y, outliers, keep, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}")
            if progress:  # every step: the caller throttles, and a step can take a second on a slow machine
                done = ((epoch - 1) * steps_per_epoch + step) / total_steps
                progress(done, f"epoch {epoch}/{cfg.epochs}: loss {loss_sum / seen:.4f}")
        validating = None
        if progress:
            done = epoch * steps_per_epoch / total_steps
            validating = partial(_validating, progress, done, f"epoch {epoch}/{cfg.epochs}: validating")
        val_loss, val_acc, selection_acc = _validate(model, val_x, val_y, selection, normalisation, validating)
        record = EpochRecord(
            epoch=epoch,
            lr=schedule.get_last_lr()[0],
            train_loss=loss_sum / seen,
            train_accuracy=correct / seen,
            val_loss=val_loss,
            val_accuracy=val_acc,
            seconds=time.perf_counter() - started,
            selection_accuracy=selection_acc,
        )
        history.append(record)
        if show_bar:
            tqdm.write(
                f"epoch {epoch}: train loss {record.train_loss:.4f} acc {record.train_accuracy:.4f} | "
                f"val loss {val_loss:.4f} acc {val_acc:.4f} | {record.seconds:.0f}s"
            )
        key = select_key(record)
        if best_key is None or key > best_key:
            best_key, best_state = key, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    if progress:
        progress(1.0, "training done")
    return model.eval(), history


def train(
    splits,
    cfg: TrainConfig,
    progress: Progress | None = None,
    show_bar: bool = True,
    *,
    init: Checkpoint | None = None,
    negatives: np.ndarray | None = None,
) -> tuple[DigitNet, list[EpochRecord]]:
    """Train on MNIST (and ``negatives``, if any) from scratch, or from ``init``'s weights."""
    model = DigitNet(cfg.model) if init is None else init.build_model()
    return fit(
        model,
        as_float_images(splits.train_images),
        torch.as_tensor(splits.train_labels),
        as_float_images(splits.val_images),
        torch.as_tensor(splits.val_labels),
        cfg,
        progress,
        show_bar,
        normalisation=dict(MNIST_NORMALISATION if init is None else init.normalisation),
        negatives=None if negatives is None else as_float_images(negatives),
    )


def fine_tune(
    base: Checkpoint,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    *,
    epochs: int = 3,
    lr: float = 1e-3,
    seed: int = 0,
    threads: int = 1,
    progress: Progress | None = None,
    negatives: np.ndarray | None = None,
    augment: AugmentConfig | None = None,
    selection: tuple[np.ndarray, np.ndarray] | None = None,
    select_key: SelectKey = best_on_validation,
    freeze_batchnorm: bool = False,
    distill_rows: np.ndarray | None = None,
    distill_weight: float = 1.0,
    distill_temperature: float = 2.0,
) -> tuple[DigitNet, list[EpochRecord]]:
    """Fine-tune ``base`` on (N, 28, 28) images (uint8 or [0, 1]), choosing the epoch with ``select_key``.

    The caller mixes in whatever replay it wants (ml.retrain does); the base's own normalisation is kept.
    ``negatives``: (M, 28, 28) not-a-digit inputs, trained towards a uniform answer (outlier exposure).
    ``selection``: (images, labels) measured after each epoch, for ``select_key`` to weigh.
    ``distill_rows``: bool (N,), the images on which the base model's own answers are kept (distilled).
    """
    train_x = as_float_images(train_images)
    batch_size = min(128, max(16, len(train_x) // 8))
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        threads=threads,
        model=base.model_config,
        negatives_per_batch=max(1, batch_size // 2),
        augment=augment or AugmentConfig(),
        freeze_batchnorm=freeze_batchnorm,
        distill_weight=distill_weight,
        distill_temperature=distill_temperature,
    )
    teacher = None
    if distill_rows is not None:
        teacher = base.build_model().eval().requires_grad_(False)
    return fit(
        base.build_model(),
        train_x,
        torch.as_tensor(np.asarray(train_labels), dtype=torch.int64),
        as_float_images(val_images),
        torch.as_tensor(val_labels),
        cfg,
        progress,
        show_bar=False,
        normalisation=dict(base.normalisation),
        negatives=None if negatives is None else as_float_images(negatives),
        selection=None if selection is None else (as_float_images(selection[0]), torch.as_tensor(selection[1])),
        select_key=select_key,
        teacher=teacher,
        distill_rows=None if distill_rows is None else torch.as_tensor(np.asarray(distill_rows, dtype=bool)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train DigitNet on MNIST (validation-selected) and evaluate it.")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--threads", type=int, default=TrainConfig.threads)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N training digits only (smoke runs)")
    parser.add_argument(
        "--negatives-per-kind",
        type=int,
        default=TrainConfig.negatives_per_kind,
        help="synthetic not-a-digit inputs of each kind (ml.negatives), trained towards a uniform answer",
    )
    parser.add_argument("--negative-weight", type=float, default=TrainConfig.negative_weight)
    parser.add_argument(
        "--redrawn-share",
        type=float,
        default=AugmentConfig.p_redrawn,
        help="share of training images (digits and negatives) swapped for a copy redrawn with a uniform pen",
    )
    parser.add_argument("--init", type=Path, help="start from this checkpoint's weights instead of from scratch")
    parser.add_argument("--out", type=Path, default=SHIPPED_CHECKPOINT)
    parser.add_argument("--no-report", action="store_true", help="skip calibration, test evaluation and plots")
    args = parser.parse_args(argv)

    from ml.data import load_mnist

    splits = load_mnist()
    if args.limit:
        splits = type(splits)(
            **{
                **splits.__dict__,
                "train_images": splits.train_images[: args.limit],
                "train_labels": splits.train_labels[: args.limit],
            }
        )
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        negatives_per_kind=args.negatives_per_kind,
        negative_weight=args.negative_weight,
        augment=AugmentConfig(p_redrawn=args.redrawn_share),
    )
    started = time.perf_counter()
    from ml.negatives import training_negative_inputs  # Pillow fonts and drawing: only when training

    negatives = training_negative_inputs(splits.train_images, splits.train_labels, cfg.negatives_per_kind)
    print(
        f"DigitNet {cfg.model.channels}: {count_parameters(DigitNet(cfg.model)):,} parameters; "
        f"{len(splits.train_images):,} train / {len(splits.val_images):,} validation digits; "
        f"{len(negatives):,} training negatives ({time.perf_counter() - started:.0f} s)"
    )
    init = load_checkpoint(args.init) if args.init else None
    model, history = train(splits, cfg, init=init, negatives=negatives)
    ckpt = checkpoint_from_model(
        model,
        normalisation=dict(MNIST_NORMALISATION if init is None else init.normalisation),
        data_checksums=splits.checksums,
        info={
            "command": "python -m ml.train " + shlex.join(sys.argv[1:] if argv is None else argv),
            "train_config": cfg.to_dict(),
            "history": [asdict(h) for h in history],
            "train_seconds": round(time.perf_counter() - started, 1),
            "parameters": count_parameters(model),
            **({"init_sha256": sha256_of(args.init), "init_checkpoint": args.init.name} if args.init else {}),
        },
    )
    save_checkpoint(ckpt, args.out)
    print(f"saved {args.out}")
    if not args.no_report:
        finalize_checkpoint(args.out, splits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
