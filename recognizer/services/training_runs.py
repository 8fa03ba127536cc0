"""Writes of training runs on the request side: start one (refused up front if it cannot work), cancel, fail stale."""

import logging
import shutil
from datetime import timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from ml import data as mnist
from ml.retrain import GROUP_SEPARATOR, split_problem
from recognizer.exceptions import (
    TrainingError,
    TrainingInProgressError,
    TrainingNotPossibleError,
    TrainingQueueUnavailableError,
    TrainingRunFinishedError,
)
from recognizer.models import TrainingRun
from recognizer.selectors import (
    digit_sample_corrections_for_training,
    submission_corrections_for_training,
    training_run_current,
)

logger = logging.getLogger(__name__)
State = TrainingRun.State

RETRAIN_TASK = "recognizer.retrain"  # sent by name: services never import tasks
MAX_LOG_LINES = 500


# --------------------------------------------------------------------------- small writes (both sides use them)


def _now_line(text: str) -> str:
    return f"{timezone.now():%H:%M:%S} {text}"


def training_run_log(*, run: TrainingRun, text: str) -> None:
    """Append a timestamped line to the run's log (kept to the last MAX_LOG_LINES)."""
    run.log = [*run.log, _now_line(text)][-MAX_LOG_LINES:]
    TrainingRun.objects.filter(pk=run.pk).update(log=run.log)


def training_run_finish(*, run: TrainingRun, state: str, reason: str, **fields) -> TrainingRun:
    """Move a run to a final state; it stops counting as in flight, so the next run can start."""
    run.state, run.reason, run.in_flight, run.finished_at = state, reason, None, timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    run.log = [*run.log, _now_line(f"{state}: {reason}")][-MAX_LOG_LINES:]
    run.save()
    return run


def training_run_remove_artifacts(*, run: TrainingRun, keep_plots: bool) -> None:
    """Delete a run's weights (and, unless ``keep_plots``, its whole folder) from the media folder."""
    if not run.artifacts_dir:
        return
    folder = Path(settings.MEDIA_ROOT) / run.artifacts_dir
    if keep_plots:
        for pattern in ("*.pt", "*.onnx"):
            for path in folder.glob(pattern):
                path.unlink(missing_ok=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        run.plots = []


def training_run_fail(*, run: TrainingRun, reason: str) -> TrainingRun:
    """Mark a run failed (no model changes) and remove its half-made files."""
    training_run_remove_artifacts(run=run, keep_plots=False)
    return training_run_finish(run=run, state=State.FAILED, reason=reason)


# --------------------------------------------------------------------------- the refusal


def training_correction_key(submission_id: int) -> str:
    """The stable key a correction is split by (train or holdout); the same in every process, forever."""
    return f"submission-{submission_id}"


def training_digit_sample_key(*, submission_id: int, position: int) -> str:
    """The stable key a corrected digit of a number is split by: its number, which is the group the split
    hashes (all of a number's digits go to train, or all to the holdout), and its place, which never change."""
    return f"{training_correction_key(submission_id)}{GROUP_SEPARATOR}digit-{position}"


def training_correction_keys() -> list[str]:
    """The split keys of every correction a retraining would use now: single digits, then numbers' digits."""
    ids = submission_corrections_for_training().values_list("pk", flat=True)
    places = digit_sample_corrections_for_training().values_list("submission_id", "position")
    return [
        *(training_correction_key(pk) for pk in ids),
        *(training_digit_sample_key(submission_id=number, position=position) for number, position in places),
    ]


def training_run_problem() -> str | None:
    """Why a retraining cannot work right now (no MNIST that can be fetched, no corrections, an empty
    holdout), or None. Cheap: no torch, no images read; the network only when MNIST is missing."""
    problem = split_problem(training_correction_keys())
    if problem is not None:
        return problem
    if mnist.missing_files(mnist.DEFAULT_ROOT):
        unreachable = mnist.sources_unreachable()
        if unreachable is not None:
            return f"MNIST is missing in {mnist.DEFAULT_ROOT} and cannot be fetched: {unreachable}"
    return None


# --------------------------------------------------------------------------- start, cancel, stale runs


def training_run_fail_stale() -> list[TrainingRun]:
    """Fail runs nobody is working on: queued with no worker taking them, or silent since a worker died.

    A running run writes progress every few seconds; one silent for DIGITVISION_TRAINING_STALE_SECONDS lost
    its worker (killed, out of memory, machine gone). The beat task `recognizer.fail_stale_training_runs`
    calls this every minute, and training_run_start before a run starts.
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

    Refused up front with TrainingNotPossibleError when it cannot work (see training_run_problem). One run at a
    time: while one is queued, running or evaluating, TrainingInProgressError names it. When the broker cannot
    be reached the run is failed at once (never left queued) and TrainingQueueUnavailableError says so.
    ``enqueue=False`` leaves the run queued for training_run_execute in this process.
    """
    if requested_by is not None and not requested_by.is_staff:
        raise PermissionDenied("only staff can start a retraining")
    training_run_fail_stale()
    current = training_run_current()
    if current is not None:  # said before the refusal: waiting is the answer, whatever the corrections
        raise TrainingInProgressError(current)
    problem = training_run_problem()
    if problem is not None:
        raise TrainingNotPossibleError(f"retraining cannot work: {problem}")
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
        transaction.on_commit(lambda: _enqueue(run.pk))
        run.refresh_from_db()
        if run.state == State.FAILED:  # on_commit ran at once (no outer transaction) and the broker was down
            raise TrainingQueueUnavailableError(run)
    return run


def _send_by_name(name: str, args: list) -> object:
    if current_app.conf.task_always_eager:
        # send_task ignores eager mode; run the task here, found by name once Celery's autodiscovery (not an
        # import of ours) has registered the app's tasks.
        current_app.loader.import_default_modules()
        return current_app.tasks[name].apply(args=args)
    return current_app.send_task(
        name, args=args, queue=settings.DIGITVISION_TRAINING_QUEUE, retry_policy=settings.DIGITVISION_TASK_PUBLISH_RETRY
    )


def _enqueue(run_id: int) -> None:
    try:
        result = _send_by_name(RETRAIN_TASK, [run_id])
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
            raise TrainingRunFinishedError(f"training run #{run.pk} is already {run.state}")
        return training_run_finish(run=run, state=State.CANCELLED, reason=f"cancelled by {by}")
