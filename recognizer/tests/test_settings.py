"""Production settings: fail fast without a secret, and pass Django's deployment checklist."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env={**environ, **env}, capture_output=True, text=True
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="False")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_the_deployment_checklist():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY="x" * 20 + "-a-long-random-production-secret-0123456789",
        ALLOWED_HOSTS="digits.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
