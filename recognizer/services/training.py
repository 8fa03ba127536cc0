"""Writes of training runs: start one (one at a time), run it on a worker, promote or reject, fail cleanly."""

import io
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from recognizer.exceptions import (
    ModelWeightsError,
    NoActiveModelVersionError,
    TrainingError,
    TrainingInProgressError,
    TrainingQueueUnavailableError,
)
from recognizer.models import ModelVersionEvent, TrainingRun
from recognizer.selectors import model_version_active, submission_corrections_for_training, training_run_current
from recognizer.services.model_versions import model_version_activate, model_version_register
from recognizer.serving import model_version_verified_path

logger = logging.getLogger(__name__)
State = TrainingRun.State

# Progress is written at most this often (seconds): often enough for a live bar, cheap for the database.
PROGRESS_WRITE_INTERVAL = 1.0
MAX_LOG_LINES = 500


class RunCancelled(Exception):
    """Raised inside a running retraining when staff cancelled it."""


# --------------------------------------------------------------------------- small writes


def _now_line(text: str) -> str:
    return f"{timezone.now():%H:%M:%S} {text}"


def training_run_log(*, run: TrainingRun, text: str) -> None:
    """Append a timestamped line to the run's log (kept to the last MAX_LOG_LINES)."""
    run.log = [*run.log, _now_line(text)][-MAX_LOG_LINES:]
    TrainingRun.objects.filter(pk=run.pk).update(log=run.log)


def _finish(run: TrainingRun, state: str, reason: str, **fields) -> TrainingRun:
    """Move a run to a final state; it stops counting as in flight, so the next run can start."""
    run.state, run.reason, run.in_flight, run.finished_at = state, reason, None, timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    run.log = [*run.log, _now_line(f"{state}: {reason}")][-MAX_LOG_LINES:]
    run.save()
    return run


def training_run_fail(*, run: TrainingRun, reason: str) -> TrainingRun:
    """Mark a run failed (no model changes) and remove its half-made files."""
    _remove_artifacts(run, keep_plots=False)
    return _finish(run, State.FAILED, reason)


def _remove_artifacts(run: TrainingRun, *, keep_plots: bool) -> None:
    if not run.artifacts_dir:
        return
    folder = Path(settings.MEDIA_ROOT) / run.artifacts_dir
    if keep_plots:
        for path in folder.glob("*.pt"):
            path.unlink(missing_ok=True)
        for path in folder.glob("*.onnx"):
            path.unlink(missing_ok=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        run.plots = []


# --------------------------------------------------------------------------- start, cancel, stale runs


def training_run_fail_stale() -> list[TrainingRun]:
    """Fail runs nobody is working on: queued with no worker taking them, or silent since a worker died.

    A running run writes progress every few seconds; one silent for DIGITVISION_TRAINING_STALE_SECONDS lost
    its worker (killed, out of memory, machine gone). Called before a run starts and when runs are listed.
    """
    now = timezone.now()
    failed = []
    queued_limit = now - timedelta(seconds=settings.DIGITVISION_TRAINING_QUEUE_TIMEOUT)
    silent_limit = now - timedelta(seconds=settings.DIGITVISION_TRAINING_STALE_SECONDS)
    for run in TrainingRun.objects.filter(in_flight=True):
        if run.state == State.QUEUED and run.created_at < queued_limit:
            reason = (
                f"no worker picked the run up within {settings.DIGITVISION_TRAINING_QUEUE_TIMEOUT} s: "
                "is a Celery worker running?"
            )
        elif run.state != State.QUEUED and (run.heartbeat_at or run.started_at or now) < silent_limit:
            reason = (
                f"the worker stopped reporting progress for {settings.DIGITVISION_TRAINING_STALE_SECONDS} s "
                "(killed or lost); the active model was not changed"
            )
        else:
            continue
        failed.append(training_run_fail(run=run, reason=reason))
    return failed


def training_run_start(*, requested_by, enqueue: bool = True) -> TrainingRun:
    """Staff ask for a retraining: a queued run, handed to a worker once it is committed.

    One run at a time: while one is queued, running or evaluating, TrainingInProgressError names it. When the
    broker cannot be reached the run is failed at once (never left queued) and TrainingQueueUnavailableError
    says so. ``enqueue=False`` leaves the run queued for ``training_run_execute`` in this process.
    """
    if requested_by is not None and not requested_by.is_staff:
        raise PermissionDenied("only staff can start a retraining")
    training_run_fail_stale()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(requested_by=requested_by, step="waiting for a worker")
            training_run_log(run=run, text=f"queued by {requested_by or 'the command line'}")
    except IntegrityError:
        current = training_run_current()
        if current is None:  # finished in between: the caller may simply ask again
            raise TrainingError("another training run was just finishing; try again") from None
        raise TrainingInProgressError(current) from None
    if enqueue:
        transaction.on_commit(partial(_enqueue, run.pk))
        run.refresh_from_db()
        if run.state == State.FAILED:  # on_commit ran at once (no outer transaction) and the broker was down
            raise TrainingQueueUnavailableError(run)
    return run


def _enqueue(run_id: int) -> None:
    from recognizer.tasks import retrain_task  # tasks import services: imported late

    try:
        result = retrain_task.apply_async(
            args=[run_id],
            queue=settings.DIGITVISION_TRAINING_QUEUE,
            retry_policy=settings.DIGITVISION_TASK_PUBLISH_RETRY,
        )
    except Exception as exc:  # kombu raises several types for a broker that is down or unknown
        logger.exception("could not queue training run %s", run_id)
        run = TrainingRun.objects.get(pk=run_id)
        training_run_fail(run=run, reason=f"the task queue ({_broker_name()}) cannot be reached: {exc}")
        return
    TrainingRun.objects.filter(pk=run_id).update(task_id=result.id or "")


def _broker_name() -> str:
    return settings.CELERY_BROKER_URL.split("://", 1)[0] + "://"


def training_run_cancel(*, run: TrainingRun, by) -> TrainingRun:
    """Staff stop a run; a running one stops at its next progress report. Nothing is promoted."""
    if by is None or not by.is_staff:
        raise PermissionDenied("only staff can cancel a training run")
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if not run.is_in_progress:
            raise TrainingError(f"training run #{run.pk} is already {run.state}")
        return _finish(run, State.CANCELLED, f"cancelled by {by}")


# --------------------------------------------------------------------------- execute (on a worker)


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


def _input_pixels(submission) -> np.ndarray:
    with submission.input_image.open("rb") as handle, Image.open(io.BytesIO(handle.read())) as img:
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def _ml_retrain():
    # Imported when a run executes, on a worker: it pulls in torch (~500 MB), which web processes never need.
    from ml import retrain

    return retrain


def training_corrections():
    """People's corrected samples as the model saw them (the stored 28x28 inputs), as an ml CorrectionSet."""
    ml_retrain = _ml_retrain()
    images, labels, keys, skipped = [], [], [], []
    for submission in submission_corrections_for_training().iterator():
        try:
            images.append(_input_pixels(submission))
        except (OSError, ValueError):
            skipped.append(f"submission {submission.pk}: input image unreadable, skipped")
            continue
        labels.append(submission.corrected_digit)
        keys.append(f"submission-{submission.pk}")
    corrections = ml_retrain.CorrectionSet(
        images=np.stack(images) if images else np.zeros((0, 28, 28), np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        keys=keys,
    )
    return corrections, skipped


def training_run_execute(*, run_id: int) -> TrainingRun | None:
    """The whole retraining for one run (the Celery task calls this; `retrain --sync` too)."""
    run = _claim(run_id)
    if run is None:
        return TrainingRun.objects.filter(pk=run_id).first()
    ml_retrain = _ml_retrain()
    try:
        base = model_version_active()
        base_path = model_version_verified_path(base)
        run.base_version = base
        run.artifacts_dir = f"models/runs/{run.pk}"
        run.save(update_fields=["base_version", "artifacts_dir"])
        corrections, skipped = training_corrections()
        for line in skipped:
            training_run_log(run=run, text=line)
        training_run_log(run=run, text=f"fine-tuning {base.name} on {len(corrections.labels)} corrections")
        result = ml_retrain.retrain(
            base_checkpoint_path=base_path,
            corrections=corrections,
            out_dir=Path(settings.MEDIA_ROOT) / run.artifacts_dir,
            progress=_Progress(run.pk),
            time_limit_s=settings.DIGITVISION_TRAINING_TIME_LIMIT,
            **settings.DIGITVISION_RETRAIN_OPTIONS,
        )
    except RunCancelled:
        run.refresh_from_db()
        _remove_artifacts(run, keep_plots=False)
        return run
    except ml_retrain.RetrainTimeout:
        limit = settings.DIGITVISION_TRAINING_TIME_LIMIT
        return training_run_fail(run=run, reason=f"over its time limit of {limit} s; nothing was promoted")
    except (ml_retrain.RetrainError, ModelWeightsError, NoActiveModelVersionError) as exc:
        return training_run_fail(run=run, reason=str(exc))
    except Exception as exc:
        logger.exception("training run %s failed", run.pk)
        return training_run_fail(run=run, reason=f"unexpected error: {type(exc).__name__}: {exc}")
    return _conclude(run, result)


def _media_relative(path: Path) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))


def _summary(figures: dict) -> dict:
    """The figures the verdict rests on, flat, for the staff page and the API (the full report stays with the
    candidate checkpoint and, once promoted, its model version)."""
    test, holdout = figures["test"], figures["holdout"]
    return {
        "mnist_test_accuracy": test["accuracy"],
        "mnist_test_correct": test["correct"],
        "mnist_test_total": test["count"],
        "mnist_test_ece": test["ece"],
        "holdout_accuracy": holdout["accuracy"],
        "holdout_correct": holdout["correct"],
        "holdout_total": holdout["count"],
        "val_accuracy": figures.get("val_accuracy"),
        "temperature": figures.get("temperature"),
    }


def _conclude(run: TrainingRun, result) -> TrainingRun:
    """Record the figures, then promote (atomically) or reject."""
    run.refresh_from_db()
    figures = result.to_dict()
    run.train_samples = figures["counts"]["train"]
    run.holdout_samples = figures["counts"]["holdout"]
    run.replay_samples = figures["counts"]["replay"]
    run.candidate_metrics = _summary(figures["candidate"])
    run.active_metrics = _summary(figures["active"])
    run.per_class = figures["per_class"]
    run.plots = [_media_relative(p) for p in result.plot_paths]
    for line in figures.get("log", []):
        run.log = [*run.log, _now_line(line)][-MAX_LOG_LINES:]
    figure_fields = [
        "train_samples",
        "holdout_samples",
        "replay_samples",
        "candidate_metrics",
        "active_metrics",
        "per_class",
        "plots",
        "log",
    ]
    run.save(update_fields=figure_fields)  # kept whatever the verdict
    if not run.is_in_progress:  # cancelled during the last step
        _remove_artifacts(run, keep_plots=False)
        return run
    if result.verdict != "promote":
        _remove_artifacts(run, keep_plots=True)
        return _finish(run, State.REJECTED, result.reason, progress=100.0, step="rejected")
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
                _remove_artifacts(run, keep_plots=True)
                reason = f"the active model changed to {active.name} during the run; nothing was promoted"
                return _finish(run, State.REJECTED, reason, progress=100.0, step="rejected")
            version = model_version_register(
                path=result.candidate_path,
                parent=run.base_version,
                created_by=run.requested_by,
                metrics={**result.candidate_report, "training_run": run.pk},
            )
            model_version_activate(
                version=version,
                by=run.requested_by,
                action=ModelVersionEvent.Action.PROMOTED,
                reason=result.reason,
                training_run=run,
            )
            return _finish(
                run, State.PROMOTED, result.reason, candidate_version=version, progress=100.0, step="promoted"
            )
    except (ModelWeightsError, FileNotFoundError, ValueError) as exc:
        run.refresh_from_db()
        return training_run_fail(run=run, reason=f"the candidate could not be promoted: {exc}")
