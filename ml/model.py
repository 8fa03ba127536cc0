"""DigitNet: a small VGG-style CNN for 28x28 digits, sized for CPUs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; stored in every checkpoint."""

    channels: tuple[int, int, int] = (32, 64, 128)  # width of the 28x28, 14x14 and 7x7 stages
    num_classes: int = 10
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return cls(**{**data, "channels": tuple(data["channels"])})


def conv_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    # BatchNorm makes the short, high-learning-rate OneCycle schedule stable; bias is redundant before it.
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)
    )


class DigitNet(nn.Module):
    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        c1, c2, c3 = config.channels
        self.config = config
        self.features = nn.Sequential(
            conv_bn_relu(1, c1),  # (B, c1, 28, 28)
            conv_bn_relu(c1, c1),
            nn.MaxPool2d(2),  # (B, c1, 14, 14)
            conv_bn_relu(c1, c2),  # (B, c2, 14, 14)
            conv_bn_relu(c2, c2),
            nn.MaxPool2d(2),  # (B, c2, 7, 7)
            conv_bn_relu(c2, c3),  # (B, c3, 7, 7)
            nn.AdaptiveAvgPool2d(1),  # (B, c3, 1, 1): global pooling keeps the head tiny
            nn.Flatten(),  # (B, c3)
        )
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(c3, config.num_classes))  # (B, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 28, 28) normalised input -> (B, 10) logits."""
        return self.head(self.features(x))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
