"""Accuracy, per-class figures, confusion matrix, calibration; saved as JSON and matplotlib plots."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ml.calibrate import calibrated_probabilities
from ml.checkpoint import SHIPPED_CHECKPOINT, Checkpoint, load_checkpoint, save_checkpoint
from ml.data import sha256_of
from ml.export import export_onnx
from ml.refusal import choose_threshold, refusals
from ml.report import CalibratedEvaluation, ModelMetrics, calibrated_evaluation, evaluation
from ml.tensors import checkpoint_logits

VALIDATION_NEGATIVES_PER_KIND = 300
VALIDATION_NEGATIVES_SEED = 31_337  # not the training negatives' seed; drawn from the validation digits


def trained_to_refuse(ckpt: Checkpoint) -> bool:
    """Whether the model saw not-a-digit negatives in training (and so gets a rejection threshold)."""
    return ckpt.info.get("train_config", {}).get("negatives_per_kind", 0) > 0


def refusal_report(ckpt: Checkpoint, splits, val_probs: np.ndarray, test_probs: np.ndarray) -> dict:
    """How the checkpoint's threshold does on validation (digits and validation negatives, made from the
    validation digits) and on MNIST test digits, given their calibrated probabilities. Only the validation
    digits chose it."""
    from ml.negatives import KINDS, NegativesConfig, cached_training_negatives

    threshold = ckpt.rejection_threshold
    config = NegativesConfig.each(VALIDATION_NEGATIVES_PER_KIND, seed=VALIDATION_NEGATIVES_SEED)
    negatives = cached_training_negatives(splits.val_images, splits.val_labels, config)
    negative_probs = calibrated_probabilities(checkpoint_logits(ckpt, negatives.images), ckpt.temperature)
    negatives_refused = refusals(negative_probs, negatives.images, threshold)
    return {
        "rejection_threshold": threshold,
        "rule": "refuse when 1 - max calibrated probability > threshold, or when several digit-sized parts stand "
        "side by side (ml.refusal.refusals); threshold = ml.refusal.choose_threshold on the validation digits",
        "validation_digits_refused": float(refusals(val_probs, splits.val_images, threshold).mean()),
        "test_digits_refused": float(refusals(test_probs, splits.test_images, threshold).mean()),
        "validation_negatives_refused": float(negatives_refused.mean()),
        "validation_negatives_refused_per_kind": {
            kind: float(negatives_refused[negatives.kinds == kind].mean()) for kind in KINDS
        },
    }


def calibration_report(ckpt: Checkpoint, val_images, val_labels, test_images, test_labels) -> CalibratedEvaluation:
    """Fit the temperature on validation; evaluate the test set before and after scaling."""
    return calibrated_evaluation(
        checkpoint_logits(ckpt, val_images), val_labels, checkpoint_logits(ckpt, test_images), test_labels
    )


def save_plots(report: CalibratedEvaluation, history: list[dict], out_dir: Path) -> list[Path]:
    """Confusion matrix, reliability diagram and training curves as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    matrix = np.array(report.test.confusion_matrix)
    fig, ax = plt.subplots(figsize=(6, 5))
    shown = np.where(np.eye(10, dtype=bool), 0, matrix)  # colour the errors; the diagonal would swamp them
    image = ax.imshow(shown, cmap="Reds")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color="black")
    ax.set(xlabel="predicted", ylabel="true", title=f"MNIST test confusion (accuracy {report.test.accuracy:.4f})")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    fig.colorbar(image, ax=ax, label="errors")
    paths.append(_save(fig, out_dir / "confusion_matrix.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    for reliability, label in ((report.reliability_before, "before scaling"), (report.reliability_after, "after")):
        bins = [b for b in reliability if b["count"]]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label=label)
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect")
    ax.set(
        xlabel="confidence",
        ylabel="accuracy",
        title=f"Reliability (ECE {report.ece_before_scaling:.4f} -> {report.ece_after_scaling:.4f})",
    )
    ax.legend()
    paths.append(_save(fig, out_dir / "reliability.png"))

    if history:
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        epochs = [h["epoch"] for h in history]
        left.plot(epochs, [h["train_loss"] for h in history], label="train")
        left.plot(epochs, [h["val_loss"] for h in history], label="validation")
        left.set(xlabel="epoch", ylabel="loss", title="loss")
        left.legend()
        right.plot(epochs, [h["train_accuracy"] for h in history], label="train (augmented)")
        right.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
        right.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0.97, 1.0))
        right.legend()
        paths.append(_save(fig, out_dir / "training_curves.png"))
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def finalize_checkpoint(path: Path, splits, out_dir: Path | None = None) -> dict:
    """Calibrate on validation, evaluate on test, store the temperature and metrics, write JSON and plots."""
    ckpt = load_checkpoint(path)
    val_logits, test_logits = checkpoint_logits(ckpt, splits.val_images), checkpoint_logits(ckpt, splits.test_images)
    report = calibrated_evaluation(val_logits, splits.val_labels, test_logits, splits.test_labels)
    history = ckpt.info.get("history", [])
    val_best = max(history, key=lambda h: (h["val_accuracy"], -h["val_loss"])) if history else {}
    ckpt.temperature = report.temperature
    val_probs = calibrated_probabilities(val_logits, ckpt.temperature)
    test_probs = calibrated_probabilities(test_logits, ckpt.temperature)
    refusals = {}
    if trained_to_refuse(ckpt):
        ckpt.rejection_threshold = choose_threshold(val_probs)
        refusals = refusal_report(ckpt, splits, val_probs, test_probs)
    # refusals count as errors
    test = evaluation(test_probs, splits.test_labels, None, ckpt.rejection_threshold, splits.test_images)
    metrics = ModelMetrics(
        test_accuracy=test.accuracy,
        test_refusal_rate=test.refusal_rate,
        rejection_threshold=ckpt.rejection_threshold,
        test_ece_before_scaling=report.ece_before_scaling,
        test_ece_after_scaling=report.ece_after_scaling,
        val_accuracy=val_best.get("val_accuracy"),
        selected_epoch=val_best.get("epoch"),
        temperature=report.temperature,
        parameters=ckpt.info.get("parameters"),
    )
    ckpt.metrics = metrics.to_dict()
    sha = save_checkpoint(ckpt, path)
    out_dir = out_dir or Path(path).parent
    # metrics.json: the headline ModelMetrics (what ModelVersion.metrics stores) plus the provenance and the
    # full report; ModelMetrics.from_dict reads it back, the extra keys included.
    document = {
        "checkpoint": Path(path).name,
        "checkpoint_sha256": sha,
        "command": ckpt.info.get("command"),
        "evaluation_command": "python -m ml.evaluate --checkpoint " + str(path),
        "data_checksums": ckpt.data_checksums,
        "train_seconds": ckpt.info.get("train_seconds"),
        "train_config": ckpt.info.get("train_config"),
        "selection": "epoch with the best validation accuracy (5,000 digits held out of the training set)",
        **ckpt.metrics,
        "refusals": refusals,
        "report": report.to_dict(),
        "history": history,
    }
    (out_dir / "metrics.json").write_text(json.dumps(document, indent=1))
    save_plots(report, history, out_dir)
    export_onnx(path)  # serving uses the ONNX graph; it records this checkpoint's sha256
    print(
        f"test accuracy {test.accuracy:.4f} ({test.refused} refused); ECE {report.ece_before_scaling:.4f} -> "
        f"{report.ece_after_scaling:.4f} at T={report.temperature:.3f}; wrote {out_dir / 'metrics.json'}"
    )
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Calibrate and evaluate a checkpoint; write metrics.json and plots.")
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT)
    args = parser.parse_args(argv)
    from ml.data import load_mnist

    finalize_checkpoint(args.checkpoint, load_mnist())
    print(f"checkpoint sha256 {sha256_of(args.checkpoint)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
