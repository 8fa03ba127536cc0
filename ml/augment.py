"""Train-time augmentation on whole batches, kept apart from the deterministic eval transform (ml.tensors)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges and probabilities of the random distortions applied to [0, 1] training images."""

    rotation_deg: float = 12.0
    scale: tuple[float, float] = (0.85, 1.12)
    aspect: tuple[float, float] = (0.88, 1.12)  # independent x/y stretch: narrow and wide handwriting
    shear: float = 0.25  # radians-ish slope of the x shear
    translate_px: float = 2.0
    elastic_px: float = 0.0  # largest smooth local displacement (a 4x4 field, bicubic): a hand's wobble
    p_thicken: float = 0.15
    p_thin: float = 0.15
    p_blur: float = 0.15
    blur_sigma: tuple[float, float] = (0.5, 1.1)
    p_lowres: float = 0.08
    lowres_side: tuple[int, int] = (12, 18)
    # Share of the images swapped for their copy redrawn with a uniform pen (ml.strokes.redrawn) before the
    # rest: canvases and fine pens, which MNIST's scanned strokes never show. Digits and not-a-digit negatives
    # alike, so the pen says nothing about the answer.
    p_redrawn: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def random_affine(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Rotation, scale, aspect, shear and translation, one random matrix per image. x: (B, 1, H, W)."""
    b, _, h, w = x.shape
    angle = _uniform(b, -cfg.rotation_deg, cfg.rotation_deg, gen) * math.pi / 180
    scale = _uniform(b, *cfg.scale, gen)
    aspect = _uniform(b, *cfg.aspect, gen)
    shear = _uniform(b, -cfg.shear, cfg.shear, gen)
    # affine_grid maps output coords to input coords, so this is the inverse of the wanted distortion.
    sx, sy = 1 / (scale * aspect.sqrt()), aspect.sqrt() / scale
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = sx * cos
    theta[:, 0, 1] = sx * (-sin + shear * cos)
    theta[:, 1, 0] = sy * sin
    theta[:, 1, 1] = sy * (cos + shear * sin)
    theta[:, 0, 2] = _uniform(b, -cfg.translate_px, cfg.translate_px, gen) * 2 / w
    theta[:, 1, 2] = _uniform(b, -cfg.translate_px, cfg.translate_px, gen) * 2 / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if cfg.elastic_px > 0:
        grid = grid + _elastic_offsets(b, h, w, cfg.elastic_px, gen)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _elastic_offsets(b: int, h: int, w: int, px: float, gen: torch.Generator) -> torch.Tensor:
    """(B, H, W, 2) smooth displacements of up to ``px`` pixels, in affine_grid's [-1, 1] coordinates."""
    coarse = (2 * torch.rand(b, 2, 4, 4, generator=gen) - 1) * px
    coarse = coarse * torch.tensor([2 / w, 2 / h]).view(1, 2, 1, 1)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)


def _pick(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(x.shape[0], generator=gen) < p).view(-1, 1, 1, 1)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    radius = 3
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-(offsets.view(1, -1) ** 2) / (2 * sigma.view(-1, 1) ** 2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (B, 7): one 1-D kernel per image
    b, _, h, w = x.shape
    flat = x.view(1, b, h, w)  # batch as channels: a grouped conv blurs each image with its own kernel
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0)), kernel.view(b, 1, 1, -1), groups=b)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius)), kernel.view(b, 1, -1, 1), groups=b)
    return flat.view(b, 1, h, w)


def stroke_and_focus(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Thicker or thinner strokes, blur and low resolution: what pens, markers and scanners do."""
    dilated = F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, stride=1)
    eroded = -F.max_pool2d(F.pad(-x, (0, 1, 0, 1)), 2, stride=1)
    x = torch.where(_pick(x, cfg.p_thicken, gen), dilated, x)
    x = torch.where(_pick(x, cfg.p_thin, gen), torch.maximum(eroded, 0.6 * x), x)  # keep faint thin strokes
    blurred = _gaussian_blur(x, _uniform(x.shape[0], *cfg.blur_sigma, gen))
    x = torch.where(_pick(x, cfg.p_blur, gen), blurred, x)
    side = int(torch.randint(cfg.lowres_side[0], cfg.lowres_side[1] + 1, (1,), generator=gen))
    lowres = F.interpolate(F.interpolate(x, size=side, mode="area"), size=x.shape[-1], mode="bilinear")
    x = torch.where(_pick(x, cfg.p_lowres, gen), lowres, x)
    # Re-stretch contrast so a blurred stroke still peaks near 1, as the preprocessing does for real inputs.
    peak = x.amax(dim=(2, 3), keepdim=True).clamp(min=1e-3)
    return (x / peak).clamp(0, 1)


def pick_redrawn(
    images: torch.Tensor, redrawn: torch.Tensor | None, cfg: AugmentConfig, gen: torch.Generator
) -> torch.Tensor:
    """``images`` with a share ``cfg.p_redrawn`` swapped for the same rows of ``redrawn`` (if given)."""
    if redrawn is None or cfg.p_redrawn <= 0:
        return images
    return torch.where(_pick(images, cfg.p_redrawn, gen), redrawn, images)


def augment_batch(images: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """(B, 1, 28, 28) floats in [0, 1] -> distorted copies, still in [0, 1]."""
    return stroke_and_focus(random_affine(images, cfg, gen), cfg, gen)
