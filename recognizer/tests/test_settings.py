"""Production settings: fail fast without a secret, and pass Django's deployment checklist."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py with the real settings module (not the tests'), no local .env, and only the given settings."""
    environ = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")}
    environ |= {"DJANGO_SETTINGS_MODULE": "digitvision_site.settings", "ENV_FILE": "/nonexistent/.env"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env={**environ, **env}, capture_output=True, text=True
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="False")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_is_off_unless_asked_for():
    """With nothing set (no .env, no DEBUG), the settings are production's: a secret key is required."""
    assert "SECRET_KEY must be set" in _manage("check").stderr
    assert _manage("check", DEBUG="1").returncode == 0


def test_a_local_env_file_turns_debug_on(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text((REPO / ".env.example").read_text())
    result = _manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)", ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True"


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


@pytest.mark.servers
@pytest.mark.django_db
def test_production_responses_carry_the_security_headers(tmp_path):
    """gunicorn with the production settings (static files collected as a deployment does), behind a proxy
    that terminates HTTPS and says so with X-Forwarded-Proto."""
    from bench import servers as benchserver
    from recognizer.tests.test_faults import free_port
    from recognizer.tests.test_training_worker import database_url

    port = free_port()
    env = benchserver.production_env(DATABASE_URL=database_url(), STATIC_ROOT=str(tmp_path / "static"))
    collect = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=REPO, env=env)
    assert collect.returncode == 0
    base = f"http://127.0.0.1:{port}"
    https = {"X-Forwarded-Proto": "https"}
    deployed = {"SECURE_SSL_REDIRECT": "true", "SESSION_COOKIE_SECURE": "true", "CSRF_COOKIE_SECURE": "true"}
    with benchserver.gunicorn(1, env={**env, **deployed}, port=port):
        page = requests.get(f"{base}/accounts/login/", headers=https, timeout=10)
        api = requests.get(f"{base}/api/v1/predictions/", headers=https, timeout=10)
        docs = requests.get(f"{base}/api/docs/", headers=https, timeout=10)
        plain = requests.get(f"{base}/accounts/login/", allow_redirects=False, timeout=10)

    assert page.status_code == 200 and api.status_code == 401 and docs.status_code == 200
    for response in (page, api, docs):
        headers = response.headers
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
        assert policy["object-src"] == "'none'" and policy["form-action"] == "'self'"
    csrf_cookie = page.raw.headers.getlist("Set-Cookie")[0]
    assert "csrftoken=" in csrf_cookie and "Secure" in csrf_cookie and "SameSite=Lax" in csrf_cookie
    assert "<script>" not in docs.text  # Swagger UI starts from a file: no inline script for CSP to allow
    assert plain.status_code == 301 and plain.headers["Location"] == f"https://127.0.0.1:{port}/accounts/login/"
