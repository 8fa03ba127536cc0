"""Product code never depends on the benchmarks, and the plain benchmarks stay free of Django."""

import ast
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("ml", "recognizer", "digitvision_site")
PLAIN_MODULES = ("bench.robustness", "bench.accuracy", "bench.retrain", "bench.servers")


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_product_code_does_not_import_bench():
    # Tests of product code may use the synthetic suites; the product itself may not.
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for package in PRODUCT_PACKAGES
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        if "tests" not in path.relative_to(REPO_ROOT).parts
        for name in sorted(_imported_modules(path))
        if name == "bench" or name.startswith("bench.")
    ]
    assert not offenders, offenders


def test_plain_benchmarks_do_not_import_django():
    script = f"import importlib, sys\nfor name in {PLAIN_MODULES!r}: importlib.import_module(name)\n"
    script += "print(','.join(sorted(k for k in sys.modules if k == 'django' or k.startswith('django.'))))"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": "/tmp"}  # no DJANGO_SETTINGS_MODULE
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"django imported by {PLAIN_MODULES}: {result.stdout}"
