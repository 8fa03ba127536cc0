"""Retraining from people's corrections: stable holdout split, fine-tuning with MNIST replay, evaluation, gate."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ml.calibrate import (
    ECE_BINS,
    calibrated_probabilities,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from ml.checkpoint import Checkpoint, CheckpointError, checkpoint_from_model, load_checkpoint, save_checkpoint
from ml.data import MnistSplits, MnistUnavailable, sha256_of
from ml.evaluate import classification_report, save_plots
from ml.predictor import Predictor
from ml.train import as_float_images, fine_tune

Progress = Callable[[float, str], None]  # (percent done in [0, 100], human-readable step)

# ---------------------------------------------------------------- the split

HOLDOUT_FRACTION = 0.20
# Part of every hashed key: changing it would move corrections between train and holdout, so it is fixed.
SPLIT_SALT = "digitvision-retrain-holdout-v1"

# ---------------------------------------------------------------- the gate

# The candidate may lose at most this many percentage points of MNIST test accuracy (0.10 pts = 10 of 10,000).
MAX_TEST_DROP_PTS = 0.10
# With no held-out correction there is nothing showing the candidate learnt anything: always reject.
MIN_HOLDOUT_SAMPLES = 1
# Below this many held-out corrections one sample is 5+ points, so the accuracy comparison is noise: the
# candidate must additionally get right every held-out sample the active model got right.
TINY_HOLDOUT_SAMPLES = 20

PROMOTE = "promote"
REJECT = "reject"

# ---------------------------------------------------------------- defaults

# MNIST training digits replayed per correction, so MNIST is not forgotten. Measured with `make bench-retrain`
# (200 corrections of one style): 10x replay at a peak lr of 1.5e-3 learnt the style far better (fresh digits of
# that style 48% -> 71%) than 5x at 1e-3 (50% -> 61%) for -0.05 pts on MNIST test; validation picked the first
# of 4 epochs there, so 2 epochs suffice and keep a run near 30 s.
DEFAULT_REPLAY_FACTOR = 10
DEFAULT_EPOCHS = 2
DEFAULT_LR = 1.5e-3
DEFAULT_SEED = 0
CANDIDATE_NAME = "candidate.pt"
EVAL_CHUNK = 1_000  # images per forward pass during evaluation: one progress report (and time check) each

# The share of the progress bar each phase gets; fine-tuning dominates the wall time.
_FINE_TUNE_SPAN = (2.0, 62.0)
_EVAL_SPAN = (62.0, 96.0)


# ---------------------------------------------------------------- errors


class RetrainError(RuntimeError):
    """A retraining could not run; the message says why in words fit for the staff page."""


class NoCorrectionsError(RetrainError):
    """There are no corrections, or none left to train on after the holdout split."""


class InvalidCorrectionsError(RetrainError):
    """Correction images, labels or keys have the wrong shape, range or length."""


class BaseCheckpointError(RetrainError):
    """The base (active) checkpoint is missing or unreadable."""


class TrainingDataError(RetrainError):
    """MNIST (needed for replay, validation and the test set) is not available."""


class RetrainTimeout(RetrainError):
    """The run went over its time limit; nothing was written."""


# ---------------------------------------------------------------- corrections


def split_key_is_holdout(key: str) -> bool:
    """True for the ~20% of keys held out for judging: sha256 of the salted key, the same in every process."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < HOLDOUT_FRACTION


@dataclass(frozen=True)
class CorrectionSet:
    """Corrected samples as the model saw them: float32 (N, 28, 28) in [0, 1], labels (N,), stable keys (N)."""

    images: np.ndarray
    labels: np.ndarray
    keys: list[str]

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        images = images.astype(np.float32, copy=False)
        if images.ndim == 4 and images.shape[1] == 1:  # (N, 1, 28, 28), as the model takes them
            images = images[:, 0]
        if images.size == 0:
            images = np.zeros((0, 28, 28), dtype=np.float32)
        labels = np.asarray(self.labels).astype(np.int64, copy=False).reshape(-1)
        keys = [str(k) for k in self.keys]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise InvalidCorrectionsError(f"correction images must be (N, 28, 28), got {np.shape(self.images)}")
        if not (len(images) == len(labels) == len(keys)):
            raise InvalidCorrectionsError(
                f"{len(images)} images, {len(labels)} labels and {len(keys)} keys: they must match one to one"
            )
        if len(images) and (not np.isfinite(images).all() or images.min() < 0.0 or images.max() > 1.0):
            raise InvalidCorrectionsError("correction images must be finite values in [0, 1]")
        if len(labels) and (labels.min() < 0 or labels.max() > 9):
            raise InvalidCorrectionsError("correction labels must be digits 0-9")
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "keys", keys)

    def __len__(self) -> int:
        return len(self.labels)

    def holdout_mask(self) -> np.ndarray:
        return np.array([split_key_is_holdout(k) for k in self.keys], dtype=bool)

    def subset(self, mask: np.ndarray) -> CorrectionSet:
        return CorrectionSet(
            images=self.images[mask],
            labels=self.labels[mask],
            keys=[k for k, m in zip(self.keys, mask, strict=True) if m],
        )

    def split(self) -> tuple[CorrectionSet, CorrectionSet]:
        """(train, holdout) by the stable hash of each key."""
        mask = self.holdout_mask()
        return self.subset(~mask), self.subset(mask)


# ---------------------------------------------------------------- the gate


def gate(
    *,
    candidate_test_correct: int,
    active_test_correct: int,
    test_total: int,
    candidate_holdout_correct: np.ndarray | list[bool],
    active_holdout_correct: np.ndarray | list[bool],
    total_corrections: int | None = None,
) -> tuple[str, str]:
    """Promote only if the candidate is no worse on MNIST and no worse on people's held-out corrections.

    Rules, in order:
    1. An empty holdout is rejected: there is nothing to judge the candidate on (at least
       MIN_HOLDOUT_SAMPLES held-out correction is needed; about 1 in 5 corrections is held out).
    2. MNIST test accuracy may drop by at most MAX_TEST_DROP_PTS percentage points.
    3. Holdout accuracy (per-sample masks, candidate vs active) must not fall.
    4. With fewer than TINY_HOLDOUT_SAMPLES held-out corrections, one sample swings the accuracy by 5+ points
       (noise), so the candidate must also keep every held-out sample the active model got right.
    Returns (verdict, reason): verdict is "promote" or "reject"; reason quotes the figures that decided it.
    """
    cand = np.asarray(candidate_holdout_correct, dtype=bool).reshape(-1)
    act = np.asarray(active_holdout_correct, dtype=bool).reshape(-1)
    if cand.shape != act.shape:
        raise ValueError(f"holdout masks differ in length: {cand.size} vs {act.size}")
    if test_total <= 0:
        raise ValueError("the MNIST test set is empty")
    n = int(cand.size)
    cand_pct = 100.0 * candidate_test_correct / test_total
    act_pct = 100.0 * active_test_correct / test_total
    change = cand_pct - act_pct
    test_text = f"MNIST test {act_pct:.2f}% -> {cand_pct:.2f}% ({change:+.2f} pts, limit -{MAX_TEST_DROP_PTS:.2f})"
    if n < MIN_HOLDOUT_SAMPLES:
        total = f" ({total_corrections} so far)" if total_corrections is not None else ""
        return REJECT, (
            f"no holdout corrections to judge on; need at least {MIN_HOLDOUT_SAMPLES} held-out correction "
            f"(about 1 in {round(1 / HOLDOUT_FRACTION)} corrections is held out{total}); {test_text}"
        )
    holdout_text = f"holdout {int(act.sum())}/{n} -> {int(cand.sum())}/{n}"
    summary = f"{test_text}; {holdout_text}"
    # Integer comparison (in units of 1/10,000 of the test set) so 0.10 pts exactly is inside the limit.
    allowed_drop = MAX_TEST_DROP_PTS / 100.0 * test_total
    if active_test_correct - candidate_test_correct > allowed_drop + 1e-9:
        return REJECT, f"MNIST test accuracy fell by more than {MAX_TEST_DROP_PTS:.2f} pts: {summary}"
    if int(cand.sum()) < int(act.sum()):
        return REJECT, f"holdout accuracy fell: {summary}"
    if n < TINY_HOLDOUT_SAMPLES:
        lost = int((act & ~cand).sum())
        if lost:
            return REJECT, (
                f"holdout of {n} (< {TINY_HOLDOUT_SAMPLES}) and the candidate gets {lost} held-out correction(s) "
                f"wrong that the active model got right: {summary}"
            )
        summary += f" (holdout < {TINY_HOLDOUT_SAMPLES}: no held-out sample lost)"
    return PROMOTE, summary


# ---------------------------------------------------------------- the result


@dataclass
class RetrainResult:
    verdict: str  # "promote" or "reject"
    reason: str
    counts: dict  # corrections, train, holdout, replay, validation, test
    candidate: dict  # figures of the fine-tuned model: test, holdout, validation, temperature
    active: dict  # the same figures for the base (active) model
    per_class: list[dict]  # one row per digit: test recall of both and its change, holdout counts of both
    timings: dict  # fine_tune_s, evaluate_s, total_s
    log: list[str]
    candidate_path: Path
    candidate_sha256: str
    onnx_path: Path
    plot_paths: list[Path]
    parent_sha256: str
    candidate_report: dict  # the metrics stored in the candidate checkpoint
    config: dict = field(default_factory=dict)
    gate_rules: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["candidate_path"] = str(self.candidate_path)
        data["onnx_path"] = str(self.onnx_path)
        data["plot_paths"] = [str(p) for p in self.plot_paths]
        return data


def gate_rules() -> dict:
    return {
        "max_test_drop_pts": MAX_TEST_DROP_PTS,
        "min_holdout_samples": MIN_HOLDOUT_SAMPLES,
        "tiny_holdout_samples": TINY_HOLDOUT_SAMPLES,
        "holdout_fraction": HOLDOUT_FRACTION,
    }


# ---------------------------------------------------------------- retraining


class _Clock:
    """Forwards progress in percent and enforces the time limit at every report."""

    def __init__(self, progress: Progress | None, time_limit_s: float | None, log: list[str]):
        self.started = time.perf_counter()
        self.progress = progress
        self.time_limit_s = time_limit_s
        self.log = log
        self.last_percent = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def report(self, percent: float, step: str) -> None:
        if self.time_limit_s is not None and self.elapsed() > self.time_limit_s:
            raise RetrainTimeout(
                f"retraining went over its time limit of {self.time_limit_s:g} s "
                f"({self.elapsed():.0f} s elapsed, during: {step}); nothing was written"
            )
        # Reports only move forward, so a progress bar never jumps back.
        self.last_percent = max(self.last_percent, min(100.0, float(percent)))
        if self.progress is not None:
            self.progress(self.last_percent, step)

    def note(self, line: str, percent: float | None = None) -> None:
        self.log.append(f"[{self.elapsed():6.1f} s] {line}")
        self.report(self.last_percent if percent is None else percent, line)


def _chunked_logits(
    predictor: Predictor, images: np.ndarray, clock: _Clock, span: tuple[float, float], what: str
) -> np.ndarray:
    """A predictor's calibrated logits in chunks, reporting progress (and checking the time limit) after each."""
    x = as_float_images(images).numpy()
    out = []
    lo, hi = span
    for start in range(0, len(x), EVAL_CHUNK):
        out.append(predictor.backend.calibrated_logits(np.ascontiguousarray(x[start : start + EVAL_CHUNK])))
        done = min(start + EVAL_CHUNK, len(x))
        clock.report(lo + (hi - lo) * done / max(len(x), 1), f"evaluating {what} ({done:,}/{len(x):,})")
    return np.concatenate(out) if out else np.zeros((0, 10), dtype=np.float32)


def _test_figures(probs: np.ndarray, labels: np.ndarray) -> dict:
    report = classification_report(probs, labels)
    correct = report["count"] - report["errors"]
    return {
        "count": report["count"],
        "correct": correct,
        "accuracy": report["accuracy"],
        "per_class_recall": report["recall"],
        "per_class_count": np.bincount(labels, minlength=10).tolist(),
        "ece": report["ece"],
    }


def _holdout_figures(correct: np.ndarray, labels: np.ndarray, keys: list[str]) -> dict:
    n = len(labels)
    return {
        "count": n,
        "correct": int(correct.sum()),
        "accuracy": float(correct.mean()) if n else None,
        "per_class_count": np.bincount(labels, minlength=10).tolist(),
        "per_class_correct": np.bincount(labels[correct], minlength=10).tolist(),
        "wrong_keys": [k for k, ok in zip(keys, correct, strict=True) if not ok],
    }


def _per_class(cand: dict, act: dict) -> list[dict]:
    rows = []
    for d in range(10):
        n_hold = act["holdout"]["per_class_count"][d]
        rows.append(
            {
                "digit": d,
                "test_count": act["test"]["per_class_count"][d],
                "test_recall_active": act["test"]["per_class_recall"][d],
                "test_recall_candidate": cand["test"]["per_class_recall"][d],
                "test_recall_change_pts": round(
                    100.0 * (cand["test"]["per_class_recall"][d] - act["test"]["per_class_recall"][d]), 3
                ),
                "holdout_count": n_hold,
                "holdout_correct_active": act["holdout"]["per_class_correct"][d],
                "holdout_correct_candidate": cand["holdout"]["per_class_correct"][d],
                "holdout_change": cand["holdout"]["per_class_correct"][d] - act["holdout"]["per_class_correct"][d],
            }
        )
    return rows


def _load_base(path: Path) -> tuple[Checkpoint, str]:
    path = Path(path)
    if not path.is_file():
        raise BaseCheckpointError(f"base checkpoint {path} does not exist")
    try:
        return load_checkpoint(path), sha256_of(path)
    except (CheckpointError, OSError) as exc:
        raise BaseCheckpointError(f"base checkpoint unusable: {exc}") from exc


def _load_splits(splits: MnistSplits | None) -> MnistSplits:
    if splits is not None:
        return splits
    from ml.data import load_mnist

    try:
        return load_mnist()
    except MnistUnavailable as exc:
        raise TrainingDataError(str(exc)) from exc


def retrain(
    *,
    base_checkpoint_path: Path,
    corrections: CorrectionSet,
    out_dir: Path,
    splits: MnistSplits | None = None,
    replay_factor: int = DEFAULT_REPLAY_FACTOR,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    seed: int = DEFAULT_SEED,
    threads: int = 1,
    progress: Progress | None = None,
    time_limit_s: float | None = None,
) -> RetrainResult:
    """Fine-tune the base model on the training corrections, judge it against the base, and write the candidate.

    The candidate checkpoint (``out_dir/candidate.pt``, temperature refitted on MNIST validation, metrics
    filled in, parent sha256 recorded), its ONNX export and the evaluation plots are written whatever the
    verdict; the caller promotes or deletes them. On any error nothing this call wrote is left behind.
    ``progress`` gets (percent, step) at least every few seconds; steps of the evaluation phase start with
    "evaluating". Raises a RetrainError subclass (RetrainTimeout past ``time_limit_s``).
    """
    out_dir = Path(out_dir)
    log: list[str] = []
    clock = _Clock(progress, time_limit_s, log)
    written: list[Path] = []
    created_dir = not out_dir.exists()
    try:
        return _retrain(
            base_checkpoint_path=Path(base_checkpoint_path),
            corrections=corrections,
            out_dir=out_dir,
            splits=splits,
            replay_factor=replay_factor,
            epochs=epochs,
            lr=lr,
            seed=seed,
            threads=threads,
            clock=clock,
            written=written,
        )
    except BaseException:
        # Whatever stopped the run (time limit, cancellation raised by the progress hook, a bug), a half-made
        # candidate must never be picked up later.
        for path in written:
            for leftover in (path, path.with_suffix(path.suffix + ".tmp")):
                leftover.unlink(missing_ok=True)
        if created_dir and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise


def _retrain(
    *,
    base_checkpoint_path: Path,
    corrections: CorrectionSet,
    out_dir: Path,
    splits: MnistSplits | None,
    replay_factor: int,
    epochs: int,
    lr: float,
    seed: int,
    threads: int,
    clock: _Clock,
    written: list[Path],
) -> RetrainResult:
    if not isinstance(corrections, CorrectionSet):
        raise InvalidCorrectionsError(f"corrections must be a CorrectionSet, got {type(corrections).__name__}")
    if len(corrections) == 0:
        raise NoCorrectionsError("no corrections to learn from: correct some wrong predictions first")
    if epochs < 1 or replay_factor < 0:
        raise RetrainError(f"epochs must be >= 1 and replay_factor >= 0 (got {epochs}, {replay_factor})")
    clock.note("loading the base model and MNIST", 0.0)
    base, parent_sha = _load_base(base_checkpoint_path)
    data = _load_splits(splits)
    train, holdout = corrections.split()
    if len(train) == 0:
        raise NoCorrectionsError(
            f"all {len(corrections)} corrections fell in the holdout (about 1 in {round(1 / HOLDOUT_FRACTION)} "
            "is held out for judging); nothing left to train on: add more corrections"
        )
    # Mirrors ml.train.fine_tune's choice, so the count reported is the count used.
    n_replay = min(len(data.train_images), max(replay_factor * len(train), 256))
    counts = {
        "corrections": len(corrections),
        "train": len(train),
        "holdout": len(holdout),
        "replay": n_replay,
        "validation": len(data.val_labels),
        "test": len(data.test_labels),
    }
    clock.note(
        f"{len(train)} training and {len(holdout)} held-out corrections; {n_replay} MNIST replay digits; "
        f"base {base_checkpoint_path.name} sha256 {parent_sha[:12]}",
        1.0,
    )

    # Fine-tuning. ml.train reports a fraction in [0, 1] every few batches and after each epoch; the time
    # limit is checked there too, so an overlong run stops between batches.
    lo, hi = _FINE_TUNE_SPAN
    fine_started = time.perf_counter()
    torch.manual_seed(seed)
    model, history = fine_tune(
        base,
        train.images,
        train.labels,
        data.train_images,
        data.train_labels,
        data.val_images,
        data.val_labels,
        replay_factor=replay_factor,
        epochs=epochs,
        lr=lr,
        seed=seed,
        threads=threads,
        progress=lambda fraction, step: clock.report(lo + (hi - lo) * fraction, f"fine-tuning: {step}"),
    )
    fine_tune_s = time.perf_counter() - fine_started
    best = max(history, key=lambda h: (h.val_accuracy, -h.val_loss))
    for h in history:
        clock.log.append(
            f"epoch {h.epoch}/{epochs}: train loss {h.train_loss:.4f}, validation accuracy {h.val_accuracy:.4f} "
            f"({h.seconds:.1f} s)"
        )
    clock.note(f"fine-tuned in {fine_tune_s:.1f} s; selected epoch {best.epoch} on MNIST validation", hi)

    # Evaluation: temperature on validation (never the test set), then both models on test and holdout.
    eval_started = time.perf_counter()
    e_lo, e_hi = _EVAL_SPAN
    step = (e_hi - e_lo) / 5
    candidate_path = out_dir / CANDIDATE_NAME
    onnx_path = candidate_path.with_suffix(".onnx")
    plot_names = ("confusion_matrix.png", "reliability.png", "training_curves.png")
    written.extend([candidate_path, onnx_path, *(out_dir / name for name in plot_names)])
    # Both models are judged through the serving path: the candidate as written to disk (float16 weights,
    # ONNX graph), the active model through its ONNX export when a matching one sits beside it. ONNX Runtime
    # also evaluates the 15,000 digits 2-3x faster than eager PyTorch here.
    from ml.export import export_onnx

    draft = checkpoint_from_model(model, normalisation=dict(base.normalisation), temperature=1.0)
    save_checkpoint(draft, candidate_path)
    export_onnx(candidate_path, onnx_path)
    draft_predictor = Predictor.from_checkpoint(candidate_path, threads=threads)  # T = 1: raw logits
    active_predictor = Predictor.from_checkpoint(base_checkpoint_path, threads=threads)
    clock.note(
        f"evaluating: candidate on {draft_predictor.backend.name}, active model on {active_predictor.backend.name}",
        e_lo,
    )
    val_logits = _chunked_logits(
        draft_predictor, data.val_images, clock, (e_lo, e_lo + step), "candidate on MNIST validation"
    )
    temperature = fit_temperature(val_logits, data.val_labels)
    val_accuracy = float((val_logits.argmax(1) == data.val_labels).mean())
    clock.note(f"evaluating: candidate temperature {temperature:.3f} fitted on MNIST validation")
    cand_test_logits = _chunked_logits(
        draft_predictor, data.test_images, clock, (e_lo + step, e_lo + 3 * step), "candidate on MNIST test"
    )
    act_test_logits = _chunked_logits(
        active_predictor, data.test_images, clock, (e_lo + 3 * step, e_lo + 5 * step), "active model on MNIST test"
    )
    cand_before = calibrated_probabilities(cand_test_logits, 1.0)
    cand_probs = calibrated_probabilities(cand_test_logits, temperature)
    act_probs = calibrated_probabilities(act_test_logits, 1.0)  # the active graph already divides by its T
    cand_hold_ok, act_hold_ok = (
        (p.probabilities(holdout.images).argmax(1) == holdout.labels) if len(holdout) else np.zeros(0, dtype=bool)
        for p in (draft_predictor, active_predictor)
    )
    candidate = {
        "test": _test_figures(cand_probs, data.test_labels),
        "holdout": _holdout_figures(cand_hold_ok, holdout.labels, holdout.keys),
        "val_accuracy": val_accuracy,
        "selected_epoch": best.epoch,
        "temperature": temperature,
    }
    active = {
        "test": _test_figures(act_probs, data.test_labels),
        "holdout": _holdout_figures(act_hold_ok, holdout.labels, holdout.keys),
        "val_accuracy": base.metrics.get("val_accuracy"),
        "temperature": float(base.temperature),
    }
    verdict, reason = gate(
        candidate_test_correct=candidate["test"]["correct"],
        active_test_correct=active["test"]["correct"],
        test_total=len(data.test_labels),
        candidate_holdout_correct=cand_hold_ok,
        active_holdout_correct=act_hold_ok,
        total_corrections=len(corrections),
    )
    clock.note(f"evaluating: verdict {verdict}: {reason}", e_hi)

    # The candidate, written whatever the verdict: the caller promotes it or deletes it.
    report = {
        "temperature": temperature,
        "ece_bins": ECE_BINS,
        "test": classification_report(cand_probs, data.test_labels),
        "test_ece_before_scaling": expected_calibration_error(cand_before, data.test_labels),
        "test_ece_after_scaling": expected_calibration_error(cand_probs, data.test_labels),
        "reliability_before": reliability_bins(cand_before, data.test_labels),
        "reliability_after": reliability_bins(cand_probs, data.test_labels),
    }
    candidate["test_ece_before_scaling"] = report["test_ece_before_scaling"]
    metrics = {
        "test_accuracy": candidate["test"]["accuracy"],
        "test_ece_before_scaling": report["test_ece_before_scaling"],
        "test_ece_after_scaling": report["test_ece_after_scaling"],
        "val_accuracy": val_accuracy,
        "selected_epoch": best.epoch,
        "holdout_accuracy": candidate["holdout"]["accuracy"],
        "holdout_correct": candidate["holdout"]["correct"],
        "holdout_count": len(holdout),
        "active_test_accuracy": active["test"]["accuracy"],
        "active_holdout_correct": active["holdout"]["correct"],
        "verdict": verdict,
    }
    config = {"replay_factor": replay_factor, "epochs": epochs, "lr": lr, "seed": seed, "threads": threads}
    ckpt = checkpoint_from_model(
        model,
        normalisation=dict(base.normalisation),
        temperature=temperature,
        metrics=metrics,
        data_checksums=dict(data.checksums),
        info={
            "command": "ml.retrain.retrain",
            "parent_sha256": parent_sha,
            "parent_checkpoint": base_checkpoint_path.name,
            "retrain_config": config,
            "counts": counts,
            "history": [asdict(h) for h in history],
            "train_seconds": round(fine_tune_s, 1),
            "selection": "epoch with the best MNIST validation accuracy",
            "corrections_keys_sha256": hashlib.sha256("\n".join(sorted(train.keys)).encode()).hexdigest(),
        },
    )
    clock.report(e_hi + 1, "evaluating: writing the candidate checkpoint")
    candidate_sha = save_checkpoint(ckpt, candidate_path)
    clock.report(e_hi + 2, "evaluating: exporting the candidate to ONNX")
    export_onnx(candidate_path, onnx_path)  # again: the graph carries the final temperature and sha256
    clock.report(e_hi + 3, "evaluating: plotting")
    plot_paths = save_plots(report, [asdict(h) for h in history], out_dir)
    evaluate_s = time.perf_counter() - eval_started
    total_s = clock.elapsed()
    clock.note(f"wrote {candidate_path.name} sha256 {candidate_sha[:12]}, its ONNX export and {len(plot_paths)} plots")
    clock.note(f"done in {total_s:.1f} s: {verdict}", 100.0)
    act_cmp = {k: active[k] for k in ("test", "holdout")}
    return RetrainResult(
        verdict=verdict,
        reason=reason,
        counts=counts,
        candidate=candidate,
        active=active,
        per_class=_per_class(candidate, act_cmp),
        timings={
            "fine_tune_s": round(fine_tune_s, 2),
            "evaluate_s": round(evaluate_s, 2),
            "total_s": round(total_s, 2),
        },
        log=list(clock.log),
        candidate_path=candidate_path,
        candidate_sha256=candidate_sha,
        onnx_path=onnx_path,
        plot_paths=list(plot_paths),
        parent_sha256=parent_sha,
        candidate_report=metrics,
        config=config,
        gate_rules=gate_rules(),
    )
