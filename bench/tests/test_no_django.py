"""The benchmarks that do not need the site (accuracy, retraining, the robustness suite, servers) run without Django."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAIN_MODULES = ("bench.robustness", "bench.accuracy", "bench.retrain", "bench.servers", "bench.numbers")


def test_plain_benchmarks_do_not_import_django():
    # That product code never imports bench is recognizer/tests/test_layout.py's to check.
    script = f"import importlib, sys\nfor name in {PLAIN_MODULES!r}: importlib.import_module(name)\n"
    script += "print(','.join(sorted(k for k in sys.modules if k == 'django' or k.startswith('django.'))))"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": "/tmp"}  # no DJANGO_SETTINGS_MODULE
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"django imported by {PLAIN_MODULES}: {result.stdout}"
