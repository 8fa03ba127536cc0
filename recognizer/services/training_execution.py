"""Writes of training runs on the worker: claim the run, gather corrections, retrain, conclude, promote."""

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ml import data as mnist
from ml.refusal import NOT_A_DIGIT_LABEL
from ml.retrain import CorrectionSet, RetrainConfig, RetrainError, RetrainTimeout
from recognizer.exceptions import ModelWeightsError, NoActiveModelVersionError
from recognizer.models import ModelVersionEvent, TrainingRun
from recognizer.selectors import (
    digit_sample_corrections_for_training,
    input_pixels,
    model_version_active,
    submission_corrections_for_training,
)
from recognizer.services.model_versions import model_version_activate, model_version_register
from recognizer.services.training_runs import (
    MAX_LOG_LINES,
    training_correction_key,
    training_digit_sample_key,
    training_run_fail,
    training_run_finish,
    training_run_log,
    training_run_remove_artifacts,
)
from recognizer.serving import model_version_verified_path

logger = logging.getLogger(__name__)
State = TrainingRun.State

# Progress is written at most this often (seconds): often enough for a live bar, cheap for the database.
PROGRESS_WRITE_INTERVAL = 1.0


class RunCancelled(Exception):
    """Raised inside a running retraining when staff cancelled it."""


@dataclass
class _Progress:
    """Writes the ml code's progress to the run row, at most once a PROGRESS_WRITE_INTERVAL."""

    run_id: int
    last_write: float = 0.0
    evaluating: bool = False

    def __call__(self, percent: float, step: str) -> None:
        now = time.monotonic()
        entering_evaluation = not self.evaluating and step.lower().startswith("evaluat")
        if not entering_evaluation and now - self.last_write < PROGRESS_WRITE_INTERVAL and percent < 100:
            return
        self.last_write = now
        fields = {"progress": max(0.0, min(100.0, percent)), "step": step[:200], "heartbeat_at": timezone.now()}
        if entering_evaluation:
            self.evaluating = True
            fields["state"] = State.EVALUATING
        # Only while still in progress: a cancelled (or failed-as-stale) run stops here.
        updated = TrainingRun.objects.filter(pk=self.run_id, in_flight=True).update(**fields)
        if not updated:
            raise RunCancelled()


def _claim(run_id: int) -> TrainingRun | None:
    """Take a queued run for this worker; a run seen again after its worker died is failed instead."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or not run.is_in_progress:
            return None  # finished, cancelled or failed meanwhile: nothing to do
        if run.state != State.QUEUED:
            # Redelivered (acks_late) after the worker running it was killed: never resume a half-done run.
            training_run_fail(run=run, reason="the worker running it stopped before it finished; start a new run")
            return None
        run.state, run.started_at, run.heartbeat_at = State.RUNNING, timezone.now(), timezone.now()
        run.step = "gathering corrections"
        run.save(update_fields=["state", "started_at", "heartbeat_at", "step"])
        return run


def _ml_retrain():
    # Imported when a run executes, on a worker: the pipeline pulls in torch (~500 MB), which web processes
    # never need. Tests replace this seam with a stand-in.
    from ml.retrain import pipeline

    return pipeline


def training_corrections():
    """People's corrected samples as the model saw them (the stored 28x28 inputs), as an ml CorrectionSet: a
    correction to a digit is labelled with it, one to "not a digit" (a confirmed refusal too) with
    NOT_A_DIGIT_LABEL; then the corrected digits of numbers, each labelled with its true digit."""
    images, labels, keys, skipped = [], [], [], []

    def add(file, label: int, key: str, what: str) -> None:
        try:
            images.append(input_pixels(file))
        except (OSError, ValueError):
            skipped.append(f"{what}: input image unreadable, skipped")
            return
        labels.append(label)
        keys.append(key)

    for submission in submission_corrections_for_training().iterator():
        label = NOT_A_DIGIT_LABEL if submission.corrected_not_a_digit else submission.corrected_digit
        add(submission.input_image, label, training_correction_key(submission.pk), f"submission {submission.pk}")
    for sample in digit_sample_corrections_for_training().iterator():
        key = training_digit_sample_key(submission_id=sample.submission_id, position=sample.position)
        what = f"digit {sample.position} of number {sample.submission_id}"
        add(sample.input_image, sample.corrected_digit, key, what)
    corrections = CorrectionSet(
        images=np.stack(images) if images else np.zeros((0, 28, 28), np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        keys=keys,
    )
    return corrections, skipped


def _ensure_mnist(run: TrainingRun) -> None:
    """MNIST for replay, validation and test: fetched (and verified) here when this machine lacks it."""
    if not mnist.missing_files(mnist.DEFAULT_ROOT):
        return
    training_run_log(run=run, text="MNIST is missing on this worker; fetching it")
    mnist.fetch_mnist(mnist.DEFAULT_ROOT, log=lambda line: training_run_log(run=run, text=line))


def retrain_config() -> RetrainConfig:
    """The retraining settings: defaults, DIGITVISION_RETRAIN_OPTIONS over them, the run's time limit."""
    return RetrainConfig.from_dict(
        {**settings.DIGITVISION_RETRAIN_OPTIONS, "time_limit_s": settings.DIGITVISION_TRAINING_TIME_LIMIT}
    )


def training_run_execute(*, run_id: int) -> TrainingRun | None:
    """The whole retraining for one run (the Celery task calls this; `retrain --sync` too)."""
    run = _claim(run_id)
    if run is None:
        return TrainingRun.objects.filter(pk=run_id).first()
    pipeline = _ml_retrain()
    try:
        base = model_version_active()
        base_path = model_version_verified_path(base)
        run.base_version = base
        run.artifacts_dir = f"models/runs/{run.pk}"
        run.save(update_fields=["base_version", "artifacts_dir"])
        _ensure_mnist(run)
        corrections, skipped = training_corrections()
        for line in skipped:
            training_run_log(run=run, text=line)
        training_run_log(run=run, text=f"fine-tuning {base.name} on {len(corrections.labels)} corrections")
        result = pipeline.retrain(
            base_checkpoint_path=base_path,
            corrections=corrections,
            out_dir=Path(settings.MEDIA_ROOT) / run.artifacts_dir,
            config=retrain_config(),
            progress=_Progress(run.pk),
        )
    except RunCancelled:
        run.refresh_from_db()
        training_run_remove_artifacts(run=run, keep_plots=False)
        return run
    except RetrainTimeout:
        limit = settings.DIGITVISION_TRAINING_TIME_LIMIT
        return training_run_fail(run=run, reason=f"over its time limit of {limit} s; nothing was promoted")
    except mnist.MnistUnavailable as exc:
        return training_run_fail(run=run, reason=f"MNIST is missing on the worker and could not be fetched: {exc}")
    except (RetrainError, ModelWeightsError, NoActiveModelVersionError) as exc:
        return training_run_fail(run=run, reason=str(exc))
    except Exception as exc:
        logger.exception("training run %s failed", run.pk)
        return training_run_fail(run=run, reason=f"unexpected error: {type(exc).__name__}: {exc}")
    return _conclude(run, result)


def _media_relative(path: Path) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))


def _conclude(run: TrainingRun, result) -> TrainingRun:
    """Record the figures (ml.report's vocabulary), then promote (atomically) or reject."""
    run.refresh_from_db()
    verdict = result.verdict
    run.train_samples = verdict.counts.train
    run.selection_samples = verdict.counts.selection
    run.holdout_samples = verdict.counts.holdout
    run.replay_samples = verdict.counts.replay
    run.candidate_metrics = verdict.candidate.to_dict()
    run.active_metrics = verdict.active.to_dict()
    run.per_class = [row.to_dict() for row in verdict.per_class]
    run.correction_outcomes = [o.to_dict() for o in verdict.outcomes]
    run.plots = [_media_relative(p) for p in result.plot_paths]
    run.log = [*run.log, *(f"{timezone.now():%H:%M:%S} {line}" for line in result.log)][-MAX_LOG_LINES:]
    figure_fields = [
        "train_samples",
        "selection_samples",
        "holdout_samples",
        "replay_samples",
        "candidate_metrics",
        "active_metrics",
        "per_class",
        "correction_outcomes",
        "plots",
        "log",
    ]
    run.save(update_fields=figure_fields)  # kept whatever the verdict
    if not run.is_in_progress:  # cancelled during the last step
        training_run_remove_artifacts(run=run, keep_plots=False)
        return run
    if not verdict.promote:
        training_run_remove_artifacts(run=run, keep_plots=True)
        return training_run_finish(
            run=run, state=State.REJECTED, reason=verdict.reason, progress=100.0, step="rejected"
        )
    return _promote(run, result)


def _promote(run: TrainingRun, result) -> TrainingRun:
    """Register and activate the candidate and close the run, all in one transaction: never half-promoted."""
    try:
        with transaction.atomic():
            locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
            if not locked.is_in_progress:
                return locked
            active = model_version_active()
            if active.pk != run.base_version_id:
                training_run_remove_artifacts(run=run, keep_plots=True)
                reason = f"the active model changed to {active.name} during the run; nothing was promoted"
                return training_run_finish(
                    run=run, state=State.REJECTED, reason=reason, progress=100.0, step="rejected"
                )
            version = model_version_register(
                path=result.candidate_path,
                parent=run.base_version,
                created_by=run.requested_by,
                metrics=dataclasses.replace(result.metrics, training_run=run.pk).to_dict(),
            )
            model_version_activate(
                version=version,
                by=run.requested_by,
                action=ModelVersionEvent.Action.PROMOTED,
                reason=result.reason,
                training_run=run,
            )
            return training_run_finish(
                run=run,
                state=State.PROMOTED,
                reason=result.reason,
                candidate_version=version,
                progress=100.0,
                step="promoted",
            )
    except (ModelWeightsError, FileNotFoundError, ValueError) as exc:
        run.refresh_from_db()
        return training_run_fail(run=run, reason=f"the candidate could not be promoted: {exc}")
