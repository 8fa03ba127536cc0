"""One retraining, top to bottom: load, split, fine-tune, compare, gate, write the candidate (or nothing)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ml.checkpoint import Checkpoint, CheckpointError, checkpoint_from_model, load_checkpoint, save_checkpoint
from ml.data import MnistSplits, MnistUnavailable, load_mnist, sha256_of
from ml.evaluate import save_plots
from ml.export import export_onnx
from ml.predictor import Predictor
from ml.refusal import NOT_A_DIGIT_LABEL
from ml.report import ModelMetrics, RetrainCounts, RetrainVerdict, correction_outcomes, retrain_verdict
from ml.retrain.compare import compare
from ml.retrain.config import RetrainConfig
from ml.retrain.errors import (
    BaseCheckpointError,
    InvalidCorrectionsError,
    RetrainError,
    RetrainTimeout,
    TrainingDataError,
)
from ml.retrain.fine_tune import epoch_choice, fine_tune_on_corrections
from ml.retrain.gate import gate, gate_rules
from ml.retrain.split import CorrectionSet, check_split
from ml.tensors import checkpoint_logits

Progress = Callable[[float, str], None]  # (percent done in [0, 100], human-readable step)

CANDIDATE_NAME = "candidate.pt"
PLOT_NAMES = ("confusion_matrix.png", "reliability.png", "training_curves.png")
# The share of the progress bar each phase gets; fine-tuning dominates the wall time.
_FINE_TUNE_SPAN = (2.0, 62.0)
_EVAL_SPAN = (62.0, 96.0)


@dataclass(frozen=True)
class RetrainResult:
    verdict: RetrainVerdict  # promote or reject, why, both models' figures, per digit, counts
    metrics: ModelMetrics  # what the candidate checkpoint (and its ModelVersion, once promoted) records
    timings: dict  # fine_tune_s, evaluate_s, total_s
    log: list[str]
    candidate_path: Path
    candidate_sha256: str
    onnx_path: Path
    plot_paths: list[Path]
    parent_sha256: str
    config: RetrainConfig = field(default_factory=RetrainConfig)

    @property
    def reason(self) -> str:
        return self.verdict.reason

    def to_dict(self) -> dict:
        return {
            **self.verdict.to_dict(),
            "metrics": self.metrics.to_dict(),
            "timings": dict(self.timings),
            "log": list(self.log),
            "candidate_path": str(self.candidate_path),
            "candidate_sha256": self.candidate_sha256,
            "onnx_path": str(self.onnx_path),
            "plot_paths": [str(p) for p in self.plot_paths],
            "parent_sha256": self.parent_sha256,
            "config": self.config.to_dict(),
            "gate_rules": gate_rules(self.config.gate),
        }


class _Clock:
    """Forwards progress in percent and enforces the time limit at every report."""

    def __init__(self, progress: Progress | None, time_limit_s: float | None):
        self.started = time.perf_counter()
        self.progress = progress
        self.time_limit_s = time_limit_s
        self.log: list[str] = []
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


def _load_base(path: Path) -> tuple[Checkpoint, str]:
    if not path.is_file():
        raise BaseCheckpointError(f"base checkpoint {path} does not exist")
    try:
        return load_checkpoint(path), sha256_of(path)
    except (CheckpointError, OSError) as exc:
        raise BaseCheckpointError(f"base checkpoint unusable: {exc}") from exc


def _base_val_accuracy(base: Checkpoint, data: MnistSplits) -> float:
    """The base model's MNIST validation accuracy: from its metrics, else measured (an older checkpoint)."""
    recorded = ModelMetrics.from_dict(base.metrics).val_accuracy
    if recorded is not None:
        return float(recorded)
    return float((checkpoint_logits(base, data.val_images).argmax(1) == data.val_labels).mean())


def _load_splits(splits: MnistSplits | None) -> MnistSplits:
    if splits is not None:
        return splits
    try:
        return load_mnist()
    except MnistUnavailable as exc:
        raise TrainingDataError(str(exc)) from exc


def retrain(
    *,
    base_checkpoint_path: Path,
    corrections: CorrectionSet,
    out_dir: Path,
    config: RetrainConfig | None = None,
    splits: MnistSplits | None = None,
    progress: Progress | None = None,
) -> RetrainResult:
    """Fine-tune the base model on the training corrections, judge it against the base, and write the candidate.

    The candidate checkpoint (``out_dir/candidate.pt``, temperature refitted on MNIST validation, metrics
    filled in, parent sha256 recorded), its ONNX export and the evaluation plots are written whatever the
    verdict; the caller promotes or deletes them. On any error nothing this call wrote is left behind.
    ``progress`` gets (percent, step) at least every few seconds; steps of the evaluation phase start with
    "evaluating". Raises a RetrainError subclass (RetrainTimeout past ``config.time_limit_s``).
    """
    config = config or RetrainConfig()
    out_dir = Path(out_dir)
    clock = _Clock(progress, config.time_limit_s)
    written: list[Path] = []
    created_dir = not out_dir.exists()
    try:
        return _retrain(Path(base_checkpoint_path), corrections, out_dir, config, splits, clock, written)
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
    base_path: Path,
    corrections: CorrectionSet,
    out_dir: Path,
    config: RetrainConfig,
    splits: MnistSplits | None,
    clock: _Clock,
    written: list[Path],
) -> RetrainResult:
    if not isinstance(corrections, CorrectionSet):
        raise InvalidCorrectionsError(f"corrections must be a CorrectionSet, got {type(corrections).__name__}")
    check_split(corrections.keys)  # no corrections, nothing to train on, or nothing to judge on
    if config.epochs < 1 or config.replay_factor < 0:
        raise RetrainError(f"epochs must be >= 1 and replay_factor >= 0 (got {config.epochs}, {config.replay_factor})")
    clock.note("loading the base model and MNIST", 0.0)
    base, parent_sha = _load_base(base_path)
    data = _load_splits(splits)
    train_all, holdout = corrections.split()
    train, selection = train_all.selection_split(config.selection_fraction)
    counts = RetrainCounts(
        corrections=len(corrections),
        train=len(train),
        selection=len(selection),
        holdout=len(holdout),
        replay=config.replay_count(train=len(train), available=len(data.train_images)),
        validation=len(data.val_labels),
        test=len(data.test_labels),
    )
    clock.note(
        f"{counts.train} training, {counts.selection} epoch-choosing and {counts.holdout} held-out corrections; "
        f"{counts.replay} MNIST replay digits; base {base_path.name} sha256 {parent_sha[:12]}",
        1.0,
    )

    # Fine-tuning. ml.train reports a fraction in [0, 1] every few batches and after each epoch; the time
    # limit is checked there too, so an overlong run stops between batches.
    lo, hi = _FINE_TUNE_SPAN
    fine_started = time.perf_counter()
    # A model that refuses keeps refusing; one that never did learns to from "not a digit" corrections.
    refuses = base.rejection_threshold is not None or bool((train.labels == NOT_A_DIGIT_LABEL).any())
    choose = epoch_choice(base_val_accuracy=_base_val_accuracy(base, data), max_val_drop_pts=config.max_val_drop_pts)
    model, history = fine_tune_on_corrections(
        base,
        train,
        data,
        config,
        replay=counts.replay,
        refuses=refuses,
        selection=selection,
        select_key=choose,
        progress=lambda fraction, step: clock.report(lo + (hi - lo) * fraction, f"fine-tuning: {step}"),
    )
    fine_tune_s = time.perf_counter() - fine_started
    best = max(history, key=choose)
    for h in history:
        on_slice = "" if h.selection_accuracy is None else f", epoch-choosing corrections {h.selection_accuracy:.3f}"
        clock.log.append(
            f"epoch {h.epoch}/{config.epochs}: train loss {h.train_loss:.4f}, "
            f"validation accuracy {h.val_accuracy:.4f}{on_slice} ({h.seconds:.1f} s)"
        )
    clock.note(f"fine-tuned in {fine_tune_s:.1f} s; selected epoch {best.epoch}", hi)

    # Both models are judged through the serving path: the candidate as written to disk (float16 weights,
    # ONNX graph), the active model through its ONNX export when a matching one sits beside it. ONNX Runtime
    # also evaluates the 15,000 digits 2-3x faster than eager PyTorch here.
    eval_started = time.perf_counter()
    e_lo, e_hi = _EVAL_SPAN
    candidate_path = out_dir / CANDIDATE_NAME
    onnx_path = candidate_path.with_suffix(".onnx")
    written.extend([candidate_path, onnx_path, *(out_dir / name for name in PLOT_NAMES)])
    draft = checkpoint_from_model(model, normalisation=dict(base.normalisation), temperature=1.0)
    save_checkpoint(draft, candidate_path)
    export_onnx(candidate_path, onnx_path)
    draft_predictor = Predictor.from_checkpoint(candidate_path, threads=config.threads)  # T = 1: raw logits
    active_predictor = Predictor.from_checkpoint(base_path, threads=config.threads)
    clock.note(
        f"evaluating: candidate on {draft_predictor.backend.name}, active model on {active_predictor.backend.name}",
        e_lo,
    )
    parts = [("train", train), ("selection", selection), ("holdout", holdout)]
    everything = CorrectionSet(
        images=np.concatenate([c.images for _, c in parts]),
        labels=np.concatenate([c.labels for _, c in parts]),
        keys=[k for _, c in parts for k in c.keys],
    )
    cmp = compare(
        candidate=draft_predictor,
        active=active_predictor,
        data=data,
        holdout=holdout,
        corrections=everything,
        report=clock.report,
        span=(e_lo, e_hi),
        refuses=refuses,
    )
    temperature, threshold = cmp.candidate.temperature, cmp.candidate_threshold
    chosen = "none" if threshold is None else f"{threshold:.4f}"
    clock.note(
        f"evaluating: candidate temperature {temperature:.3f}, rejection threshold {chosen}, on MNIST validation"
    )
    decision, reason = gate(
        candidate_test_correct=cmp.candidate_test.correct,
        active_test_correct=cmp.active_test.correct,
        test_total=counts.test,
        candidate_holdout_correct=[k not in set(cmp.candidate_holdout.wrong_keys) for k in holdout.keys],
        active_holdout_correct=[k not in set(cmp.active_holdout.wrong_keys) for k in holdout.keys],
        total_corrections=counts.corrections,
        candidate_test_refused=cmp.candidate_test.refused,
        active_test_refused=cmp.active_test.refused,
        test_refused_by_candidate_only=cmp.test_refused_by_candidate_only,
        test_refused_by_active_only=cmp.test_refused_by_active_only,
        candidate_holdout_refused=cmp.candidate_holdout.refused,
        active_holdout_refused=cmp.active_holdout.refused,
        rules=config.gate,
    )
    verdict = retrain_verdict(
        verdict=decision,
        reason=reason,
        candidate_test=cmp.candidate_test,
        candidate_holdout=cmp.candidate_holdout,
        active_test=cmp.active_test,
        active_holdout=cmp.active_holdout,
        candidate_val_accuracy=cmp.candidate_val_accuracy,
        active_val_accuracy=ModelMetrics.from_dict(base.metrics).val_accuracy,
        candidate_temperature=temperature,
        active_temperature=float(base.temperature),
        candidate_threshold=threshold,
        active_threshold=base.rejection_threshold,
        counts=counts,
        outcomes=correction_outcomes(
            keys=everything.keys,
            labels=everything.labels,
            parts=[name for name, c in parts for _ in c.keys],
            active=cmp.active_answers,
            candidate=cmp.candidate_answers,
        ),
    )
    clock.note(f"evaluating: verdict {decision}: {reason}", e_hi)

    # The candidate, written whatever the verdict: the caller promotes it or deletes it.
    metrics = ModelMetrics(
        test_accuracy=cmp.candidate_test.accuracy,
        test_refusal_rate=cmp.candidate_test.refusal_rate,
        rejection_threshold=threshold,
        test_ece_before_scaling=cmp.candidate.ece_before_scaling,
        test_ece_after_scaling=cmp.candidate.ece_after_scaling,
        val_accuracy=cmp.candidate_val_accuracy,
        selected_epoch=best.epoch,
        temperature=temperature,
        holdout_accuracy=cmp.candidate_holdout.accuracy,
        holdout_correct=cmp.candidate_holdout.correct,
        holdout_count=counts.holdout,
        active_test_accuracy=cmp.active_test.accuracy,
        active_holdout_correct=cmp.active_holdout.correct,
        verdict=decision,
    )
    ckpt = checkpoint_from_model(
        model,
        normalisation=dict(base.normalisation),
        temperature=temperature,
        rejection_threshold=threshold,
        metrics=metrics.to_dict(),
        data_checksums=dict(data.checksums),
        info={
            "command": "ml.retrain.retrain",
            "parent_sha256": parent_sha,
            "parent_checkpoint": base_path.name,
            "retrain_config": config.to_dict(),
            "counts": counts.to_dict(),
            "history": [asdict(h) for h in history],
            "train_seconds": round(fine_tune_s, 1),
            "selection": "epoch: ml.retrain.fine_tune.epoch_choice; threshold: ml.refusal.choose_threshold",
            "corrections_keys_sha256": hashlib.sha256("\n".join(sorted(train.keys)).encode()).hexdigest(),
        },
    )
    clock.report(e_hi + 1, "evaluating: writing the candidate checkpoint")
    candidate_sha = save_checkpoint(ckpt, candidate_path)
    clock.report(e_hi + 2, "evaluating: exporting the candidate to ONNX")
    export_onnx(candidate_path, onnx_path)  # again: the graph carries the final temperature and sha256
    clock.report(e_hi + 3, "evaluating: plotting")
    plot_paths = save_plots(cmp.candidate, [asdict(h) for h in history], out_dir)
    evaluate_s = time.perf_counter() - eval_started
    total_s = clock.elapsed()
    clock.note(f"wrote {candidate_path.name} sha256 {candidate_sha[:12]}, its ONNX export and {len(plot_paths)} plots")
    clock.note(f"done in {total_s:.1f} s: {decision}", 100.0)
    return RetrainResult(
        verdict=verdict,
        metrics=metrics,
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
        config=config,
    )
