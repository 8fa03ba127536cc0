"""ml is plain PyTorch: importing any of its modules must not pull in Django."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib, pkgutil, sys
import ml
names = sorted(
    m.name for m in pkgutil.walk_packages(ml.__path__, "ml.")
    if m.name != "ml.tests" and not m.name.startswith("ml.tests.")
)
assert len(names) >= 9, names
for name in names:
    importlib.import_module(name)
print(",".join(names))
leaked = sorted(k for k in sys.modules if k == "django" or k.startswith("django."))
print("LEAKED:" + ",".join(leaked))
"""


def test_importing_every_ml_module_does_not_import_django():
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": "/tmp"}  # no DJANGO_SETTINGS_MODULE
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    modules, leaked = result.stdout.strip().splitlines()[-2:]
    expected = {
        "ml.data",
        "ml.decode",
        "ml.preprocess",
        "ml.model",
        "ml.augment",
        "ml.train",
        "ml.checkpoint",
        "ml.calibrate",
        "ml.evaluate",
        "ml.predictor",
        "ml.negatives",
    }
    assert expected <= set(modules.split(","))
    assert leaked == "LEAKED:", f"django imported by the ml package: {leaked}"
