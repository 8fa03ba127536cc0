"""Time one whole TrainingRun (services, database, files) on N simulated corrections; for a throwaway database."""

import time

from django.core.management.base import BaseCommand, CommandError

from recognizer.management.benchdata import store_style_corrections
from recognizer.models import Submission, TrainingRun
from recognizer.services.training import training_run_execute, training_run_start


class Command(BaseCommand):
    help = (
        "Benchmark: store N corrections in the style of `make bench-retrain` (digits the active model gets wrong), "
        "then run one TrainingRun in this process and report its wall time and verdict. Writes rows and files: "
        "use `make bench-training-run`, which points it at a temporary database and media folder."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--corrections", type=int, default=200)

    def handle(self, *args, corrections: int, **options) -> None:
        if Submission.objects.exists():
            raise CommandError("this database already has submissions: run it on a throwaway one")
        staff, tried = store_style_corrections(corrections)
        self.stdout.write(f"{corrections} corrections stored ({tried} style digits rendered)")

        started = time.perf_counter()
        run = training_run_start(requested_by=staff, enqueue=False)
        run = training_run_execute(run_id=run.pk)
        wall = time.perf_counter() - started
        self.stdout.write(
            f"training run #{run.pk}: {run.state} in {wall:.1f} s (train {run.train_samples}, holdout "
            f"{run.holdout_samples}, replay {run.replay_samples})\n{run.reason}"
        )
        if run.state not in (TrainingRun.State.PROMOTED, TrainingRun.State.REJECTED):
            raise CommandError(f"the run {run.state}")
