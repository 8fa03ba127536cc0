"""Benchmarks and the synthetic suites they use: not product code, so nothing in ml/ or recognizer/ imports it."""

from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # the figures the README quotes, one JSON per benchmark


class BenchmarkFailed(RuntimeError):
    """A benchmark that ran but whose figures fail its own check (errors, memory growth, a failed run)."""
