"""Celery tasks: thin, they take ids and call services (which send them by name, never importing this module)."""

from celery import shared_task

from recognizer.services.training_execution import training_run_execute
from recognizer.services.training_runs import training_run_fail_stale


@shared_task(name="recognizer.retrain", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def retrain_task(run_id: int) -> str | None:
    """Run one training run. acks_late + reject_on_worker_lost: a killed worker's run comes back to a worker,
    which fails it cleanly instead of leaving it 'running' (see training_execution._claim)."""
    run = training_run_execute(run_id=run_id)
    return run.state if run else None


@shared_task(name="recognizer.fail_stale_training_runs", ignore_result=True)
def fail_stale_training_runs_task() -> list[int]:
    """Periodic (Celery beat): fail runs whose worker died or that no worker took, so Retrain is offered again."""
    return [run.pk for run in training_run_fail_stale()]
