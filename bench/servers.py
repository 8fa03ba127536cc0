"""The application as production runs it (gunicorn, DEBUG off), started on loopback for the benchmarks."""

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from bench import BenchmarkFailed

REPO_ROOT = Path(__file__).resolve().parents[1]  # where gunicorn and celery find digitvision_site
PORT = 8765
BASE_URL = f"http://127.0.0.1:{PORT}"


def production_env(**extra: str) -> dict[str, str]:
    """This process's environment (database, media, throttles) with the production settings switched on.

    Plain HTTP on loopback: no HTTPS redirect and no secure-only cookies, the rest as deployed.
    """
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        **extra,
    }


def _wait_healthy(server: subprocess.Popen, base_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchmarkFailed(f"gunicorn exited with code {server.returncode} while starting")
        try:
            if requests.get(f"{base_url}/health/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or a worker still booting
        time.sleep(0.3)
    raise BenchmarkFailed(f"gunicorn did not answer {base_url}/health/ within {timeout:.0f} s")


def _stop(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL after ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def gunicorn(
    workers: int, *, env: dict[str, str] | None = None, port: int = PORT, timeout: float = 60
) -> Iterator[subprocess.Popen]:
    """gunicorn with ``workers`` sync workers on 127.0.0.1:``port``, stopped (and waited for) on exit."""
    command = [
        sys.executable, "-m", "gunicorn", "digitvision_site.wsgi",
        "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning",
        "--worker-tmp-dir", "/dev/shm" if Path("/dev/shm").is_dir() else "/tmp",  # heartbeat file off the disk
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO_ROOT, env=env or production_env())
    try:
        _wait_healthy(server, f"http://127.0.0.1:{port}", timeout)
        yield server
    finally:
        _stop(server, grace=20)


def child_pids(pid: int) -> list[int]:
    """A process's children: a gunicorn master's workers, a Celery worker's pool processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


def rss_kib(pid: int) -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in KiB, from /proc (0 for a zombie)."""
    fields = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


@contextlib.contextmanager
def celery_worker(
    queue: str, log_path: Path, *, env: dict[str, str], timeout: float = 60
) -> Iterator[subprocess.Popen]:
    """`celery worker` (one prefork child, as `make run` and the Procfile start it) consuming ``queue``."""
    command = [
        sys.executable, "-m", "celery", "-A", "digitvision_site", "worker", "--pool=prefork", "--concurrency=1",
        "-Q", queue, "-n", f"{queue}@%h", "--without-mingle", "--without-gossip", "--loglevel=INFO",
    ]  # fmt: skip
    with log_path.open("w") as log:
        worker = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while " ready." not in log_path.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkFailed(f"the Celery worker did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield worker
    finally:
        _stop(worker, grace=30)
