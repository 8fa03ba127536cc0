"""Load benchmark: gunicorn on the configured database, N concurrent API clients for a fixed time, on loopback."""

import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from PIL import Image, ImageDraw
from rest_framework.authtoken.models import Token

from recognizer.models import Submission

PORT = 8765


def canvas_seven() -> bytes:
    """What the draw page sends: a 280-px transparent canvas with a dark 7."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(70, 50), (210, 50), (120, 240)], fill=(0, 0, 0, 255), width=24, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = "Start gunicorn, drive POST /api/v1/predictions/ with N clients for S seconds per level, report figures."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--clients", type=int, nargs="+", default=[8, 16])
        parser.add_argument("--seconds", type=float, default=60.0)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")

    def handle(self, *args, clients: list[int], seconds: float, workers: int, out: Path | None, **options) -> None:
        from django.contrib.auth import get_user_model

        user, _ = get_user_model().objects.get_or_create(username="bench-load")
        token, _ = Token.objects.get_or_create(user=user)
        image = canvas_seven()
        bare_ms = self._bare_predictor_ms(image)
        server = self._start_gunicorn(workers)
        try:
            levels = [self._level(n, seconds, token.key, image, user) for n in clients]
        finally:
            server.terminate()
            server.wait(20)
        report = {
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "gunicorn_workers": workers,
            "seconds_per_level": seconds,
            "bare_predictor_p50_ms": bare_ms,
            "levels": levels,
        }
        for level in levels:
            level["end_to_end_over_bare_p50"] = round(level["p50_ms"] / bare_ms, 1)
            self.stdout.write(
                f"{level['clients']:>3} clients: {level['throughput_per_s']:.0f} predictions/s, "
                f"p50 {level['p50_ms']:.1f} ms, p99 {level['p99_ms']:.1f} ms, errors {level['errors']}, "
                f"201s {level['created']} = stored {level['stored']}; "
                f"end-to-end p50 / bare predictor p50 = {level['end_to_end_over_bare_p50']}x"
            )
        if out:
            out.write_text(json.dumps(report, indent=1))
        if any(level["errors"] or level["created"] != level["stored"] for level in levels):
            raise CommandError("errors, or stored submissions differ from the 201 answers")

    def _bare_predictor_ms(self, image: bytes) -> float:
        from recognizer.inference import get_predictor

        predictor, _ = get_predictor()
        timings = []
        for _ in range(300):
            started = time.perf_counter()
            predictor.predict(image)
            timings.append((time.perf_counter() - started) * 1000)
        return round(statistics.median(timings), 2)

    def _start_gunicorn(self, workers: int) -> subprocess.Popen:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "digitvision_site.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ]
        server = subprocess.Popen(command, cwd=settings.BASE_DIR, env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{PORT}/api/schema/", timeout=1)
                return server
            except requests.ConnectionError:
                time.sleep(0.3)
        server.terminate()
        raise CommandError("gunicorn did not start")

    def _level(self, clients: int, seconds: float, token: str, image: bytes, user) -> dict:
        before = Submission.objects.filter(user=user).count()
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def client() -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {token}"
            mine, codes = [], {}
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    code = session.post(
                        f"http://127.0.0.1:{PORT}/api/v1/predictions/",
                        files={"image": ("seven.png", image, "image/png")},
                        timeout=30,
                    ).status_code
                except requests.RequestException:
                    code = 0
                mine.append((time.perf_counter() - started) * 1000)
                codes[code] = codes.get(code, 0) + 1
            with lock:
                latencies.extend(mine)
                for code, count in codes.items():
                    statuses[code] = statuses.get(code, 0) + count

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        created = statuses.get(201, 0)
        return {
            "clients": clients,
            "requests": len(latencies),
            "created": created,
            "errors": len(latencies) - created,
            "statuses": {str(k): v for k, v in statuses.items()},
            "stored": Submission.objects.filter(user=user).count() - before,
            "throughput_per_s": round(created / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
        }
