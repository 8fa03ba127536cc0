"""Load benchmark: gunicorn (production settings) on the configured database, N concurrent API clients per level."""

# The clients are asyncio tasks in this one process (aiohttp), so they take little of the machine the server is
# measured on. Run as `python -m bench.load` (`make bench-load` gives it a throwaway database).

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw
from urllib3 import encode_multipart_formdata

from bench import BenchmarkFailed, servers
from bench.django_env import setup_django


def canvas_seven() -> bytes:
    """What the draw page sends: a 280-px transparent canvas with a dark 7."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(70, 50), (210, 50), (120, 240)], fill=(0, 0, 0, 255), width=24, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def drive(*, tokens: list[str], seconds: float, image: bytes) -> tuple[list[float], dict[int, int], float]:
    """One client per token (one person each), each POSTing a prediction as soon as its last one is answered.

    Returns every request's latency (ms), the count of each status (0 = no answer) and the elapsed seconds.
    """
    import aiohttp  # a benchmark-only dependency (requirements-dev.txt)

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.monotonic() + seconds
    url = f"{servers.BASE_URL}/api/v1/predictions/"
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=len(tokens))
    # The same multipart body every time: encoded once, so the clients spend little of the shared CPU.
    body, content_type = encode_multipart_formdata({"image": ("seven.png", image, "image/png")})

    async def client(session: aiohttp.ClientSession, token: str) -> None:
        headers = {"Authorization": f"Token {token}", "Content-Type": content_type}
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    code = response.status
            except (TimeoutError, aiohttp.ClientError):
                code = 0
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[code] = statuses.get(code, 0) + 1

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, token) for token in tokens))
        return latencies, statuses, time.perf_counter() - started


def run(*, clients: list[int], seconds: float, warmup: float, workers: int) -> dict:
    """Start gunicorn, drive POST /api/v1/predictions/ with each number of clients in turn; the figures."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    # Each client is a person of its own, as real load is (each with its own rate counter).
    users = [get_user_model().objects.get_or_create(username=f"bench-load-{n}")[0] for n in range(max(clients))]
    tokens = [Token.objects.get_or_create(user=user)[0].key for user in users]
    image = canvas_seven()
    bare_ms = _bare_predictor_ms(image)
    with servers.gunicorn(workers):
        # Every worker loads its model and opens its database connection before anything is timed.
        asyncio.run(drive(tokens=tokens, seconds=warmup, image=image))
        levels = [_level(tokens[:n], seconds, image, users) for n in clients]
    for level in levels:
        level["end_to_end_over_bare_p50"] = round(level["p50_ms"] / bare_ms, 1)
    return {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "gunicorn_workers": workers,
        "seconds_per_level": seconds,
        "bare_predictor_p50_ms": bare_ms,
        "levels": levels,
    }


def _bare_predictor_ms(image: bytes) -> float:
    from recognizer.serving import get_predictor

    predictor, _ = get_predictor()
    for _ in range(30):
        predictor.predict(image)  # warm-up: the first calls set ONNX Runtime up
    timings = []
    for _ in range(300):
        started = time.perf_counter()
        predictor.predict(image)
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def _level(tokens: list[str], seconds: float, image: bytes, users: list) -> dict:
    from recognizer.models import Submission

    before = Submission.objects.filter(user__in=users).count()
    latencies, statuses, elapsed = asyncio.run(drive(tokens=tokens, seconds=seconds, image=image))
    created = statuses.get(201, 0)
    return {
        "clients": len(tokens),
        "requests": len(latencies),
        "created": created,
        "errors": len(latencies) - created,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "stored": Submission.objects.filter(user__in=users).count() - before,
        "throughput_per_s": round(created / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start gunicorn, drive POST /api/v1/predictions/ with N clients for S seconds per level, "
        "report figures. Writes rows: run it on a throwaway database (`make bench-load`)."
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    setup_django()
    try:
        report = run(clients=args.clients, seconds=args.seconds, warmup=args.warmup, workers=args.workers)
    except BenchmarkFailed as error:
        print(f"bench.load: {error}", file=sys.stderr)
        return 1
    for level in report["levels"]:
        print(
            f"{level['clients']:>3} clients: {level['throughput_per_s']:.0f} predictions/s, "
            f"p50 {level['p50_ms']:.1f} ms, p99 {level['p99_ms']:.1f} ms, errors {level['errors']}, "
            f"201s {level['created']} = stored {level['stored']}; "
            f"end-to-end p50 / bare predictor p50 = {level['end_to_end_over_bare_p50']}x"
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    if any(level["errors"] or level["created"] != level["stored"] for level in report["levels"]):
        print("bench.load: errors, or stored submissions differ from the 201 answers", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
