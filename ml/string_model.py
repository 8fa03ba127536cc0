"""StringNet: the CTC reader of touching digits (see ``ml.strings``), its training and its ONNX export.

python -m ml.string_model --out ml/artifacts/stringnet.pt   # about 30 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ml.data import load_mnist
from ml.model import conv_bn_relu
from ml.negatives import NegativesConfig, training_negatives
from ml.strings import BLANK, STRING_HEIGHT, StringSample, decode, frames_of, pad_batch, synthesise
from ml.strokes import redrawn

MEAN, STD = 0.1, 0.3  # the inputs' rough ink statistics; BatchNorm does the rest
# Ink that is no digit, to be read as no digits: a scribble cut like touching digits must not become a number.
# Letters, scribbles and shapes only: the other negative kinds (several digits, fragments) are parts of strings.
NEGATIVES = NegativesConfig(letters=2000, scribbles=2000, shapes=2000, several_digits=0, fragments=0, faint_or_cut=0)


class StringNet(nn.Module):
    def __init__(self, channels: tuple[int, int, int] = (16, 32, 64), hidden: int = 64):
        super().__init__()
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            conv_bn_relu(1, c1),  # (B, c1, 32, W)
            nn.MaxPool2d(2),  # (B, c1, 16, W/2)
            conv_bn_relu(c1, c2),
            nn.MaxPool2d(2),  # (B, c2, 8, W/4): one frame per FRAME columns
            conv_bn_relu(c2, c3),
            conv_bn_relu(c3, c3),
            nn.MaxPool2d((2, 1)),  # (B, c3, 4, W/4)
            nn.Conv2d(c3, c3, (4, 1), bias=False),  # (B, c3, 1, W/4): each frame sees its whole column
            nn.BatchNorm2d(c3),
            nn.ReLU(inplace=True),
        )
        self.rnn = nn.GRU(c3, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, BLANK + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, STRING_HEIGHT, W) in [0, 1], W a multiple of FRAME -> (B, W / FRAME, 11) logits."""
        frames = self.features((x - MEAN) / STD).squeeze(2).transpose(1, 2)
        return self.head(self.rnn(frames)[0])


def batch_tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(pad_batch(images))


def _batches(samples: list[StringSample], size: int, rng: np.random.Generator) -> list[list[int]]:
    """Batches of similar widths (little padding), in random order."""
    order = np.argsort([s.image.shape[1] + rng.uniform(0, 8) for s in samples])
    batches = [order[i : i + size].tolist() for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def accuracy(model: StringNet, samples: list[StringSample], size: int = 256) -> float:
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(samples), size):
            chunk = samples[i : i + size]
            probs = torch.softmax(model(batch_tensor([s.image for s in chunk])), dim=-1).numpy()
            for s, p in zip(chunk, probs, strict=True):
                frames = frames_of(s.image.shape[1])
                right += tuple(d.digit for d in decode(p[:frames])) == s.digits
    return right / max(len(samples), 1)


def train(count: int, epochs: int, seed: int = 0, log=print) -> tuple[StringNet, dict]:
    """StringNet trained on ``count`` strings of MNIST training digits; the epoch kept is the one that reads
    most strings of MNIST *validation* digits right."""
    torch.manual_seed(seed)
    splits = load_mnist()
    started = time.perf_counter()
    pens = redrawn(splits.train_images, seed=seed)
    negatives = training_negatives(splits.train_images, splits.train_labels, NEGATIVES).images
    train_set = synthesise(splits.train_images, splits.train_labels, count, seed, pens, negatives)
    val_pens = redrawn(splits.val_images, seed=seed + 1)
    val_set = synthesise(splits.val_images, splits.val_labels, 3000, seed + 1, val_pens)
    log(f"synthesised {len(train_set)} + {len(val_set)} strings in {time.perf_counter() - started:.0f} s")
    model = StringNet()
    rng = np.random.default_rng(seed)
    steps = epochs * len(_batches(train_set, 64, rng))
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    ctc = nn.CTCLoss(blank=BLANK, zero_infinity=True)
    best, best_state, history = -1.0, None, []
    for epoch in range(epochs):
        model.train()
        for batch in _batches(train_set, 64, rng):
            chunk = [train_set[i] for i in batch]
            logits = model(batch_tensor([s.image for s in chunk]))
            log_probs = logits.log_softmax(-1).transpose(0, 1)  # (T, B, 11)
            lengths = torch.tensor([frames_of(s.image.shape[1]) for s in chunk])
            targets = torch.tensor([d for s in chunk for d in s.digits])
            loss = ctc(log_probs, targets, lengths, torch.tensor([len(s.digits) for s in chunk]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        val = accuracy(model, val_set)
        history.append({"epoch": epoch + 1, "val_string_accuracy": val, "seconds": time.perf_counter() - started})
        log(json.dumps(history[-1]))
        if val > best:
            best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, {"val_string_accuracy": best, "history": history, "train_strings": count}


def export_onnx(model: StringNet, path: Path) -> None:
    model.eval()
    example = torch.zeros(1, 1, STRING_HEIGHT, 64)
    torch.onnx.export(
        model,
        example,
        str(path),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "frames"}},
        opset_version=17,
        dynamo=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strings", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("ml/artifacts/stringnet.onnx"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, metrics = train(args.strings, args.epochs, args.seed)
    export_onnx(model, args.out)
    command = " ".join(["python -m ml.string_model", *(argv if argv is not None else sys.argv[1:])])
    metrics = {"command": command, "mnist_sha256": load_mnist().checksums, **metrics}
    args.out.with_suffix(".json").write_text(json.dumps(metrics, indent=1) + "\n")
    print(f"wrote {args.out}: {metrics['val_string_accuracy']:.2%} of validation strings read right")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
