"""Benchmark: MNIST accuracy (tensors and full pipeline), robustness per condition, calibration, speed."""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from bench.robustness import build_suite
from ml.calibrate import calibrated_probabilities, expected_calibration_error, fit_temperature
from ml.checkpoint import SHIPPED_CHECKPOINT, load_checkpoint
from ml.data import load_mnist
from ml.predictor import Predictor
from ml.preprocess import preprocess
from ml.tensors import checkpoint_logits


def png_bytes(digit: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(digit).save(buffer, format="PNG")
    return buffer.getvalue()


def _resized_png(data: bytes, side: int) -> bytes:
    """The draw page's export size: a canvas PNG scaled to ``side`` x ``side``."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).resize((side, side), Image.Resampling.LANCZOS).save(buffer, format="PNG")
    return buffer.getvalue()


def naive_input(data: bytes) -> np.ndarray:
    """The original DigitVision's preprocessing: grayscale and resize to 28x28, nothing else."""
    img = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
    return np.asarray(img, dtype=np.float32) / 255.0


def pipeline_accuracy(predictor: Predictor, files: list[bytes], labels: np.ndarray) -> tuple[float, int, int]:
    """Accuracy of the full path (decode, preprocess, model) over encoded files, and how many answers were
    "no digit" and "not a digit": both count as wrong."""
    predictions = [predictor.predict(data) for data in files]
    correct = sum(p.digit == int(y) for p, y in zip(predictions, labels, strict=True))
    return correct / len(labels), sum(p.no_digit for p in predictions), sum(p.not_a_digit for p in predictions)


def robustness(
    predictor: Predictor, per_condition: int, seed: int, test_images: np.ndarray, test_labels: np.ndarray
) -> dict:
    """Full-path and naive accuracy per condition of the robustness suite built from the MNIST test digits."""
    suite = build_suite(test_images, test_labels, per_condition=per_condition, seed=seed)
    by_condition: dict[str, list] = defaultdict(list)
    for sample in suite:
        by_condition[sample.condition].append(sample)
    rows = {}
    for condition, samples in by_condition.items():
        labels = np.array([s.label for s in samples])
        accuracy, no_digit, refused = pipeline_accuracy(predictor, [s.data for s in samples], labels)
        naive = predictor.probabilities(np.stack([naive_input(s.data) for s in samples])).argmax(axis=1)
        rows[condition] = {
            "count": len(samples),
            "accuracy": accuracy,
            "no_digit": no_digit,
            "not_a_digit": refused,
            "naive_accuracy": float((naive == labels).mean()),
        }
    total = sum(r["count"] for r in rows.values())
    return {
        "conditions": rows,
        "overall": sum(r["accuracy"] * r["count"] for r in rows.values()) / total,
        "naive_overall": sum(r["naive_accuracy"] * r["count"] for r in rows.values()) / total,
        "worst": min(rows.items(), key=lambda kv: kv[1]["accuracy"])[0],
        "count": total,
    }


def _percentiles(seconds: list[float]) -> dict:
    ms = np.array(seconds) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def latency(predictor: Predictor, files: dict[str, list[bytes]], repeats: int) -> dict:
    """Single-image latency on one thread, split into preprocessing (decode included) and model."""
    result = {}
    for kind, datas in files.items():
        pre_t, model_t, total_t = [], [], []
        for i in range(repeats):
            data = datas[i % len(datas)]
            t0 = time.perf_counter()
            prepared = preprocess(data)
            t1 = time.perf_counter()
            predictor.predict_preprocessed([prepared])
            t2 = time.perf_counter()
            if i >= 10:  # the first calls warm caches and allocators
                pre_t.append(t1 - t0)
                model_t.append(t2 - t1)
                total_t.append(t2 - t0)
        result[kind] = {
            "preprocess": _percentiles(pre_t),
            "model": _percentiles(model_t),
            "total": _percentiles(total_t),
        }
    return result


def alternating_rounds(first, second, rounds: int) -> tuple[float, float]:
    """The median over ``rounds`` of what ``first()`` and ``second()`` measure (a p50 in ms each), called in
    turn in one process, so the machine's hour-to-hour speed falls on both alike."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(first())
        theirs.append(second())
    return float(np.median(ours)), float(np.median(theirs))


def throughput(predictor: Predictor, inputs: np.ndarray, batch: int = 256, rounds: int = 20) -> dict:
    """Model-only images per second for preprocessed batches."""
    predictor.probabilities(inputs[:batch])
    started = time.perf_counter()
    for r in range(rounds):
        start = (r * batch) % (len(inputs) - batch)
        predictor.probabilities(inputs[start : start + batch])
    return {"batch": batch, "images_per_second": batch * rounds / (time.perf_counter() - started)}


def run(args: argparse.Namespace) -> dict:
    splits = load_mnist()
    predictor = Predictor.from_checkpoint(args.checkpoint, threads=1)
    ckpt = load_checkpoint(args.checkpoint)
    report: dict = {
        "checkpoint": str(args.checkpoint),
        "model_version": predictor.version,
        "backend": predictor.backend.name,
    }

    logits = checkpoint_logits(ckpt, splits.test_images)
    report["mnist_test_accuracy_tensors"] = float((logits.argmax(1) == splits.test_labels).mean())
    temperature = fit_temperature(checkpoint_logits(ckpt, splits.val_images), splits.val_labels)
    report["ece_before_scaling"] = expected_calibration_error(calibrated_probabilities(logits, 1.0), splits.test_labels)
    report["ece_after_scaling"] = expected_calibration_error(
        calibrated_probabilities(logits, temperature), splits.test_labels
    )
    report["temperature_refit_on_validation"] = temperature
    _print_so_far(report)

    count = args.pipeline_count or len(splits.test_images)
    files = [png_bytes(d) for d in splits.test_images[:count]]
    accuracy, no_digit, refused = pipeline_accuracy(predictor, files, splits.test_labels[:count])
    report["mnist_test_accuracy_pipeline"] = accuracy
    report["mnist_test_pipeline_count"] = count
    report["mnist_test_pipeline_no_digit"] = no_digit
    report["mnist_test_pipeline_not_a_digit"] = refused
    _print_so_far(report)

    if not args.skip_robustness:
        report["robustness"] = robustness(
            predictor, args.per_condition, args.seed, splits.test_images, splits.test_labels
        )
        _print_robustness(report["robustness"])

    canvas = [
        s.data
        for s in build_suite(splits.test_images[:200], splits.test_labels[:200], per_condition=20)
        if s.condition == "canvas_alpha"
    ]
    kinds = {"mnist_png": files[:200], "canvas_280_png": [_resized_png(c, 280) for c in canvas], "canvas_png": canvas}
    report["latency_one_thread"] = latency(predictor, kinds, args.repeats)
    if predictor.backend.name != "torch":  # the same inputs through eager PyTorch, side by side
        eager = Predictor.from_checkpoint(args.checkpoint, threads=1, backend="torch")
        report["latency_one_thread_torch"] = latency(eager, kinds, args.repeats)
    inputs = np.stack([p.image for p in (preprocess(f) for f in files[:2048]) if not p.no_digit])
    report["throughput_one_thread"] = throughput(predictor, inputs)
    return report


def _print_so_far(report: dict, _printed: set = set()) -> None:  # noqa: B006 - remembers what was printed
    for key, value in report.items():
        if isinstance(value, float) and key not in _printed:
            print(f"{key:40s} {value:.4f}")
            _printed.add(key)
    print()


def _print_robustness(rob: dict) -> None:
    print(f"{'robustness condition':28s} {'n':>5s} {'accuracy':>9s} {'no digit':>9s} {'refused':>8s} {'naive':>7s}")
    for name, row in rob["conditions"].items():
        print(
            f"{name:28s} {row['count']:5d} {row['accuracy']:9.4f} {row['no_digit']:9d} "
            f"{row.get('not_a_digit', 0):8d} {row['naive_accuracy']:7.4f}"
        )
    print(f"{'overall':28s} {rob['count']:5d} {rob['overall']:9.4f} {'':9s} {rob['naive_overall']:7.4f}\n")


def export_test_pngs(directory: Path) -> int:
    """Write the MNIST test digits as PNG files named ``<index>_label<digit>.png`` for ``manage.py predict``."""
    splits = load_mnist()
    directory.mkdir(parents=True, exist_ok=True)
    for index, (digit, label) in enumerate(zip(splits.test_images, splits.test_labels, strict=True)):
        (directory / f"{index:05d}_label{label}.png").write_bytes(png_bytes(digit))
    return len(splits.test_images)


def score_predictions(lines: list[str]) -> dict:
    """Accuracy of ``manage.py predict --json`` output over files named by ``export_test_pngs``."""
    results = [json.loads(line) for line in lines if line.strip()]
    correct = sum(r.get("digit") == int(Path(r["file"]).stem.split("_label")[1]) for r in results)
    return {"count": len(results), "correct": correct, "accuracy": correct / max(len(results), 1)}


def _print_latency(rows: dict, backend: str) -> None:
    print(f"single-image latency, one thread, model on {backend}:")
    for kind, row in rows.items():
        print(
            f"  {kind:15s} preprocess p50 {row['preprocess']['p50_ms']:.2f} ms p99 {row['preprocess']['p99_ms']:.2f}"
            f" | model p50 {row['model']['p50_ms']:.2f} ms p99 {row['model']['p99_ms']:.2f}"
            f" | total p50 {row['total']['p50_ms']:.2f} ms p99 {row['total']['p99_ms']:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark a checkpoint: accuracy, robustness, calibration, speed.")
    parser.add_argument("--export-test-pngs", type=Path, metavar="DIR", help="only write MNIST test PNGs to DIR")
    parser.add_argument(
        "--score-predictions", type=Path, metavar="JSONL", help="only score `manage.py predict --json` output"
    )
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT)
    parser.add_argument("--per-condition", type=int, default=300, help="MNIST test digits per robustness condition")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=500, help="single-image timings per input kind")
    parser.add_argument("--pipeline-count", type=int, default=0, help="MNIST test digits through the pipeline (0=all)")
    parser.add_argument("--skip-robustness", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the full report here (bench/results/accuracy.json)")
    args = parser.parse_args(argv)
    if args.export_test_pngs:
        print(f"wrote {export_test_pngs(args.export_test_pngs)} PNG files to {args.export_test_pngs}")
        return 0
    if args.score_predictions:
        score = score_predictions(args.score_predictions.read_text().splitlines())
        print(f"manage.py predict on MNIST test PNGs: {score['correct']}/{score['count']} = {score['accuracy']:.4f}")
        return 0
    report = run(args)
    _print_latency(report["latency_one_thread"], report["backend"])
    if "latency_one_thread_torch" in report:
        _print_latency(report["latency_one_thread_torch"], "torch")
        ratios = [
            report["latency_one_thread_torch"][kind]["model"]["p50_ms"] / row["model"]["p50_ms"]
            for kind, row in report["latency_one_thread"].items()
        ]
        print(f"model step, eager PyTorch / {report['backend']} (p50 ratio): {min(ratios):.1f}x to {max(ratios):.1f}x")
    print(
        f"throughput (model only, batch {report['throughput_one_thread']['batch']}, one thread): "
        f"{report['throughput_one_thread']['images_per_second']:.0f} images/s"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
