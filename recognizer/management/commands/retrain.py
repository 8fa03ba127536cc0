"""Retrain from people's corrections: queue a run, wait for it (--wait), or run it here (--sync)."""

import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from recognizer.exceptions import TrainingError
from recognizer.models import TrainingRun
from recognizer.services.training_execution import training_run_execute
from recognizer.services.training_runs import training_run_start

# Exit status by final state: scripts can tell a promotion from a rejection from a failure.
EXIT_CODES = {TrainingRun.State.PROMOTED: 0, TrainingRun.State.REJECTED: 1}
EXIT_FAILED = 2


class Command(BaseCommand):
    help = (
        "Start a retraining from the corrections. Without options it is queued for a Celery worker; --wait "
        "also waits for the verdict; --sync runs it in this process (no worker needed). With --wait or "
        "--sync the exit status is 0 promoted, 1 rejected, 2 failed or cancelled."
    )

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--wait", action="store_true", help="queue the run, then wait until it ends")
        mode.add_argument("--sync", action="store_true", help="run it in this process, without a worker")
        parser.add_argument("--user", help="staff username to record as the requester (default: none)")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between progress checks (--wait)")

    def handle(self, *args, wait: bool, sync: bool, user: str | None, poll: float, **options) -> None:
        requester = self._requester(user)
        try:
            run = training_run_start(requested_by=requester, enqueue=not sync)
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"training run #{run.pk} {'started here' if sync else 'queued'}")
        if sync:
            run = training_run_execute(run_id=run.pk)
        elif wait:
            run = self._wait(run, poll)
        else:
            return
        self._report(run)
        sys.exit(EXIT_CODES.get(run.state, EXIT_FAILED))

    def _requester(self, username: str | None):
        if username is None:
            return None
        requester = get_user_model().objects.filter(username=username).first()
        if requester is None or not requester.is_staff:
            raise CommandError(f"{username!r} is not a staff user")
        return requester

    def _wait(self, run: TrainingRun, poll: float) -> TrainingRun:
        shown = None
        while True:
            run.refresh_from_db()
            line = f"{run.state:10} {run.progress:5.1f}%  {run.step}"
            if line != shown:
                self.stdout.write(line)
                shown = line
            if not run.is_in_progress:
                return run
            time.sleep(poll)

    def _report(self, run: TrainingRun) -> None:
        style = self.style.SUCCESS if run.state == TrainingRun.State.PROMOTED else self.style.WARNING
        self.stdout.write(style(f"training run #{run.pk} {run.state}: {run.reason}"))
        if run.candidate_version_id:
            self.stdout.write(f"now serving {run.candidate_version.name}")
