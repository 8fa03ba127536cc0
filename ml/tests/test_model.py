"""DigitNet's shapes, size and config round trip."""

import pytest
import torch

from ml.model import DigitNet, ModelConfig, count_parameters


@pytest.mark.parametrize("batch", [1, 7])
def test_output_shape(batch):
    model = DigitNet().eval()
    with torch.inference_mode():
        out = model(torch.randn(batch, 1, 28, 28))
    assert out.shape == (batch, 10)
    assert torch.isfinite(out).all()


def test_parameter_count_is_cpu_sized():
    assert 10_000 <= count_parameters(DigitNet(ModelConfig())) <= 500_000


def test_config_round_trip():
    config = ModelConfig(channels=(8, 16, 32), num_classes=10, dropout=0.3)
    data = config.to_dict()
    assert data["channels"] == [8, 16, 32]  # a list: checkpoints hold only primitives
    assert ModelConfig.from_dict(data) == config
    assert ModelConfig.from_dict(ModelConfig().to_dict()) == ModelConfig()
    assert DigitNet(ModelConfig.from_dict(data)).config == config


def test_width_follows_config():
    model = DigitNet(ModelConfig(channels=(4, 8, 12)))
    assert model.head[-1].in_features == 12
    assert count_parameters(model) < count_parameters(DigitNet())
