"""Load a checkpoint once and turn images into calibrated digit predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ml.checkpoint import Checkpoint, file_sha256, load_checkpoint
from ml.preprocess import ImageDecodeError, Preprocessed, preprocess

__all__ = ["ImageDecodeError", "Prediction", "Predictor"]


@dataclass(frozen=True)
class Prediction:
    """One image's answer: a digit with its calibrated confidence, or "no digit" with the reason."""

    digit: int | None
    confidence: float | None
    probabilities: list[float] | None
    input_image: np.ndarray | None  # float32 (28, 28) in [0, 1]: what the model saw
    reason: str = ""

    @property
    def no_digit(self) -> bool:
        return self.digit is None


class Predictor:
    """A model in eval mode with its temperature and normalisation; cheap to call, costly to build."""

    def __init__(self, checkpoint: Checkpoint, version: str, threads: int = 1):
        # One intra-op thread: with two threads on two cores, tail latency got much worse under load.
        torch.set_num_threads(threads)
        self.model = checkpoint.build_model()
        self.temperature = float(checkpoint.temperature)
        self.mean = float(checkpoint.normalisation["mean"])
        self.std = float(checkpoint.normalisation["std"])
        self.version = version
        self.checkpoint = checkpoint

    @classmethod
    def from_checkpoint(cls, path: str | Path, version: str | None = None, threads: int = 1) -> Predictor:
        path = Path(path)
        return cls(load_checkpoint(path), version or f"digitnet-{file_sha256(path)[:8]}", threads)

    @torch.inference_mode()
    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """(N, 28, 28) preprocessed inputs in [0, 1] -> (N, 10) calibrated probabilities."""
        x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).view(-1, 1, 28, 28)
        logits = self.model((x - self.mean) / self.std)
        return torch.softmax(logits / self.temperature, dim=1).numpy()

    def predict(self, image) -> Prediction:
        """image: bytes, a path or a PIL image. Raises ImageDecodeError for anything unreadable."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: list) -> list[Prediction]:
        prepared = [preprocess(image) for image in images]
        return self.predict_preprocessed(prepared)

    def predict_preprocessed(self, prepared: list[Preprocessed]) -> list[Prediction]:
        found = [p.image for p in prepared if not p.no_digit]
        probs = iter(self.probabilities(np.stack(found)) if found else [])
        return [_no_digit(p) if p.no_digit else _prediction(next(probs), p.image) for p in prepared]


def _prediction(probs: np.ndarray, image: np.ndarray) -> Prediction:
    digit = int(probs.argmax())
    return Prediction(digit=digit, confidence=float(probs[digit]), probabilities=probs.tolist(), input_image=image)


def _no_digit(prepared: Preprocessed) -> Prediction:
    return Prediction(digit=None, confidence=None, probabilities=None, input_image=None, reason=prepared.reason)
