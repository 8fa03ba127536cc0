"""Load a model once and turn images into calibrated digit predictions.

Two interchangeable backends compute the calibrated logits: ONNX Runtime, used whenever the checkpoint has
a matching ``.onnx`` beside it (several times faster for one image, and a serving process never imports
torch), and PyTorch, which needs only the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from ml.data import sha256_of
from ml.preprocess import Preprocessed, preprocess
from ml.refusal import SEVERAL_DIGITS, answers, refusal_reason, refusals, rejection_scores

__all__ = ["Prediction", "Predictor"]


@dataclass(frozen=True)
class Prediction:
    """One image's answer, one of three: a digit with its calibrated confidence; "not a digit" (ink that is
    not one digit, with the reason and the ten probabilities, so the closest digit can be shown); or "no
    digit" (blank, a dot), with the reason and nothing else."""

    digit: int | None
    confidence: float | None
    probabilities: list[float] | None
    input_image: np.ndarray | None  # float32 (28, 28) in [0, 1]: what the model saw
    reason: str = ""
    not_a_digit: bool = False
    rejection_score: float | None = None  # 1 - the largest probability; None when the model never ran

    @property
    def no_digit(self) -> bool:
        return self.digit is None and not self.not_a_digit

    @property
    def several_digits(self) -> bool:
        return self.not_a_digit and self.reason == SEVERAL_DIGITS

    @property
    def closest_digit(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))

    @property
    def closest_probability(self) -> float | None:
        return None if self.probabilities is None else float(max(self.probabilities))


class Backend(Protocol):
    name: str
    rejection_threshold: float | None  # from the checkpoint; None: this model never refuses

    def calibrated_logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 1, 28, 28) float32 in [0, 1] -> (N, 10) logits already divided by the temperature."""


class TorchBackend:
    name = "torch"

    def __init__(self, checkpoint_path: Path, threads: int):
        import torch

        from ml.checkpoint import load_checkpoint

        # One intra-op thread: with two threads on two cores, tail latency got much worse under load.
        torch.set_num_threads(threads)
        self._torch = torch
        self.checkpoint = load_checkpoint(checkpoint_path)
        self.model = self.checkpoint.build_model()
        self.mean = float(self.checkpoint.normalisation["mean"])
        self.std = float(self.checkpoint.normalisation["std"])
        self.temperature = float(self.checkpoint.temperature)
        self.rejection_threshold = self.checkpoint.rejection_threshold

    def calibrated_logits(self, images: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            x = self._torch.from_numpy(images)
            return (self.model((x - self.mean) / self.std) / self.temperature).numpy()


def onnx_session(onnx_path: Path, threads: int):
    """An ONNX Runtime session on the CPU with ``threads`` intra-op threads: how every model here is served."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis."""
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


class OnnxBackend:
    name = "onnxruntime"

    def __init__(self, onnx_path: Path, threads: int):
        self.session = onnx_session(onnx_path, threads)
        self.metadata = self.session.get_modelmeta().custom_metadata_map
        self.input_name = self.session.get_inputs()[0].name
        threshold = self.metadata.get("rejection_threshold")
        self.rejection_threshold = None if threshold is None else float(threshold)

    def calibrated_logits(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: images})[0]


def _matching_onnx(checkpoint_path: Path, checkpoint_sha: str) -> Path | None:
    """The sibling .onnx file if it was exported from exactly this checkpoint and ONNX Runtime is installed."""
    candidate = checkpoint_path.with_suffix(".onnx")
    if not candidate.is_file():
        return None
    try:
        import onnx
        import onnxruntime  # noqa: F401 - only checking that the backend can run
    except ImportError:
        return None
    props = {p.key: p.value for p in onnx.load(str(candidate), load_external_data=False).metadata_props}
    return candidate if props.get("checkpoint_sha256") == checkpoint_sha else None


class Predictor:
    """Preprocessing plus a backend; cheap to call, costly to build: build once per process."""

    def __init__(self, backend: Backend, version: str):
        self.backend = backend
        self.version = version

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, version: str | None = None, threads: int = 1, backend: str = "auto"
    ) -> Predictor:
        """backend: "auto" (ONNX Runtime when a matching .onnx is beside the checkpoint), "onnx" or "torch"."""
        path = Path(path)
        sha = sha256_of(path)
        onnx_path = _matching_onnx(path, sha) if backend in ("auto", "onnx") else None
        if backend == "onnx" and onnx_path is None:
            raise FileNotFoundError(f"no ONNX export of {path} (run: python -m ml.export --checkpoint {path})")
        chosen = OnnxBackend(onnx_path, threads) if onnx_path else TorchBackend(path, threads)
        return cls(chosen, version or f"digitnet-{sha[:8]}")

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """(N, 28, 28) preprocessed inputs in [0, 1] -> (N, 10) calibrated probabilities."""
        x = np.ascontiguousarray(inputs, dtype=np.float32).reshape(-1, 1, 28, 28)
        return softmax(self.backend.calibrated_logits(x))

    def answers(self, inputs: np.ndarray) -> np.ndarray:
        """(N, 28, 28) preprocessed inputs -> (N,) answers: a digit, or NOT_A_DIGIT_LABEL where refused."""
        return answers(self.probabilities(inputs), inputs, self.backend.rejection_threshold)

    def predict(self, image: bytes | str | Path | Image.Image) -> Prediction:
        """image: bytes, a path or a PIL image; an image from ``decode_image`` is not decoded again.

        Raises ImageDecodeError for anything unreadable.
        """
        return self.predict_batch([image])[0]

    def predict_batch(self, images: list) -> list[Prediction]:
        """Raises ImageDecodeError if any image is unreadable; preprocess each first to handle them one by one."""
        return self.predict_preprocessed([preprocess(image) for image in images])

    def predict_preprocessed(self, prepared: list[Preprocessed]) -> list[Prediction]:
        found = [p.image for p in prepared if not p.no_digit]
        probs = self.probabilities(np.stack(found)) if found else np.zeros((0, 10))
        refused = refusals(probs, found, self.backend.rejection_threshold)
        answers = iter(zip(probs, found, refused, strict=True))
        return [_no_digit(p) if p.no_digit else _prediction(*next(answers)) for p in prepared]


def _prediction(probs: np.ndarray, image: np.ndarray, refused: bool) -> Prediction:
    score = float(rejection_scores(probs[None])[0])
    if refused:
        return Prediction(
            digit=None,
            confidence=None,
            probabilities=probs.tolist(),
            input_image=image,
            reason=refusal_reason(image),
            not_a_digit=True,
            rejection_score=score,
        )
    digit = int(probs.argmax())
    return Prediction(
        digit=digit,
        confidence=float(probs[digit]),
        probabilities=probs.tolist(),
        input_image=image,
        rejection_score=score,
    )


def _no_digit(prepared: Preprocessed) -> Prediction:
    return Prediction(digit=None, confidence=None, probabilities=None, input_image=None, reason=prepared.reason)
