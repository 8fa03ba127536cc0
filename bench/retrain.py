"""Benchmark: retraining from corrections in one handwriting style the shipped model gets wrong."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import get_args

import numpy as np
from PIL import Image

from bench import RESULTS_DIR, robustness
from ml.checkpoint import SHIPPED_CHECKPOINT
from ml.data import load_mnist
from ml.predictor import Predictor
from ml.preprocess import preprocess
from ml.report import Outcome, Part

DEFAULT_OUT = RESULTS_DIR / "retrain.json"
STYLE_SEED = 2_024  # which training digits are drawn, and how: fixed so the figures are reproducible
FRESH_SEED = 2_025  # which MNIST test digits make the fresh set of the style
NARROW = (0.36, 0.44)  # width kept of the pen drawing: tall, condensed handwriting
FELT_TIP = (0.11, 0.15)  # pen width as a share of the digit's height: a felt-tip, thinner than a marker
SLANT = (1.1, 1.4)  # forward lean, horizontal shift per unit of height: 48-54 degrees


def render_narrow_thin_pen(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """robustness's thin_pen with its path drawn at ~40% of its width: one person's tall, narrow handwriting."""
    return robustness.thin_pen(digit, rng, heights=(200, 320), narrow=NARROW)


def render_squeezed_thin_pen(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """robustness's thin_pen squeezed to ~40% of its width after drawing (this benchmark's first style): the
    squeeze also fades the upright strokes below a pixel, so many of its inputs come out broken."""
    return robustness.thin_pen(digit, rng, heights=(200, 320), squeeze=NARROW)


def slanted(mask: np.ndarray, lean: float) -> np.ndarray:
    """The ink mask sheared so its top leans right by ``lean`` of its height (forward-slanted handwriting)."""
    h, w = mask.shape
    shift = lean * h
    image = Image.fromarray(mask.astype(np.float32), mode="F")
    # Each output pixel (x, y) samples the input at (x - lean * (h - y), y): the top moves right.
    sheared = image.transform((w + int(np.ceil(shift)), h), Image.Transform.AFFINE, (1, lean, -shift, 0, 1, 0))
    return np.clip(np.asarray(sheared), 0.0, 1.0)


def render_slanted_felt_tip(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """The digit redrawn with a felt-tip (a round pen 11-15% of its height), leaning forward 48-54 degrees."""
    height = int(rng.integers(160, 301))
    mask = robustness.stroke_mask(digit, height, height * rng.uniform(*FELT_TIP))
    canvas = robustness.on_canvas(slanted(mask, rng.uniform(*SLANT)), rng, (0.45, 0.75), (1.0, 1.4))
    ink = ((25, 25, 30), (25, 50, 150), (30, 110, 60))[int(rng.integers(3))]
    paper = (int(rng.integers(235, 256)),) * 3
    return robustness.encode(Image.fromarray(robustness.compose(canvas, paper, ink)), "PNG")


@dataclass(frozen=True)
class Style:
    render: Callable[[np.ndarray, np.random.Generator], bytes]
    description: str


STYLES = {
    "narrow_thin_pen": Style(
        render_narrow_thin_pen,
        "robustness thin_pen (1-2.2 px pen, 200-320 px tall), its path drawn at 36-44% of the digit's width",
    ),
    "squeezed_thin_pen": Style(
        render_squeezed_thin_pen,
        "robustness thin_pen (1-2.2 px pen, 200-320 px tall) squeezed to 36-44% of its width after drawing",
    ),
    "slanted_felt_tip": Style(
        render_slanted_felt_tip, "a round felt-tip 11-15% of the height wide, leaning forward 48-54 degrees"
    ),
}


def style_inputs(
    style: Style, images: np.ndarray, indices: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The style's 28x28 model inputs through ml.preprocess (the serving path); returns (inputs, kept indices)."""
    inputs, kept = [], []
    for index in indices:
        prepared = preprocess(style.render(images[index], rng))
        if not prepared.no_digit:
            inputs.append(prepared.image)
            kept.append(index)
    return np.stack(inputs).astype(np.float32), np.asarray(kept, dtype=np.int64)


def make_corrections(
    style: Style, splits, predictor: Predictor, order: np.ndarray, wanted: int, rng: np.random.Generator
):
    """Render training digits in the style until ``wanted`` are ones the model gets wrong (a refusal is wrong
    too); those are the corrections."""
    images, labels, used, tried, position = [], [], [], 0, 0
    while len(labels) < wanted:
        if position >= len(order):
            raise RuntimeError(f"only {len(labels)} of {wanted} wrong predictions in the whole training split")
        chunk = order[position : position + 100]
        position += len(chunk)
        inputs, kept = style_inputs(style, splits.train_images, chunk, rng)
        tried += len(chunk)
        for x, index, answer in zip(inputs, kept, predictor.answers(inputs), strict=True):
            if answer != splits.train_labels[index] and len(labels) < wanted:
                images.append(x)
                labels.append(int(splits.train_labels[index]))
                used.append(int(index))
    return np.stack(images), np.asarray(labels, dtype=np.int64), used, tried


def accuracy(predictor: Predictor, inputs: np.ndarray, labels: np.ndarray) -> tuple[int, float]:
    """How many of ``inputs`` the predictor reads as ``labels`` (a refusal is wrong), and what fraction."""
    correct = int((predictor.answers(inputs) == labels).sum())
    return correct, correct / len(labels)


def run_style(name: str, args: argparse.Namespace, splits, shipped: Predictor) -> dict:
    """One retraining from ``args.corrections`` corrections in one style, judged on fresh MNIST test digits."""
    from ml.retrain import CorrectionSet, RetrainConfig, retrain

    style = STYLES[name]
    started = time.perf_counter()
    rng = np.random.default_rng(STYLE_SEED)
    # Corrections from the training split; the fresh set from the test split: digits no model ever trained on.
    order = rng.permutation(len(splits.train_images))
    images, labels, sources, tried = make_corrections(style, splits, shipped, order, args.corrections, rng)
    fresh_rng = np.random.default_rng(FRESH_SEED)
    fresh_order = fresh_rng.permutation(len(splits.test_images))[: args.fresh]
    fresh_inputs, fresh_kept = style_inputs(style, splits.test_images, fresh_order, fresh_rng)
    fresh_labels = splits.test_labels[fresh_kept]
    wrong_rate = args.corrections / tried
    print(
        f"style {name}: {args.corrections} wrong of {tried} training digits rendered ({100 * wrong_rate:.1f}% "
        f"wrong); fresh set {len(fresh_labels)} test digits; {time.perf_counter() - started:.0f} s"
    )
    # The corrected digits' plain MNIST versions leave the replay pool: the run sees each of them once, as sent.
    keep = np.ones(len(splits.train_images), dtype=bool)
    keep[sources] = False
    replay_splits = replace(splits, train_images=splits.train_images[keep], train_labels=splits.train_labels[keep])
    corrections = CorrectionSet(images=images, labels=labels, keys=[f"mnist-train-{i}" for i in sources])

    calls: list[float] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="digitvision-bench-retrain-") as tmp:
        config = RetrainConfig(seed=args.seed)
        if args.threads:
            config = config.with_options(threads=args.threads)
        if args.options:
            config = config.with_options(**json.loads(args.options))
        result = retrain(
            base_checkpoint_path=args.checkpoint,
            corrections=corrections,
            out_dir=Path(tmp),
            config=config,
            splits=replay_splits,
            progress=lambda percent, step: calls.append(time.perf_counter() - t0),
        )
        wall = time.perf_counter() - t0
        candidate = Predictor.from_checkpoint(result.candidate_path, threads=1)
        active_fresh = accuracy(shipped, fresh_inputs, fresh_labels)
        candidate_fresh = accuracy(candidate, fresh_inputs, fresh_labels)
    gaps = np.diff([0.0, *calls, wall])
    figures = result.to_dict()
    active, cand = result.verdict.active, result.verdict.candidate
    return {
        "style": name,
        "style_description": style.description,
        "corrections_source": "MNIST training split, digits the base model reads wrong or refuses in this style",
        "fresh_source": "MNIST test split, rendered in the style (never trained on, never used to choose)",
        "rendered_for_corrections": tried,
        "base_model_wrong_rate_on_style": wrong_rate,
        "counts": figures["counts"],
        "config": figures["config"],
        "retrain_wall_s": round(wall, 2),
        "timings": figures["timings"],
        "progress_calls": len(calls),
        "progress_max_gap_s": round(float(gaps.max()), 2),
        "verdict": result.verdict.verdict,
        "reason": result.reason,
        "mnist_test": {
            "active_correct": active.mnist_test_correct,
            "candidate_correct": cand.mnist_test_correct,
            "count": active.mnist_test_total,
            "active_accuracy": active.mnist_test_accuracy,
            "candidate_accuracy": cand.mnist_test_accuracy,
            "change_pts": round(100 * (cand.mnist_test_accuracy - active.mnist_test_accuracy), 3),
            "active_refused": active.mnist_test_refused,
            "candidate_refused": cand.mnist_test_refused,
        },
        "holdout": {
            "count": active.holdout_total,
            "active_correct": active.holdout_correct,
            "candidate_correct": cand.holdout_correct,
        },
        "fresh_style_set": {
            "count": int(len(fresh_labels)),
            "active_correct": active_fresh[0],
            "active_accuracy": active_fresh[1],
            "candidate_correct": candidate_fresh[0],
            "candidate_accuracy": candidate_fresh[1],
        },
        "outcomes": {
            part: {o: sum(1 for x in result.verdict.outcomes if x.part == part and x.outcome == o) for o in OUTCOMES}
            for part in get_args(Part)
        },
        "per_class": figures["per_class"],
        "log": figures["log"],
    }


OUTCOMES = get_args(Outcome)


def _print(report: dict) -> None:
    t, h, f = report["mnist_test"], report["holdout"], report["fresh_style_set"]
    print(f"\n{report['style']}: {'figure':34s} {'active':>14s} {'candidate':>14s} {'change':>10s}")
    print(f"{'MNIST test':34s} {t['active_accuracy']:14.4%} {t['candidate_accuracy']:14.4%} {t['change_pts']:+9.2f}pt")
    print(
        f"{'style holdout (corrections)':34s} {h['active_correct']:>9d}/{h['count']:<4d} "
        f"{h['candidate_correct']:>9d}/{h['count']:<4d} {h['candidate_correct'] - h['active_correct']:+10d}"
    )
    print(
        f"{'fresh style set (MNIST test)':34s} {f['active_accuracy']:14.2%} {f['candidate_accuracy']:14.2%} "
        f"{100 * (f['candidate_accuracy'] - f['active_accuracy']):+9.2f}pt"
    )
    timings, counts = report["timings"], report["counts"]
    print(
        f"retrain() wall {report['retrain_wall_s']:.1f} s (fine-tune {timings['fine_tune_s']:.1f} s, "
        f"evaluate+write {timings['evaluate_s']:.1f} s); {counts['train']} train / {counts.get('selection', 0)} "
        f"selection / {counts['holdout']} holdout corrections, {counts['replay']} replay digits; "
        f"progress every <= {report['progress_max_gap_s']:.1f} s"
    )
    print(f"verdict: {report['verdict']}: {report['reason']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT, help="the base model (only read)")
    parser.add_argument("--style", choices=sorted(STYLES), action="append", help="default: every style")
    parser.add_argument("--corrections", type=int, default=200)
    parser.add_argument("--fresh", type=int, default=1000, help="MNIST test digits rendered in the style")
    parser.add_argument("--options", default="", help="RetrainConfig settings as JSON, e.g. '{\"epochs\": 4}'")
    parser.add_argument("--threads", type=int, default=0, help="0: RetrainConfig's own (up to two)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    splits = load_mnist()
    shipped = Predictor.from_checkpoint(args.checkpoint, threads=1)
    reports = []
    for name in args.style or sorted(STYLES):
        reports.append(run_style(name, args, splits, shipped))
        _print(reports[-1])
    report = {
        "command": "python -m bench.retrain " + " ".join(sys.argv[1:] if argv is None else argv),
        "checkpoint": str(args.checkpoint),
        "base_model": shipped.version,
        "styles": reports,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
