"""Tensor helpers shared by training, evaluation and retraining: image dtype, normalisation, batched logits."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from ml.augment import MNIST_MEAN, MNIST_STD
from ml.checkpoint import Checkpoint

MNIST_NORMALISATION = {"mean": MNIST_MEAN, "std": MNIST_STD}
EVAL_BATCH = 1_000  # images per forward pass when evaluating


def as_float_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) or float [0, 1] -> float32 (N, 1, 28, 28) in [0, 1]."""
    x = torch.from_numpy(np.array(images, copy=True))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return x.view(-1, 1, 28, 28)


def normalise(x: torch.Tensor, normalisation: Mapping[str, float] = MNIST_NORMALISATION) -> torch.Tensor:
    """[0, 1] images -> the model's input, with the mean and std the checkpoint was trained with."""
    return (x - float(normalisation["mean"])) / float(normalisation["std"])


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module,
    images: torch.Tensor,
    normalisation: Mapping[str, float] = MNIST_NORMALISATION,
    batch_size: int = EVAL_BATCH,
    after_batch: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Logits (N, 10) for (N, 1, 28, 28) [0, 1] images with the deterministic eval transform;
    ``after_batch(done, total)`` after each batch."""
    model.eval()
    batches = []
    for start in range(0, len(images), batch_size):
        batches.append(model(normalise(images[start : start + batch_size], normalisation)))
        if after_batch is not None:
            after_batch(min(start + batch_size, len(images)), len(images))
    return torch.cat(batches) if batches else torch.zeros((0, 10))


def checkpoint_logits(ckpt: Checkpoint, images: np.ndarray) -> np.ndarray:
    """Uncalibrated logits (N, 10) of a checkpoint's model for uint8 or [0, 1] (N, 28, 28) images."""
    return predict_logits(ckpt.build_model(), as_float_images(images), ckpt.normalisation).numpy()


def batched_logits(
    logits_of: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    *,
    batch_size: int = EVAL_BATCH,
    after_batch: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``logits_of`` over (N, 28, 28) images in batches of (B, 1, 28, 28) float32; ``after_batch(done, total)``
    after each, so a caller can report progress or stop between batches."""
    x = as_float_images(images).numpy()
    out = []
    for start in range(0, len(x), batch_size):
        out.append(logits_of(np.ascontiguousarray(x[start : start + batch_size])))
        if after_batch is not None:
            after_batch(min(start + batch_size, len(x)), len(x))
    return np.concatenate(out) if out else np.zeros((0, 10), dtype=np.float32)
