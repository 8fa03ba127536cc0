"""Accuracy, per-class figures, confusion matrix, calibration; saved as JSON and matplotlib plots."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ml.calibrate import (
    ECE_BINS,
    calibrated_probabilities,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from ml.checkpoint import SHIPPED_CHECKPOINT, Checkpoint, load_checkpoint, save_checkpoint
from ml.data import sha256_of
from ml.train import as_float_images, predict_logits


def model_logits(ckpt: Checkpoint, images: np.ndarray) -> np.ndarray:
    """Uncalibrated logits of a checkpoint's model for uint8 or [0, 1] (N, 28, 28) images."""
    return predict_logits(ckpt.build_model(), as_float_images(images)).numpy()


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, classes: int = 10) -> np.ndarray:
    """Rows are true digits, columns predicted digits."""
    return np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def classification_report(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, per-class precision and recall, confusion matrix and ECE of (N, 10) probabilities."""
    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(predicted, labels)
    tp = np.diag(matrix).astype(float)
    return {
        "count": int(len(labels)),
        "accuracy": float((predicted == labels).mean()),
        "errors": int((predicted != labels).sum()),
        "precision": (tp / np.maximum(matrix.sum(axis=0), 1)).round(5).tolist(),
        "recall": (tp / np.maximum(matrix.sum(axis=1), 1)).round(5).tolist(),
        "confusion_matrix": matrix.tolist(),
        "ece": expected_calibration_error(probs, labels),
    }


def calibration_report(
    ckpt: Checkpoint, val_images, val_labels, test_images, test_labels
) -> tuple[float, dict, np.ndarray]:
    """Fit the temperature on validation; report the test set before and after scaling."""
    temperature = fit_temperature(model_logits(ckpt, val_images), val_labels)
    test_logits = model_logits(ckpt, test_images)
    before = calibrated_probabilities(test_logits, 1.0)
    after = calibrated_probabilities(test_logits, temperature)
    report = {
        "temperature": temperature,
        "ece_bins": ECE_BINS,
        "test": classification_report(after, test_labels),
        "test_ece_before_scaling": expected_calibration_error(before, test_labels),
        "test_ece_after_scaling": expected_calibration_error(after, test_labels),
        "reliability_before": reliability_bins(before, test_labels),
        "reliability_after": reliability_bins(after, test_labels),
    }
    return temperature, report, after


def save_plots(report: dict, history: list[dict], out_dir: Path) -> list[Path]:
    """Confusion matrix, reliability diagram and training curves as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    matrix = np.array(report["test"]["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(6, 5))
    shown = np.where(np.eye(10, dtype=bool), 0, matrix)  # colour the errors; the diagonal would swamp them
    image = ax.imshow(shown, cmap="Reds")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color="black")
    ax.set(xlabel="predicted", ylabel="true", title=f"MNIST test confusion (accuracy {report['test']['accuracy']:.4f})")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    fig.colorbar(image, ax=ax, label="errors")
    paths.append(_save(fig, out_dir / "confusion_matrix.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    for key, label in (("reliability_before", "before scaling"), ("reliability_after", "after scaling")):
        bins = [b for b in report[key] if b["count"]]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label=label)
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect")
    ax.set(
        xlabel="confidence",
        ylabel="accuracy",
        title=f"Reliability (ECE {report['test_ece_before_scaling']:.4f} -> {report['test_ece_after_scaling']:.4f})",
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
    temperature, report, _ = calibration_report(
        ckpt, splits.val_images, splits.val_labels, splits.test_images, splits.test_labels
    )
    history = ckpt.info.get("history", [])
    val_best = max(history, key=lambda h: (h["val_accuracy"], -h["val_loss"])) if history else {}
    ckpt.temperature = temperature
    ckpt.metrics = {
        "test_accuracy": report["test"]["accuracy"],
        "test_ece_before_scaling": report["test_ece_before_scaling"],
        "test_ece_after_scaling": report["test_ece_after_scaling"],
        "val_accuracy": val_best.get("val_accuracy"),
        "selected_epoch": val_best.get("epoch"),
    }
    sha = save_checkpoint(ckpt, path)
    out_dir = out_dir or Path(path).parent
    document = {
        "checkpoint": Path(path).name,
        "checkpoint_sha256": sha,
        "command": ckpt.info.get("command"),
        "evaluation_command": "python -m ml.evaluate --checkpoint " + str(path),
        "data_checksums": ckpt.data_checksums,
        "parameters": ckpt.info.get("parameters"),
        "train_seconds": ckpt.info.get("train_seconds"),
        "train_config": ckpt.info.get("train_config"),
        "selection": "epoch with the best validation accuracy (5,000 digits held out of the training set)",
        **ckpt.metrics,
        "temperature": temperature,
        "report": report,
        "history": history,
    }
    (out_dir / "metrics.json").write_text(json.dumps(document, indent=1))
    save_plots(report, history, out_dir)
    from ml.export import export_onnx

    export_onnx(path)  # serving uses the ONNX graph; it records this checkpoint's sha256
    print(
        f"test accuracy {report['test']['accuracy']:.4f}; ECE {report['test_ece_before_scaling']:.4f} -> "
        f"{report['test_ece_after_scaling']:.4f} at T={temperature:.3f}; wrote {out_dir / 'metrics.json'}"
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
