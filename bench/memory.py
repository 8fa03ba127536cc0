"""Memory benchmark: resident memory of a gunicorn web worker over thousands of predictions and of a Celery
worker over repeated retrainings, from /proc, with the production settings; fails if memory keeps growing."""

import json
import time
import uuid
from pathlib import Path

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from recognizer.management import benchserver
from recognizer.management.benchdata import store_style_corrections
from recognizer.management.commands.bench_load import canvas_seven
from recognizer.models import Submission, TrainingRun
from recognizer.services.training import training_run_start

MIB = 1024  # /proc reports KiB


def mib(kib: int) -> float:
    return round(kib / MIB, 1)


class Command(BaseCommand):
    help = "Peak and current RSS of a web worker over N predictions and of a Celery worker over R retrainings."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--predictions", type=int, default=6000)
        parser.add_argument("--training-runs", type=int, default=3)
        parser.add_argument("--corrections", type=int, default=100, help="corrections the retrainings learn from")
        parser.add_argument("--max-growth-mib", type=float, default=10.0, help="allowed growth over the 2nd half")
        parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")

    def handle(self, *args, predictions, training_runs, corrections, max_growth_mib, out, **options) -> None:
        if Submission.objects.exists():
            raise CommandError("this database already has submissions: run it on a throwaway one")
        report = {
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "web": self._web(predictions),
        }
        if training_runs:
            report["celery"] = self._celery(training_runs, corrections)
        parts = [part for part in ("web", "celery") if part in report]
        for part in parts:
            figures = report[part]
            self.stdout.write(
                f"{part}: peak RSS {figures['peak_mib']} MiB; RSS {figures['samples_mib'][0][1]} MiB after "
                f"{figures['samples_mib'][0][0]} {figures['unit']}, {figures['samples_mib'][-1][1]} MiB after "
                f"{figures['samples_mib'][-1][0]}; growth over the second half {figures['growth_second_half_mib']} MiB"
            )
        if out:
            out.write_text(json.dumps(report, indent=1) + "\n")
        growing = [part for part in parts if report[part]["growth_second_half_mib"] > max_growth_mib]
        if growing:
            raise CommandError(f"memory grows over repeated work in: {', '.join(growing)}")

    def _web(self, predictions: int) -> dict:
        """One gunicorn worker, so every prediction lands in the process being measured."""
        from django.contrib.auth import get_user_model

        user, _ = get_user_model().objects.get_or_create(username="bench-memory")
        session = requests.Session()
        session.headers["Authorization"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
        image = canvas_seven()
        samples = []
        with benchserver.gunicorn(1, env=benchserver.production_env(API_THROTTLE_USER="1000000/minute")) as server:
            (worker,) = benchserver.child_pids(server.pid)
            for done in range(1, predictions + 1):
                response = session.post(
                    f"{benchserver.BASE_URL}/api/v1/predictions/", files={"image": ("7.png", image)}, timeout=30
                )
                if response.status_code != 201:
                    raise CommandError(f"prediction {done} answered {response.status_code}: {response.text[:300]}")
                if done == 1 or done % 100 == 0:
                    samples.append((done, benchserver.rss_kib(worker)["VmRSS"]))
            peak = benchserver.rss_kib(worker)["VmHWM"]
        return self._figures(samples, peak, "predictions", predictions)

    def _celery(self, training_runs: int, corrections: int) -> dict:
        """One worker running retrainings back to back (1 epoch each: the memory is what is measured).

        Each task runs in a pool process that exits after it (CELERY_WORKER_MAX_TASKS_PER_CHILD), so the
        worker's memory is the sum over the worker and its pool process, sampled twice a second."""
        staff, _ = store_style_corrections(corrections)
        queue = f"bench-memory-{uuid.uuid4().hex[:8]}"
        settings.DIGITVISION_TRAINING_QUEUE = queue
        env = benchserver.production_env(DIGITVISION_TRAINING_QUEUE=queue, DIGITVISION_RETRAIN_OPTIONS='{"epochs": 1}')
        log = Path(settings.MEDIA_ROOT) / "bench-memory-celery.log"
        samples, peak = [], 0
        with benchserver.celery_worker(queue, log, env=env) as worker:
            samples.append((0, self._worker_rss(worker.pid)))
            for done in range(1, training_runs + 1):
                run = training_run_start(requested_by=staff)
                ran_in = set()
                while run.in_flight:
                    ran_in.update(benchserver.child_pids(worker.pid))
                    peak = max(peak, self._worker_rss(worker.pid))
                    time.sleep(0.5)
                    run.refresh_from_db()
                if run.state == TrainingRun.State.FAILED:
                    raise CommandError(f"training run {run.pk} failed: {run.reason}")
                self._wait_for_fresh_pool_process(worker.pid, ran_in)
                samples.append((done, self._worker_rss(worker.pid)))
        return self._figures(samples, peak, "training runs", training_runs)

    @staticmethod
    def _wait_for_fresh_pool_process(pid: int, ran_in: set[int], timeout: float = 30) -> None:
        """The pool process that ran the task exits; measure once its replacement is up and settled."""
        deadline = time.monotonic() + timeout
        while not set(benchserver.child_pids(pid)) - ran_in:
            if time.monotonic() > deadline:
                raise CommandError("the Celery worker did not start a fresh pool process after the task")
            time.sleep(0.2)
        time.sleep(2)

    @staticmethod
    def _worker_rss(pid: int) -> int:
        total = 0
        for process in [pid, *benchserver.child_pids(pid)]:
            try:
                total += benchserver.rss_kib(process)["VmRSS"]
            except FileNotFoundError:
                pass  # a pool process that exited between listing and reading
        return total

    @staticmethod
    def _figures(samples: list[tuple[int, int]], peak_kib: int, unit: str, total: int) -> dict:
        half = min(samples, key=lambda sample: abs(sample[0] - total / 2))
        return {
            "unit": unit,
            "count": total,
            "peak_mib": mib(peak_kib),
            "samples_mib": [(done, mib(rss)) for done, rss in samples],
            "growth_second_half_mib": mib(samples[-1][1] - half[1]),
        }
