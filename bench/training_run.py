"""Benchmark: one whole TrainingRun (services, database, files) on N simulated corrections, timed."""

# Writes rows and files: `make bench-training-run` points it at a temporary database and media folder.

from __future__ import annotations

import argparse
import sys
import threading
import time

from bench import BenchmarkFailed
from bench.django_env import setup_django


class HeartbeatWatch(threading.Thread):
    """Reads the run's row as the run page does, every POLL_S, and keeps the progress writes it sees."""

    POLL_S = 0.2

    def __init__(self, run_id: int):
        super().__init__(daemon=True)
        self.run_id, self.seen, self.done = run_id, [], threading.Event()

    def run(self) -> None:
        from django.db import connection

        from recognizer.models import TrainingRun

        try:
            while not self.done.wait(self.POLL_S):
                row = TrainingRun.objects.filter(pk=self.run_id).values("heartbeat_at", "step").first()
                if row and row["heartbeat_at"] and (not self.seen or self.seen[-1][0] != row["heartbeat_at"]):
                    self.seen.append((row["heartbeat_at"], row["step"]))
        finally:
            connection.close()

    def longest_gap(self, started, finished) -> tuple[float, str]:
        """The longest the page went without a new progress write, from the start of the run to its end, and the
        step it showed meanwhile."""
        marks = [(started, "queued"), *self.seen, (finished, "finished")]
        return max(((b[0] - a[0]).total_seconds(), a[1]) for a, b in zip(marks, marks[1:], strict=False))


def run(*, corrections: int) -> str:
    """Store ``corrections`` in the style of `make bench-retrain`, run one TrainingRun in this process; a summary."""
    from bench.corrections import store_style_corrections
    from recognizer.models import Submission, TrainingRun
    from recognizer.services.training_execution import training_run_execute
    from recognizer.services.training_runs import training_run_start

    if Submission.objects.exists():
        raise BenchmarkFailed("this database already has submissions: run it on a throwaway one")
    staff, tried = store_style_corrections(corrections)
    print(f"{corrections} corrections stored ({tried} style digits rendered)")

    started = time.perf_counter()
    run = training_run_start(requested_by=staff, enqueue=False)
    watch = HeartbeatWatch(run.pk)
    watch.start()
    run = training_run_execute(run_id=run.pk)
    wall = time.perf_counter() - started
    watch.done.set()
    watch.join()
    gap, during = watch.longest_gap(run.created_at, run.finished_at)
    summary = (
        f"training run #{run.pk}: {run.state} in {wall:.1f} s (train {run.train_samples}, epoch-choosing "
        f"{run.selection_samples}, holdout {run.holdout_samples}, replay {run.replay_samples}); progress seen by "
        f"the page every <= {gap:.1f} s ({len(watch.seen)} writes seen; the longest wait showed {during!r})"
        f"\n{run.reason}"
    )
    if run.state not in (TrainingRun.State.PROMOTED, TrainingRun.State.REJECTED):
        raise BenchmarkFailed(f"{summary}\nthe run {run.state}")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Store N corrections in the style of `make bench-retrain` (digits the active model gets "
        "wrong), then run one TrainingRun in this process and report its wall time and verdict. Writes rows and "
        "files: use `make bench-training-run`, which points it at a temporary database and media folder."
    )
    parser.add_argument("--corrections", type=int, default=300)
    args = parser.parse_args(argv)
    setup_django()
    try:
        print(run(corrections=args.corrections))
    except BenchmarkFailed as error:
        print(f"bench.training_run: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
