"""Shared fixtures for the ml tests: small models, checkpoints and digits made in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.augment import MNIST_MEAN, MNIST_STD
from ml.checkpoint import Checkpoint, checkpoint_from_model, save_checkpoint
from ml.model import DigitNet, ModelConfig
from ml.tests.drawing import black_on_white, encode

TINY = ModelConfig(channels=(8, 16, 32))  # same architecture, a fraction of the compute: keeps training tests fast
NORMALISATION = {"mean": MNIST_MEAN, "std": MNIST_STD}


def make_checkpoint(config: ModelConfig = TINY, seed: int = 0, **fields) -> Checkpoint:
    import torch

    torch.manual_seed(seed)
    return checkpoint_from_model(DigitNet(config), normalisation=dict(NORMALISATION), **fields)


@pytest.fixture(scope="session")
def untrained_checkpoint(tmp_path_factory) -> Path:
    """A real full-size checkpoint file with arbitrary (untrained) weights."""
    path = tmp_path_factory.mktemp("model") / "untrained.pt"
    save_checkpoint(make_checkpoint(ModelConfig(), temperature=1.5), path)
    return path


@pytest.fixture(scope="session")
def seven_png() -> bytes:
    return encode(black_on_white("7", size=(200, 200), height=140, stroke=12))


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The verified local MNIST files. `make test` fetches them first and sets DIGITVISION_REQUIRE_MNIST, so
    there (and in CI) missing data fail the run; a bare `pytest` skips with the command that fetches them."""
    import os

    from ml.data import DEFAULT_ROOT, missing_files

    missing = missing_files(DEFAULT_ROOT)
    if missing:
        message = f"MNIST files missing or corrupt in {DEFAULT_ROOT}: {', '.join(missing)}; run `make fetch-mnist`"
        if os.environ.get("CI") or os.environ.get("DIGITVISION_REQUIRE_MNIST"):
            pytest.fail(message)
        pytest.skip(message)
    return DEFAULT_ROOT
