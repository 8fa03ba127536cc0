"""Benchmark: retraining from corrections in one handwriting style the shipped model gets wrong."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import RESULTS_DIR, robustness
from ml.checkpoint import SHIPPED_CHECKPOINT
from ml.data import load_mnist
from ml.predictor import Predictor
from ml.preprocess import preprocess

DEFAULT_OUT = RESULTS_DIR / "retrain.json"
STYLE = "narrow_thin_pen"
STYLE_SEED = 2_024  # which training digits are drawn, and how: fixed so the figures are reproducible
NARROW = (0.36, 0.44)  # width kept of the pen drawing: tall, condensed handwriting


def render_narrow_thin_pen(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """robustness's thin_pen, squeezed to ~40% of its width: one person's tall, narrow handwriting as a PNG."""
    return robustness.thin_pen(digit, rng, heights=(200, 320), squeeze=NARROW)


def style_inputs(images: np.ndarray, indices: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The style's 28x28 model inputs through ml.preprocess (the serving path); returns (inputs, kept indices)."""
    inputs, kept = [], []
    for index in indices:
        prepared = preprocess(render_narrow_thin_pen(images[index], rng))
        if not prepared.no_digit:
            inputs.append(prepared.image)
            kept.append(index)
    return np.stack(inputs).astype(np.float32), np.asarray(kept, dtype=np.int64)


def make_corrections(splits, predictor: Predictor, order: np.ndarray, wanted: int, rng: np.random.Generator):
    """Render training digits in the style until ``wanted`` are ones the model gets wrong; those are corrections."""
    images, labels, used, tried, position = [], [], [], 0, 0
    while len(labels) < wanted:
        if position >= len(order):
            raise RuntimeError(f"only {len(labels)} of {wanted} wrong predictions in the whole training split")
        chunk = order[position : position + 100]
        position += len(chunk)
        inputs, kept = style_inputs(splits.train_images, chunk, rng)
        tried += len(chunk)
        predicted = predictor.probabilities(inputs).argmax(axis=1)
        for x, index, p in zip(inputs, kept, predicted, strict=True):
            if p != splits.train_labels[index] and len(labels) < wanted:
                images.append(x)
                labels.append(int(splits.train_labels[index]))
                used.append(int(index))
    return np.stack(images), np.asarray(labels, dtype=np.int64), used, tried, position


def accuracy(predictor: Predictor, inputs: np.ndarray, labels: np.ndarray) -> tuple[int, float]:
    """How many of ``inputs`` the predictor reads as ``labels``, and what fraction that is."""
    correct = int((predictor.probabilities(inputs).argmax(axis=1) == labels).sum())
    return correct, correct / len(labels)


def run(args: argparse.Namespace) -> dict:
    from ml.retrain import CorrectionSet, RetrainConfig, retrain

    started = time.perf_counter()
    splits = load_mnist()
    shipped = Predictor.from_checkpoint(args.checkpoint, threads=1)
    rng = np.random.default_rng(STYLE_SEED)
    # Training-split digits only: the test set judges the gate and the validation split selects the epoch.
    order = rng.permutation(len(splits.train_images))
    images, labels, sources, tried, consumed = make_corrections(splits, shipped, order, args.corrections, rng)
    fresh_inputs, fresh_kept = style_inputs(splits.train_images, order[consumed : consumed + args.fresh], rng)
    fresh_labels = splits.train_labels[fresh_kept]
    render_s = time.perf_counter() - started
    wrong_rate = args.corrections / tried
    print(
        f"style {STYLE}: {args.corrections} wrong of {tried} training digits rendered "
        f"({100 * wrong_rate:.1f}% wrong); fresh set {len(fresh_labels)} digits; {render_s:.0f} s"
    )
    # The fresh digits' plain MNIST versions leave the replay pool, so the fresh figure is about unseen digits.
    keep = np.ones(len(splits.train_images), dtype=bool)
    keep[fresh_kept] = False
    replay_splits = replace(splits, train_images=splits.train_images[keep], train_labels=splits.train_labels[keep])
    corrections = CorrectionSet(images=images, labels=labels, keys=[f"mnist-train-{i}" for i in sources])

    calls: list[tuple[float, float, str]] = []
    t0 = time.perf_counter()

    def progress(percent: float, step: str) -> None:
        calls.append((time.perf_counter() - t0, percent, step))

    with tempfile.TemporaryDirectory(prefix="digitvision-bench-retrain-") as tmp:
        config = RetrainConfig(threads=args.threads, seed=args.seed)
        if args.epochs:
            config = config.with_options(epochs=args.epochs)
        result = retrain(
            base_checkpoint_path=args.checkpoint,
            corrections=corrections,
            out_dir=Path(tmp),
            config=config,
            splits=replay_splits,
            progress=progress,
        )
        wall = time.perf_counter() - t0
        candidate = Predictor.from_checkpoint(result.candidate_path, threads=1)
        backend = candidate.backend.name
        active_fresh = accuracy(shipped, fresh_inputs, fresh_labels)
        candidate_fresh = accuracy(candidate, fresh_inputs, fresh_labels)
        files = sorted(p.name for p in Path(tmp).iterdir())
    gaps = np.diff([0.0] + [c[0] for c in calls])
    figures = result.to_dict()
    active, candidate = result.verdict.active, result.verdict.candidate
    return {
        "command": "python -m bench.retrain " + " ".join(sys.argv[1:]),
        "checkpoint": str(args.checkpoint),
        "style": STYLE,
        "style_description": "robustness thin_pen (1-2.2 px pen, 200-320 px tall) squeezed to 36-44% of its width",
        "source": "MNIST training split (not validation, not test)",
        "rendered_for_corrections": tried,
        "shipped_model_wrong_rate_on_style": wrong_rate,
        "corrections": args.corrections,
        "counts": figures["counts"],
        "config": figures["config"],
        "retrain_wall_s": wall,
        "timings": figures["timings"],
        "progress_calls": len(calls),
        "progress_max_gap_s": float(gaps.max()),
        "verdict": result.verdict.verdict,
        "reason": result.reason,
        "mnist_test": {
            "active_correct": active.mnist_test_correct,
            "candidate_correct": candidate.mnist_test_correct,
            "count": active.mnist_test_total,
            "active_accuracy": active.mnist_test_accuracy,
            "candidate_accuracy": candidate.mnist_test_accuracy,
            "change_pts": 100 * (candidate.mnist_test_accuracy - active.mnist_test_accuracy),
        },
        "holdout": {
            "count": active.holdout_total,
            "active_correct": active.holdout_correct,
            "candidate_correct": candidate.holdout_correct,
        },
        "fresh_style_set": {
            "count": int(len(fresh_labels)),
            "active_correct": active_fresh[0],
            "active_accuracy": active_fresh[1],
            "candidate_correct": candidate_fresh[0],
            "candidate_accuracy": candidate_fresh[1],
            "candidate_backend": backend,
        },
        "per_class": figures["per_class"],
        "files_written": files,
        "log": figures["log"],
    }


def _print(report: dict) -> None:
    t, h, f = report["mnist_test"], report["holdout"], report["fresh_style_set"]
    print(f"\n{'figure':34s} {'active':>14s} {'candidate':>14s} {'change':>10s}")
    print(f"{'MNIST test':34s} {t['active_accuracy']:14.4%} {t['candidate_accuracy']:14.4%} {t['change_pts']:+9.2f}pt")
    print(
        f"{'style holdout (corrections)':34s} {h['active_correct']:>9d}/{h['count']:<4d} "
        f"{h['candidate_correct']:>9d}/{h['count']:<4d} {h['candidate_correct'] - h['active_correct']:+10d}"
    )
    print(
        f"{'fresh style set (unseen digits)':34s} {f['active_accuracy']:14.2%} {f['candidate_accuracy']:14.2%} "
        f"{100 * (f['candidate_accuracy'] - f['active_accuracy']):+9.2f}pt"
    )
    timings = report["timings"]
    print(
        f"\nretrain() wall {report['retrain_wall_s']:.1f} s (fine-tune {timings['fine_tune_s']:.1f} s, "
        f"evaluate+write {timings['evaluate_s']:.1f} s); {report['counts']['train']} train / "
        f"{report['counts']['holdout']} holdout corrections, {report['counts']['replay']} replay digits; "
        f"progress every <= {report['progress_max_gap_s']:.1f} s"
    )
    print(f"verdict: {report['verdict']}: {report['reason']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT, help="the base model (only read)")
    parser.add_argument("--corrections", type=int, default=200)
    parser.add_argument("--fresh", type=int, default=1000, help="unseen training digits rendered in the style")
    parser.add_argument("--epochs", type=int, default=0, help="0: RetrainConfig's default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    report = run(args)
    _print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
