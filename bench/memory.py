"""Memory benchmark: resident memory of a web worker over many predictions and of a Celery worker over retrainings."""

# From /proc, with the production settings; fails if memory keeps growing over the second half. Run as
# `python -m bench.memory` (`make bench-memory` gives it a throwaway database and a Redis broker).

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

import requests

from bench import BenchmarkFailed, servers
from bench.django_env import setup_django
from bench.load import canvas_seven

MIB = 1024  # /proc reports KiB


def mib(kib: int) -> float:
    """KiB as MiB, to one decimal."""
    return round(kib / MIB, 1)


def run(*, predictions: int, training_runs: int, corrections: int) -> dict:
    """Peak and sampled RSS of one gunicorn worker over ``predictions`` and of a Celery worker over the runs."""
    from django.conf import settings

    from recognizer.models import Submission

    if Submission.objects.exists():
        raise BenchmarkFailed("this database already has submissions: run it on a throwaway one")
    report = {"database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1], "web": _web(predictions)}
    if training_runs:
        report["celery"] = _celery(training_runs, corrections)
    return report


def _web(predictions: int) -> dict:
    """One gunicorn worker, so every prediction lands in the process being measured."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="bench-memory")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
    image = canvas_seven()
    samples = []
    with servers.gunicorn(1, env=servers.production_env(API_THROTTLE_USER="1000000/minute")) as server:
        (worker,) = servers.child_pids(server.pid)
        for done in range(1, predictions + 1):
            response = session.post(
                f"{servers.BASE_URL}/api/v1/predictions/", files={"image": ("7.png", image)}, timeout=30
            )
            if response.status_code != 201:
                raise BenchmarkFailed(f"prediction {done} answered {response.status_code}: {response.text[:300]}")
            if done == 1 or done % 100 == 0:
                samples.append((done, servers.rss_kib(worker)["VmRSS"]))
        peak = servers.rss_kib(worker)["VmHWM"]
    return _figures(samples, peak, "predictions", predictions)


def _celery(training_runs: int, corrections: int) -> dict:
    """One worker running retrainings back to back (1 epoch each: the memory is what is measured).

    Each task runs in a pool process that exits after it (CELERY_WORKER_MAX_TASKS_PER_CHILD), so the
    worker's memory is the sum over the worker and its pool process, sampled twice a second."""
    from django.conf import settings

    from bench.corrections import store_style_corrections
    from recognizer.models import TrainingRun
    from recognizer.services.training_runs import training_run_start

    staff, _ = store_style_corrections(corrections)
    queue = f"bench-memory-{uuid.uuid4().hex[:8]}"
    settings.DIGITVISION_TRAINING_QUEUE = queue
    env = servers.production_env(DIGITVISION_TRAINING_QUEUE=queue, DIGITVISION_RETRAIN_OPTIONS='{"epochs": 1}')
    log = Path(settings.MEDIA_ROOT) / "bench-memory-celery.log"
    samples, peak = [], 0
    with servers.celery_worker(queue, log, env=env) as worker:
        samples.append((0, _worker_rss(worker.pid)))
        for done in range(1, training_runs + 1):
            run = training_run_start(requested_by=staff)
            ran_in = set()
            while run.in_flight:
                ran_in.update(servers.child_pids(worker.pid))
                peak = max(peak, _worker_rss(worker.pid))
                time.sleep(0.5)
                run.refresh_from_db()
            if run.state == TrainingRun.State.FAILED:
                raise BenchmarkFailed(f"training run {run.pk} failed: {run.reason}")
            _wait_for_fresh_pool_process(worker.pid, ran_in)
            samples.append((done, _worker_rss(worker.pid)))
    return _figures(samples, peak, "training runs", training_runs)


def _wait_for_fresh_pool_process(pid: int, ran_in: set[int], timeout: float = 30) -> None:
    """The pool process that ran the task exits; measure once its replacement is up and settled."""
    deadline = time.monotonic() + timeout
    while not set(servers.child_pids(pid)) - ran_in:
        if time.monotonic() > deadline:
            raise BenchmarkFailed("the Celery worker did not start a fresh pool process after the task")
        time.sleep(0.2)
    time.sleep(2)


def _worker_rss(pid: int) -> int:
    total = 0
    for process in [pid, *servers.child_pids(pid)]:
        try:
            total += servers.rss_kib(process)["VmRSS"]
        except FileNotFoundError:
            pass  # a pool process that exited between listing and reading
    return total


def _figures(samples: list[tuple[int, int]], peak_kib: int, unit: str, total: int) -> dict:
    half = min(samples, key=lambda sample: abs(sample[0] - total / 2))
    return {
        "unit": unit,
        "count": total,
        "peak_mib": mib(peak_kib),
        "samples_mib": [(done, mib(rss)) for done, rss in samples],
        "growth_second_half_mib": mib(samples[-1][1] - half[1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Peak and current RSS of a web worker over N predictions and of a Celery worker over R "
        "retrainings. Writes rows: run it on a throwaway database (`make bench-memory`)."
    )
    parser.add_argument("--predictions", type=int, default=6000)
    parser.add_argument("--training-runs", type=int, default=3)
    parser.add_argument("--corrections", type=int, default=100, help="corrections the retrainings learn from")
    parser.add_argument("--max-growth-mib", type=float, default=10.0, help="allowed growth over the 2nd half")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    setup_django()
    try:
        report = run(predictions=args.predictions, training_runs=args.training_runs, corrections=args.corrections)
    except BenchmarkFailed as error:
        print(f"bench.memory: {error}", file=sys.stderr)
        return 1
    parts = [part for part in ("web", "celery") if part in report]
    for part in parts:
        figures = report[part]
        print(
            f"{part}: peak RSS {figures['peak_mib']} MiB; RSS {figures['samples_mib'][0][1]} MiB after "
            f"{figures['samples_mib'][0][0]} {figures['unit']}, {figures['samples_mib'][-1][1]} MiB after "
            f"{figures['samples_mib'][-1][0]}; growth over the second half {figures['growth_second_half_mib']} MiB"
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    growing = [part for part in parts if report[part]["growth_second_half_mib"] > args.max_growth_mib]
    if growing:
        print(f"bench.memory: memory grows over repeated work in: {', '.join(growing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
