"""Training smoke runs on tiny drawn digits, fine-tuning, and the augmentation/eval transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from ml.augment import MNIST_MEAN, MNIST_STD, AugmentConfig, augment_batch, pick_redrawn
from ml.model import DigitNet
from ml.strokes import redrawn
from ml.tensors import as_float_images, checkpoint_logits, normalise, predict_logits
from ml.tests.conftest import TINY, make_checkpoint
from ml.tests.drawing import toy_dataset
from ml.train import TrainConfig, fine_tune, fit

CHANCE = 0.25  # four classes: 7, 0, 4, 2


@pytest.fixture(scope="module")
def toy():
    train_x, train_y = toy_dataset(320, seed=1)
    val_x, val_y = toy_dataset(80, seed=2)
    return as_float_images(train_x), torch.as_tensor(train_y), as_float_images(val_x), torch.as_tensor(val_y)


def _fit(toy, seed=0, progress=None):
    torch.manual_seed(123)  # the initial weights; fit() seeds its own shuffling and augmentation
    model = DigitNet(TINY)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=4e-3, seed=seed, threads=1, model=TINY)
    return fit(model, *toy, cfg, progress=progress, show_bar=False)


@pytest.fixture(scope="module")
def fitted(toy):
    calls = []
    model, history = _fit(toy, progress=lambda fraction, step: calls.append((fraction, step)))
    return model, history, calls


def test_fit_history_and_learning(fitted, toy):
    model, history, _ = fitted
    assert [r.epoch for r in history] == [1, 2]
    assert all(r.seconds >= 0 and r.lr > 0 for r in history)
    assert history[-1].train_loss < history[0].train_loss  # observed 1.91 -> 1.10
    best = max(r.val_accuracy for r in history)
    assert best > CHANCE + 0.25  # observed 1.0
    # the returned model is the validation-best epoch, in eval mode
    assert not model.training
    val_x, val_y = toy[2], toy[3]
    accuracy = (predict_logits(model, val_x).argmax(1) == val_y).float().mean().item()
    assert accuracy == pytest.approx(best)


def test_fit_progress(fitted):
    _, _, calls = fitted
    fractions = [f for f, _ in calls]
    assert len(calls) >= 2
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(step, str) and step for _, step in calls)


def test_fit_is_reproducible(fitted, toy):
    again, history_again = _fit(toy)[:2]
    reference = fitted[0].state_dict()
    assert reference.keys() == again.state_dict().keys()
    for name, tensor in again.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    assert [r.train_loss for r in history_again] == [r.train_loss for r in fitted[1]]


def test_fit_depends_on_seed(fitted, toy):
    other, _ = _fit(toy, seed=1)
    reference = fitted[0].state_dict()
    assert any(not torch.equal(t, reference[k]) for k, t in other.state_dict().items() if t.is_floating_point())


def test_fine_tune_returns_model_and_reports_progress():
    base = make_checkpoint()
    before = {k: v.clone() for k, v in base.state_dict.items()}
    extra_x, extra_y = toy_dataset(40, seed=5)
    replay_x, replay_y = toy_dataset(100, seed=6)
    val_x, val_y = toy_dataset(40, seed=7)
    calls = []
    model, history = fine_tune(
        base,
        np.concatenate([extra_x.astype(np.float32) / 255.0, replay_x / 255.0]),  # [0, 1], as ml.retrain mixes
        np.concatenate([extra_y, replay_y]),
        val_x,
        val_y,
        epochs=1,
        progress=lambda fraction, step: calls.append(fraction),
    )
    assert isinstance(model, DigitNet) and not model.training
    assert model.config == base.model_config
    assert len(history) == 1
    assert calls and calls[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in calls)
    changed = [k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert changed, "fine-tuning did not change any weight"
    for name, tensor in base.state_dict.items():  # the base checkpoint is left as it was
        assert torch.equal(tensor, before[name]), name


# --------------------------------------------------------------------------- augmentation


@pytest.fixture(scope="module")
def batch():
    images, _ = toy_dataset(24, seed=9)
    return as_float_images(images)


def test_augment_keeps_shape_and_range(batch):
    out = augment_batch(batch, AugmentConfig(), torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert torch.isfinite(out).all()
    assert not torch.equal(out, batch)
    # every digit keeps its ink (nothing is shifted or scaled off the canvas)
    assert (out.amax(dim=(1, 2, 3)) > 0.5).all()


def test_augment_is_deterministic_for_a_seeded_generator(batch):
    cfg = AugmentConfig()
    a = augment_batch(batch, cfg, torch.Generator().manual_seed(42))
    b = augment_batch(batch, cfg, torch.Generator().manual_seed(42))
    c = augment_batch(batch, cfg, torch.Generator().manual_seed(43))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


# No distortion at all: what the augmentation does with every range closed.
STILL = AugmentConfig(
    rotation_deg=0,
    scale=(1, 1),
    aspect=(1, 1),
    shear=0,
    translate_px=0,
    p_thicken=0,
    p_thin=0,
    p_blur=0,
    p_lowres=0,
)


def test_augment_without_distortions_is_identity(batch):
    out = augment_batch(batch, STILL, torch.Generator().manual_seed(0))
    # the contrast re-stretch divides by each digit's peak, which is 1 for these digits
    assert torch.allclose(out, batch, atol=1e-5)


def test_elastic_wobble_moves_ink_a_little_and_only_when_asked(batch):
    wobbly = AugmentConfig(**{**STILL.to_dict(), "elastic_px": 1.5})
    plain = augment_batch(batch, STILL, torch.Generator().manual_seed(0))
    moved = augment_batch(batch, wobbly, torch.Generator().manual_seed(0))
    assert moved.shape == batch.shape and 0 <= moved.min() and moved.max() <= 1
    change = (moved - plain).abs().mean(dim=(1, 2, 3))
    assert (change > 1e-3).all()  # every image moved
    # by about a pixel: the ink's centre of mass stays within 2 px of where it was
    for a, b in zip(plain[:, 0].numpy(), moved[:, 0].numpy(), strict=True):
        assert np.abs(np.subtract(ndimage.center_of_mass(a), ndimage.center_of_mass(b))).max() < 2


def test_redrawn_keeps_the_drawing_with_another_pen(batch):
    images = batch[:, 0].numpy()
    pen = redrawn(images, seed=3)
    assert pen.shape == images.shape and pen.dtype == np.float32
    assert np.allclose(pen.max(axis=(1, 2)), 1.0)
    near = np.stack([ndimage.binary_dilation(i > 0.5, iterations=3) for i in images])
    assert ((pen > 0.5) & ~near).sum() == 0, "the pen leaves the digit"
    assert np.array_equal(pen, redrawn(images, seed=3)) and not np.array_equal(pen, redrawn(images, seed=4))
    assert not redrawn(np.zeros((1, 28, 28), np.uint8)).any()


def test_redrawn_with_a_hairline_is_thinner(batch, monkeypatch):
    monkeypatch.setattr("ml.strokes.REDRAWN_WIDTH", (0.0, 0.0))
    images = batch[:, 0].numpy()
    line = redrawn(images) > 0.5
    assert (line.sum(axis=(1, 2)) < 0.7 * (images > 0.5).sum(axis=(1, 2))).all()


def test_redrawn_copies_replace_the_chosen_share_of_a_batch(batch):
    lines = torch.from_numpy(redrawn(batch[:, 0].numpy())).unsqueeze(1)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(pick_redrawn(batch, lines, AugmentConfig(), gen), batch)  # off by default
    swapped = pick_redrawn(batch, lines, AugmentConfig(p_redrawn=1.0), gen)
    assert torch.equal(swapped, lines)
    half = pick_redrawn(batch, lines, AugmentConfig(p_redrawn=0.5), gen)
    assert 0 < sum(torch.equal(h, b) for h, b in zip(half, batch, strict=True)) < len(batch)


def test_fit_with_redrawn_copies_trains(toy):
    torch.manual_seed(123)
    cfg = TrainConfig(epochs=1, batch_size=16, seed=0, threads=1, model=TINY, augment=AugmentConfig(p_redrawn=0.3))
    model, history = fit(DigitNet(TINY), *toy, cfg, show_bar=False)
    assert len(history) == 1 and np.isfinite(history[0].train_loss)


def test_normalise_uses_the_checkpoints_own_mean_and_std():
    x = torch.full((1, 1, 28, 28), 0.5)
    assert torch.allclose(normalise(x), (x - MNIST_MEAN) / MNIST_STD)
    assert torch.allclose(normalise(x, {"mean": 0.5, "std": 2.0}), torch.zeros_like(x))
    ckpt = make_checkpoint()
    images, _ = toy_dataset(6, seed=4)
    own = checkpoint_logits(ckpt, images)
    ckpt.normalisation = {"mean": 0.9, "std": 0.1}  # a different normalisation gives different logits
    assert own.shape == (6, 10) and not np.allclose(own, checkpoint_logits(ckpt, images))


def test_as_float_images_and_batched_logits():
    uint8 = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    x = as_float_images(uint8)
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert torch.allclose(x, as_float_images(uint8.astype(np.float32) / 255.0))
    model = DigitNet(TINY)
    assert predict_logits(model, x, batch_size=2).shape == (5, 10)
    assert predict_logits(model, x[:0]).shape == (0, 10)


def test_distilling_a_model_into_itself_adds_nothing_and_a_changed_one_is_pulled_back():
    from ml.train import _batch_loss

    torch.manual_seed(0)
    model = DigitNet(TINY).eval()
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    rows = torch.tensor([True] * 4 + [False] * 4)
    cfg = TrainConfig(distill_weight=1.0)
    _, plain = _batch_loss(model, x, y, None, None, cfg)
    _, same = _batch_loss(model, x, y, None, (rows, model), cfg)
    assert same.item() == pytest.approx(plain.item(), abs=1e-5)
    other = DigitNet(TINY).eval()
    _, pulled = _batch_loss(model, x, y, None, (rows, other), cfg)
    assert pulled.item() > plain.item() + 1e-4
