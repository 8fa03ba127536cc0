"""Checkpoints as plain dicts of tensors and primitives, safe to read with ``weights_only=True``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ml.data import sha256_of
from ml.model import DigitNet, ModelConfig

FORMAT_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CHECKPOINT = REPO_ROOT / "ml" / "artifacts" / "digitnet.pt"


class CheckpointError(ValueError):
    """The file is not a readable DigitVision checkpoint."""


@dataclass
class Checkpoint:
    state_dict: dict[str, torch.Tensor]
    model_config: ModelConfig
    normalisation: dict[str, float]
    temperature: float = 1.0
    # Refuse ("not a digit") when 1 - the largest calibrated probability is above this; None: never refuse
    # (a model trained before refusals existed). Chosen on validation digits by ml.refusal.choose_threshold.
    rejection_threshold: float | None = None
    metrics: dict = field(default_factory=dict)
    data_checksums: dict[str, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # command, seed, parent checkpoint, timings ...

    def build_model(self) -> DigitNet:
        model = DigitNet(self.model_config)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in self.state_dict.items()})
        return model.eval()


def checkpoint_from_model(model: DigitNet, **fields) -> Checkpoint:
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return Checkpoint(state_dict=state, model_config=model.config, **fields)


def save_checkpoint(ckpt: Checkpoint, path: Path, *, half: bool = True) -> str:
    """Write atomically (temp file + rename) and return the file's sha256.

    ``half`` stores float weights as float16: half the size, and the accuracy loss was measured as nil.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() if half and v.is_floating_point() else v for k, v in ckpt.state_dict.items()}
    payload = {
        "format_version": FORMAT_VERSION,
        "state_dict": state,
        "model_config": ckpt.model_config.to_dict(),
        "normalisation": dict(ckpt.normalisation),
        "temperature": float(ckpt.temperature),
        "rejection_threshold": None if ckpt.rejection_threshold is None else float(ckpt.rejection_threshold),
        "metrics": ckpt.metrics,
        "data_checksums": dict(ckpt.data_checksums),
        "info": ckpt.info,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return sha256_of(path)


def load_checkpoint(path: Path) -> Checkpoint:
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unknown checkpoint format")
    try:
        return Checkpoint(
            state_dict=payload["state_dict"],
            model_config=ModelConfig.from_dict(payload["model_config"]),
            normalisation=payload["normalisation"],
            temperature=payload["temperature"],
            rejection_threshold=payload.get("rejection_threshold"),
            metrics=payload.get("metrics", {}),
            data_checksums=payload.get("data_checksums", {}),
            info=payload.get("info", {}),
        )
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: incomplete checkpoint ({exc!r} missing or malformed)") from exc
