"""Checkpoints: plain dicts that load with weights_only=True and rebuild the same network."""

from __future__ import annotations

import pathlib

import pytest
import torch

from ml.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    checkpoint_from_model,
    load_checkpoint,
    save_checkpoint,
)
from ml.data import sha256_of
from ml.model import DigitNet, ModelConfig
from ml.tests.conftest import NORMALISATION

METRICS = {"test_accuracy": 0.9951, "test_ece_after_scaling": 0.004, "selected_epoch": 17, "per_class": [0.99] * 10}
CHECKSUMS = {"t10k-images-idx3-ubyte": "ab" * 32}


@pytest.fixture(scope="module")
def trained_like_model() -> DigitNet:
    """A full-size model whose BatchNorm statistics are not the defaults, as after training."""
    torch.manual_seed(3)
    model = DigitNet(ModelConfig())
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 28, 28) * 2 + 0.5)
        model.head[1].weight.mul_(200.0)  # logits of a trained model's size (several units), not ~0.05
    return model.eval()


@pytest.fixture(scope="module")
def saved(trained_like_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    ckpt = checkpoint_from_model(
        trained_like_model,
        normalisation=dict(NORMALISATION),
        temperature=1.37,
        metrics=METRICS,
        data_checksums=CHECKSUMS,
        info={"command": "python -m ml.train --epochs 1", "history": [{"epoch": 1, "val_accuracy": 0.5}]},
    )
    sha = save_checkpoint(ckpt, path)
    return path, sha


def test_load_round_trip_preserves_everything(saved):
    path, sha = saved
    assert sha == sha256_of(path) and len(sha) == 64
    ckpt = load_checkpoint(path)
    assert ckpt.model_config == ModelConfig()
    assert ckpt.temperature == pytest.approx(1.37)
    assert ckpt.metrics == METRICS
    assert ckpt.data_checksums == CHECKSUMS
    assert ckpt.normalisation == NORMALISATION
    assert ckpt.info["command"] == "python -m ml.train --epochs 1"
    assert ckpt.info["history"] == [{"epoch": 1, "val_accuracy": 0.5}]


def test_plain_torch_load_with_weights_only(saved):
    payload = torch.load(saved[0], map_location="cpu", weights_only=True)
    assert isinstance(payload, dict)
    assert payload["format_version"] == FORMAT_VERSION
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())
    assert payload["state_dict"]["head.1.weight"].dtype == torch.float16  # stored half
    assert isinstance(payload["model_config"], dict) and isinstance(payload["temperature"], float)


def test_rebuilt_model_gives_the_same_logits(saved, trained_like_model):
    x = torch.randn(32, 1, 28, 28)
    with torch.inference_mode():
        expected = trained_like_model(x)
        rebuilt = load_checkpoint(saved[0]).build_model()
        actual = rebuilt(x)
    assert not rebuilt.training
    assert all(p.dtype == torch.float32 for p in rebuilt.parameters())
    # fp16 storage keeps ~3 significant digits per weight: observed max error 0.06% of the logit range
    scale = expected.abs().max().item()
    assert scale > 1.0
    assert (actual - expected).abs().max().item() <= 5e-3 * scale


def test_full_precision_save_is_exact(tmp_path, trained_like_model):
    path = tmp_path / "full.pt"
    save_checkpoint(checkpoint_from_model(trained_like_model, normalisation=dict(NORMALISATION)), path, half=False)
    rebuilt = load_checkpoint(path).build_model()
    for name, tensor in trained_like_model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[name], tensor), name


def test_file_is_small(saved):
    assert saved[0].stat().st_size < 1_000_000


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path, trained_like_model):
    path = tmp_path / "sub" / "dir" / "model.pt"
    save_checkpoint(checkpoint_from_model(trained_like_model, normalisation=dict(NORMALISATION)), path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]


def test_checkpoint_does_not_alias_model_weights(trained_like_model):
    ckpt = checkpoint_from_model(trained_like_model, normalisation=dict(NORMALISATION))
    ckpt.state_dict["head.1.bias"] += 100.0
    assert trained_like_model.head[1].bias.abs().max() < 100.0


def test_corrupt_file_raises_checkpoint_error(tmp_path, saved):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint\xff" * 100)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(saved[0].read_bytes()[:5000])
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for path in (garbage, truncated, empty):
        with pytest.raises(CheckpointError):
            load_checkpoint(path)


@pytest.mark.parametrize(
    "payload",
    [{"state_dict": {}}, {"format_version": 999, "state_dict": {}}, [1, 2, 3], torch.zeros(3)],
    ids=["no_version", "future_version", "list", "tensor"],
)
def test_non_checkpoint_raises_checkpoint_error(tmp_path, payload):
    path = tmp_path / "other.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


class _Exploit:
    """Unpickling this would create a file: weights_only loading must refuse it."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_pickled_code_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format_version": FORMAT_VERSION, "state_dict": {}, "payload": _Exploit(marker)}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt")


def test_incomplete_checkpoint_raises_checkpoint_error(tmp_path):
    path = tmp_path / "incomplete.pt"
    torch.save({"format_version": FORMAT_VERSION}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
