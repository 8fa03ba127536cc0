"""Celery tasks: thin, they take ids and call services."""

from celery import shared_task

from recognizer.services.training import training_run_execute


@shared_task(name="recognizer.retrain", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def retrain_task(run_id: int) -> str | None:
    """Run one training run. acks_late + reject_on_worker_lost: a killed worker's run comes back to a worker,
    which fails it cleanly instead of leaving it 'running' (see services.training._claim)."""
    run = training_run_execute(run_id=run_id)
    return run.state if run else None
