"""Benchmark: one whole TrainingRun (services, database, files) on N simulated corrections, timed."""

# Writes rows and files: `make bench-training-run` points it at a temporary database and media folder.

from __future__ import annotations

import argparse
import sys
import time

from bench import BenchmarkFailed
from bench.django_env import setup_django


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
    run = training_run_execute(run_id=run.pk)
    wall = time.perf_counter() - started
    summary = (
        f"training run #{run.pk}: {run.state} in {wall:.1f} s (train {run.train_samples}, holdout "
        f"{run.holdout_samples}, replay {run.replay_samples})\n{run.reason}"
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
    parser.add_argument("--corrections", type=int, default=200)
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
