"""Fetch MNIST's raw files and verify their sha256 (wraps ml.data.fetch_mnist)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml import data


class Command(BaseCommand):
    help = "Download MNIST's four raw IDX files into data/MNIST/raw and verify their sha256."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--root", type=Path, default=data.DEFAULT_ROOT, help="where the raw files go")
        parser.add_argument("--timeout", type=float, default=20.0, help="seconds per download attempt")

    def handle(self, *args, root: Path, timeout: float, **options) -> None:
        try:
            data.fetch_mnist(root, timeout=timeout, log=self.stdout.write)
        except data.MnistUnavailable as exc:
            raise CommandError(str(exc)) from exc
