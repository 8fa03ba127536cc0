"""Faults: the database or Redis going away. A lost database is a clean 503 (never a 500, never a half-stored
submission) and the app recovers by itself when it comes back; a lost Redis leaves predictions working and
makes a retraining request fail clearly. The last two tests stop real servers of their own (a private
redis-server, a private PostgreSQL cluster) under a real gunicorn with the production settings."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.urls import reverse
from rest_framework.authtoken.models import Token

from bench import servers as benchserver
from recognizer.models import Submission, TrainingRun
from recognizer.tests.factories import SubmissionFactory, corrections_for_retraining
from recognizer.tests.test_training_worker import database_url

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_down(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")


# --------------------------------------------------------------------------- in process: the answers


@pytest.mark.django_db
def test_an_unreachable_database_is_a_503_with_retry_after(token_client, client, user, canvas_seven, monkeypatch):
    monkeypatch.setattr("recognizer.api.views.predictions.submission_create", _database_down)
    monkeypatch.setattr("recognizer.views.people.submission_create", _database_down)
    client.force_login(user)
    # As a real server does: the exception is answered by handler500, not re-raised into the test.
    client.raise_request_exception = token_client.raise_request_exception = False

    def upload() -> SimpleUploadedFile:
        return SimpleUploadedFile("seven.png", canvas_seven, content_type="image/png")

    api = token_client.post("/api/v1/predictions/", {"image": upload()}, format="multipart")
    # The page script calls the same endpoint with the session (CSRF is not enforced by the test client).
    page_script = client.post("/api/v1/predictions/", {"image": upload(), "source": "canvas"})
    upload_form = client.post(reverse("recognizer:upload"), {"image": upload()})
    monkeypatch.setattr("recognizer.views.people.history_list_for_user", _database_down)
    page = client.get(reverse("recognizer:history"))

    for response in (api, page_script, upload_form, page):
        assert response.status_code == 503 and response["Retry-After"] == "5"
    assert api.json()["error"]["code"] == "service_unavailable"
    assert page_script.json()["error"]["code"] == "service_unavailable"
    assert b"briefly unavailable" in page.content and b"Traceback" not in page.content


@pytest.mark.django_db
def test_health_says_whether_the_database_answers(client, monkeypatch):
    assert client.get("/health/").json() == {"status": "ok", "database": "ok"}

    monkeypatch.setattr(connection, "cursor", _database_down)
    response = client.get("/health/")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


@pytest.mark.django_db
def test_throttles_let_requests_through_when_the_cache_is_unreachable(token_client, shipped_version, settings):
    """A real Redis client against a port nobody listens on."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "user": "1/minute"}
    for _ in range(2):  # over the rate, but nothing can count it
        assert token_client.get("/api/v1/predictions/").status_code == 200


# --------------------------------------------------------------------------- real servers, stopped for real


@contextmanager
def redis_server(port: int):
    """A private redis-server (no persistence) on ``port``; yields a function that kills it."""
    binary = shutil.which("redis-server") or pytest.skip("redis-server is not installed")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start"
        time.sleep(0.1)

    def stop() -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    try:
        yield stop
    finally:
        if process.poll() is None:
            stop()


def app_env(**extra: str) -> dict[str, str]:
    """The production settings against the test database and media folder."""
    from django.conf import settings

    return benchserver.production_env(
        DATABASE_URL=database_url(), MEDIA_ROOT=str(settings.MEDIA_ROOT), CONN_MAX_AGE="60", **extra
    )


@pytest.mark.servers
@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_predictions_work_and_retraining_fails_clearly(shipped_version, staff, canvas_seven):
    redis_port, web_port = free_port(), free_port()
    # Corrections a retraining could learn from, so the request gets as far as the (stopped) broker.
    corrections_for_retraining(
        lambda i: SubmissionFactory(model_version=shipped_version, predicted_digit=1, corrected_digit=7), at_least=5
    )
    headers = {"Authorization": f"Token {Token.objects.create(user=staff).key}"}
    base = f"http://127.0.0.1:{web_port}/api/v1"
    env = app_env(
        CACHE_URL=f"redis://127.0.0.1:{redis_port}/0",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/1",
        DIGITVISION_TRAINING_QUEUE="test-faults-nobody-consumes",
    )

    def predict() -> requests.Response:
        files = {"image": ("seven.png", canvas_seven, "image/png")}
        return requests.post(f"{base}/predictions/", files=files, headers=headers, timeout=30)

    with redis_server(redis_port) as stop_redis, benchserver.gunicorn(1, env=env, port=web_port):
        assert predict().status_code == 201
        stop_redis()

        started = time.monotonic()
        during = [predict() for _ in range(3)]
        retrain = requests.post(f"{base}/training-runs/", headers=headers, timeout=30)
        elapsed = time.monotonic() - started

    assert [r.status_code for r in during] == [201, 201, 201]
    assert [r.json()["digit"] for r in during] == [7, 7, 7]
    assert retrain.status_code == 503, retrain.text
    error = retrain.json()["error"]
    assert error["code"] == "queue_unavailable" and "cannot be reached" in error["message"]
    assert TrainingRun.objects.get(pk=error["details"]["run"]).state == "failed"  # never left queued
    assert Submission.objects.filter(corrected_digit__isnull=True).count() == 4
    assert elapsed < 30, f"answers took {elapsed:.1f} s with Redis down"


class PostgresCluster:
    """A private PostgreSQL cluster on ``port`` (initdb + pg_ctl), so stopping it disturbs nothing else."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder, self.data = port, folder, folder / "data"
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        self._bin = _postgres_bindir()
        self._as_postgres: list[str] = []
        folder.mkdir()
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(folder.parent, "postgres")
            shutil.chown(folder, "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self._as_postgres, str(self._bin / program), *args], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        # -l: the server's output goes to a file, not to the pipe this process would wait on.
        self._run("pg_ctl", "-D", str(self.data), "-w", "-o", options, "-l", str(self.folder / "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")


@contextmanager
def postgres_cluster(port: int):
    # Not under pytest's tmp_path: its folders are private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="digitvision-faults-pg-"))
    try:
        cluster = PostgresCluster(port, folder / "cluster")
        cluster.start()
        try:
            yield cluster
        finally:
            try:
                cluster.stop("immediate")
            except subprocess.CalledProcessError:
                pass  # already stopped
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _postgres_bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    return candidates[-1].parent


class Clients:
    """Threads posting predictions back to back, recording (time, status) of each; 0 = no HTTP answer."""

    def __init__(self, url: str, headers: dict, image: bytes, count: int = 4) -> None:
        self.results: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._args = (url, headers, image)
        self._threads = [threading.Thread(target=self._run) for _ in range(count)]

    def _run(self) -> None:
        url, headers, image = self._args
        session = requests.Session()
        while not self._stop.is_set():
            try:
                code = session.post(url, files={"image": ("7.png", image)}, headers=headers, timeout=30).status_code
            except requests.RequestException:
                code = 0
            self.results.append((time.monotonic(), code))

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


CREATE_LOAD_USER = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
Token.objects.create(user=get_user_model().objects.create_user("load"), key="k" * 40)
"""


@pytest.mark.servers
def test_with_postgresql_restarted_requests_fail_cleanly_and_recover_without_a_restart(tmp_path, canvas_seven):
    web_port = free_port()
    media = tmp_path / "media"
    with postgres_cluster(free_port()) as postgres:
        env = benchserver.production_env(
            DATABASE_URL=postgres.url, MEDIA_ROOT=str(media), API_THROTTLE_USER="100000/minute"
        )
        for command in (["migrate", "-v0"], ["bootstrap"], ["shell", "-c", CREATE_LOAD_USER]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=REPO, env=env, check=True, capture_output=True)
        predictions = f"http://127.0.0.1:{web_port}/api/v1/predictions/"

        with benchserver.gunicorn(2, env=env, port=web_port) as server:
            workers = benchserver.child_pids(server.pid)
            with Clients(predictions, {"Authorization": f"Token {'k' * 40}"}, canvas_seven) as clients:
                time.sleep(2)
                stopped_at = time.monotonic()
                postgres.stop()
                time.sleep(3)
                postgres.start()
                restarted_at = time.monotonic()
                time.sleep(3)
            health = requests.get(f"http://127.0.0.1:{web_port}/health/", timeout=10)
            assert benchserver.child_pids(server.pid) == workers  # recovered without restarting anything

        with psycopg.connect(postgres.url) as db:
            stored = db.execute("SELECT count(*) FROM recognizer_submission").fetchone()[0]

    codes = [code for _, code in clients.results]
    assert set(codes) <= {201, 503}, f"only 201 or a clean 503, got {sorted(set(codes))}"
    assert any(code == 503 for t, code in clients.results if stopped_at <= t <= restarted_at)
    after = [code for t, code in clients.results if t > restarted_at + 1]
    assert after and set(after) == {201}, f"not recovered: {after}"
    assert health.status_code == 200
    assert stored == codes.count(201), "every 201 is stored, nothing else is"
    assert len([p for p in media.rglob("*") if p.is_file()]) == 2 * stored, "no orphan files"
