"""Benchmark: whole numbers written with the mouse on the Number page in Chromium, from MNIST test digits' strokes."""

# The application is started here, as deployed (gunicorn, production settings, static files collected), on
# loopback with a throwaway SQLite database and media folder; an account is made through the sign-up page; each
# number is 2 to 4 random MNIST test digits whose centre lines are traced and written left to right on the pad
# with real pointer input (recognizer/tests/browser_strokes.py, as the browser tests write), and what the page
# reads by itself after the last stroke is compared with the digits written. Run as `python -m bench.browser_numbers`.

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench import BenchmarkFailed, servers
from recognizer.tests import browser_strokes as bs

SEED = 14040
DIGIT_COUNTS = (2, 4)  # digits per number, both included
TARGET = {"numbers": 40, "whole_share": 0.95}  # issue 14: >= 95% of at least 40 numbers read whole
CHROMIUM = "/usr/bin/chromium"  # Debian's, as the browser tests use
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
VIEWPORT = {"width": 1100, "height": 900}  # the browser tests' desktop
WORKSPACE_JS = servers.REPO_ROOT / "static" / "recognizer" / "workspace.js"
READ_TIMEOUT_MS = 30_000

# Installed once on the Number page: when the last pointer went up, and every answer the panel showed (or error it
# said) with when the reading it shows started. The page shows the latency it measured from the stroke end its
# reading followed; an answer whose start is the last stroke's end is the reading of the whole drawing, and one
# from an earlier stroke's end was read while the number was still being written (replaced when it is done).
ANSWER_LOG_JS = """() => {
  const panel = document.querySelector('[data-number-panel]');
  const log = { lastUp: 0, answers: [] };
  window.__benchAnswers = log;
  window.addEventListener('pointerup', () => { log.lastUp = performance.now(); }, true);
  new MutationObserver(() => {
    const state = panel.dataset.state, ms = panel.dataset.lastLatencyMs;
    if (state === 'error') {
      const error = panel.querySelector('[data-result-error]').textContent.trim();
      log.answers.push({ at: performance.now(), startedAt: null, state, error, number: null, answer: 'error' });
    } else if (state === 'ready' && ms !== '') {
      const at = performance.now();
      log.answers.push({ at, startedAt: at - Number(ms), state, latencyMs: Number(ms), error: '',
                         number: panel.querySelector('[data-number-value]').textContent.trim(),
                         answer: panel.dataset.answer,
                         reason: panel.querySelector('[data-number-reason]').textContent.trim(),
                         detail: (panel.querySelector('[data-result-detail]') || {}).href || '' });
    }
  }).observe(panel, { attributes: true, attributeFilter: ['data-state', 'data-last-latency-ms'] });
}"""

# The answer to the whole drawing: shown from the last stroke's end (2 ms for the page's rounding), or an error
# said once the pause has passed. Null while it is still coming.
FINAL_ANSWER_JS = """(delayMs) => {
  const log = window.__benchAnswers;
  return log.answers.find((a) => a.startedAt !== null ? a.startedAt >= log.lastUp - 2
                                                      : a.at >= log.lastUp + delayMs) || null;
}"""


# --------------------------------------------------------------------------- what is written


def choose_numbers(count: int, *, seed: int, test_size: int) -> list[tuple[int, ...]]:
    """`count` numbers, each 2 to 4 MNIST test indices drawn at random (distinct within a number), reproducibly."""
    rng = np.random.default_rng(seed)
    numbers = []
    for _ in range(count):
        digits = int(rng.integers(DIGIT_COUNTS[0], DIGIT_COUNTS[1] + 1))
        numbers.append(tuple(int(i) for i in rng.choice(test_size, size=digits, replace=False)))
    return numbers


def number_strokes(indices: Sequence[int], canvas: dict) -> tuple[list[bs.Polyline], str]:
    """The digits' traced strokes laid out left to right on `canvas` (the browser tests' layout); the truth."""
    digits = [bs.digit_strokes(index) for index in indices]
    truth = "".join(str(label) for _, label in digits)
    return bs.lay_out_number([strokes for strokes, _ in digits], canvas), truth


def auto_read_delay_ms() -> float:
    """The pause after a stroke before the page reads by itself, as the page scripts are configured."""
    match = re.search(r"AUTO_PREDICT_DELAY_MS\s*=\s*(\d+)", WORKSPACE_JS.read_text())
    return float(match.group(1)) if match else 700.0


# --------------------------------------------------------------------------- the report


@dataclass
class NumberResult:
    """One number written on the page, and what the page read by itself after its last stroke."""

    indices: list[int]
    truth: str
    read: str | None  # the number shown; None when the page said it is not a number, or failed
    answer: str  # "number", "not-a-number", "error" or "timeout"
    latency_ms: float | None = None  # last stroke's end -> answer shown, as the page measured it
    write_s: float = 0.0  # the pointer input, first press to last release
    early_answers: int = 0  # answers shown while the number was still being written (then replaced)
    reason: str = ""  # why it is not a number, or the error
    model_version: str | None = None
    api_number: str | None = None  # the stored number, from GET /api/v1/numbers/{id}/

    @property
    def whole(self) -> bool:
        return self.read == self.truth


@dataclass
class BrowserNumbersReport:
    seed: int
    results: list[NumberResult] = field(default_factory=list)
    wall_s: float = 0.0
    date: str = field(default_factory=lambda: dt.date.today().isoformat())
    chromium: str = ""
    canvas: dict = field(default_factory=dict)
    stored_numbers: int | None = None  # numbers the account holds at the end: one per drawing

    @property
    def drawn(self) -> int:
        return len(self.results)

    @property
    def read_whole(self) -> int:
        return sum(r.whole for r in self.results)

    @property
    def share(self) -> float:
        return self.read_whole / self.drawn if self.drawn else 0.0

    @property
    def wrong(self) -> list[NumberResult]:
        return [r for r in self.results if not r.whole]

    @property
    def target_met(self) -> bool:
        return self.drawn >= TARGET["numbers"] and self.share >= TARGET["whole_share"]

    @property
    def model_versions(self) -> list[str]:
        return sorted({r.model_version for r in self.results if r.model_version})

    def by_digit_count(self) -> dict[int, dict[str, int]]:
        counts: dict[int, dict[str, int]] = {}
        for r in self.results:
            row = counts.setdefault(len(r.truth), {"drawn": 0, "read_whole": 0})
            row["drawn"] += 1
            row["read_whole"] += r.whole
        return dict(sorted(counts.items()))

    def digit_accuracy(self) -> tuple[int, int]:
        """(digits right, digits scored) over the numbers read with as many digits as were written."""
        scored = [(r.truth, r.read) for r in self.results if r.read is not None and len(r.read) == len(r.truth)]
        return sum(t == p for truth, read in scored for t, p in zip(truth, read, strict=True)), sum(
            len(truth) for truth, _ in scored
        )

    def latency_ms(self) -> dict[str, float] | None:
        values = sorted(r.latency_ms for r in self.results if r.latency_ms is not None)
        if not values:
            return None
        p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
        return {"median": statistics.median(values), "p90": p90, "max": values[-1]}

    def to_dict(self) -> dict:
        right, scored = self.digit_accuracy()
        versions = self.model_versions
        return {
            "date": self.date,
            "model_version": versions[0] if len(versions) == 1 else versions,
            "seed": self.seed,
            "source": "MNIST test digits, 2-4 per number at random, centre lines traced and written with the mouse",
            "browser": f"Chromium {self.chromium} (headless), Playwright page.mouse",
            "viewport": VIEWPORT,
            "canvas_css_px": self.canvas,
            "target": TARGET,
            "numbers": self.drawn,
            "read_whole": self.read_whole,
            "whole_share": round(self.share, 4),
            "target_met": self.target_met,
            "by_digit_count": {str(n): row for n, row in self.by_digit_count().items()},
            "digit_accuracy": round(right / scored, 4) if scored else None,
            "digits_scored": scored,
            "wrong": [{"truth": r.truth, "read": r.read, "answer": r.answer, "indices": r.indices} for r in self.wrong],
            "answer_latency_ms": self.latency_ms(),
            "early_answers": sum(r.early_answers for r in self.results),
            "stored_numbers": self.stored_numbers,
            "wall_s": round(self.wall_s, 1),
            "results": [asdict(r) for r in self.results],
        }

    def table(self) -> str:
        right, scored = self.digit_accuracy()
        lines = [f"{'digits':>6s} {'drawn':>6s} {'whole':>6s} {'share':>7s}"]
        for n, row in self.by_digit_count().items():
            lines.append(f"{n:6d} {row['drawn']:6d} {row['read_whole']:6d} {row['read_whole'] / row['drawn']:7.1%}")
        lines.append(f"{'all':>6s} {self.drawn:6d} {self.read_whole:6d} {self.share:7.1%}")
        wrong = ", ".join(f"{r.truth} -> {r.read if r.read is not None else r.answer}" for r in self.wrong)
        latency = self.latency_ms()
        lines += [
            f"digits right where as many were read as written: {right}/{scored}"
            + (f" ({right / scored:.1%})" if scored else ""),
            f"wrong (written -> read): {wrong or 'none'}",
            "last stroke -> number shown (page, auto-read pause included): "
            + (f"median {latency['median']:.0f} ms, p90 {latency['p90']:.0f} ms" if latency else "-"),
            f"answers shown while still writing (replaced): {sum(r.early_answers for r in self.results)}; "
            f"numbers stored: {self.stored_numbers}",
            f"model version {', '.join(self.model_versions) or '-'}; seed {self.seed}; wall time {self.wall_s:.0f} s",
            f"target: >= {TARGET['whole_share']:.0%} of >= {TARGET['numbers']} numbers read whole: "
            + ("met" if self.target_met else "NOT met"),
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------- the application


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=servers.REPO_ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BenchmarkFailed(f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


@contextlib.contextmanager
def application(folder: Path) -> Iterator[str]:
    """The site on gunicorn (production settings) with SQLite, media, static files and broker in `folder`."""
    env = servers.production_env(
        DJANGO_SETTINGS_MODULE="digitvision_site.settings",  # not the suite's, when a test starts this
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        MEDIA_ROOT=str(folder / "media"),
        STATIC_ROOT=str(folder / "static"),
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_FOLDER=str(folder / "broker"),
        CACHE_URL="locmemcache://",
    )
    for args in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"], ["bootstrap"]):
        _manage(*args, env=env)
    port = free_port()
    with servers.gunicorn(2, env=env, port=port):
        yield f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- the page


def sign_up(page, base_url: str) -> None:
    """A new account through the sign-up form (it signs in), then the Number page, its script bound."""
    password = secrets.token_urlsafe(16)
    page.goto(f"{base_url}/accounts/signup/")
    page.fill("input[name=username]", f"bench-{secrets.token_hex(4)}")
    page.fill("input[name=password1]", password)
    page.fill("input[name=password2]", password)
    page.locator("form.stack-form button[type=submit]").click()
    page.wait_for_selector("[data-testid=draw-canvas]")
    page.goto(f"{base_url}/numbers/")
    page.wait_for_load_state("load")  # the module script has bound the pad's handlers
    page.evaluate(ANSWER_LOG_JS)


def write_number(
    page, base_url: str, indices: Sequence[int], *, canvas: dict, delay_ms: float, screenshots: Path | None = None
) -> NumberResult:
    """Write one number with the mouse, wait for the page's own reading of all of it, read it off, then Clear.

    A number misread is saved as a screenshot of the pad and the panel in `screenshots`, when given."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    strokes, truth = number_strokes(indices, canvas)
    page.evaluate("() => { window.__benchAnswers.answers = []; }")
    started = time.perf_counter()
    bs.mouse_draw(page, strokes)
    write_s = time.perf_counter() - started
    result = NumberResult(indices=list(indices), truth=truth, read=None, answer="timeout", write_s=round(write_s, 2))
    try:
        final = page.wait_for_function(FINAL_ANSWER_JS, arg=delay_ms, timeout=READ_TIMEOUT_MS).json_value()
    except PlaywrightTimeout as error:  # no answer came: counted as not read
        result.reason = str(error).splitlines()[0]
        final = None
    answers = page.evaluate("() => window.__benchAnswers.answers")
    if final is not None:
        result.early_answers = sum(1 for a in answers if a["at"] < final["at"])
        result.answer = final["answer"]
        result.reason = final.get("reason") or final.get("error") or ""
        if final["answer"] == "number":
            result.read = final["number"]
            result.latency_ms = final["latencyMs"]
        match = re.search(r"/numbers/(\d+)/", final.get("detail") or "")
        if match:
            stored = page.request.get(f"{base_url}/api/v1/numbers/{match.group(1)}/")
            if stored.ok:
                body = stored.json()
                result.model_version, result.api_number = body.get("model_version"), body.get("number")
    if screenshots is not None and not result.whole:
        screenshots.mkdir(parents=True, exist_ok=True)
        name = f"{result.truth}-read-{result.read or result.answer}-{'-'.join(map(str, indices))}.png"
        page.locator("[data-number-page]").screenshot(path=str(screenshots / name))
    page.get_by_test_id("clear-button").click()
    return result


def stored_numbers(page, base_url: str) -> int | None:
    response = page.request.get(f"{base_url}/api/v1/numbers/")
    if not response.ok:
        return None
    body = response.json()
    return body.get("count", len(body.get("results", []))) if isinstance(body, dict) else len(body)


def run(*, numbers: int, seed: int, progress: bool = True, screenshots: Path | None = None) -> BrowserNumbersReport:
    """Start the site and Chromium, write `numbers` numbers on the Number page; the report."""
    if not Path(CHROMIUM).exists():
        raise BenchmarkFailed(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    images, _ = bs.mnist_test()
    chosen = choose_numbers(numbers, seed=seed, test_size=len(images))
    delay_ms = auto_read_delay_ms()
    report = BrowserNumbersReport(seed=seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="digitvision-bench-browser-") as folder:
        with application(Path(folder)) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            report.chromium = browser.version
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(15_000)
            page = context.new_page()
            sign_up(page, base_url)
            report.canvas = bs.canvas_box(page)
            for k, indices in enumerate(chosen, start=1):
                result = write_number(
                    page, base_url, indices, canvas=report.canvas, delay_ms=delay_ms, screenshots=screenshots
                )
                report.results.append(result)
                if progress:
                    mark = "ok" if result.whole else "WRONG"
                    shown = result.read if result.read is not None else result.answer
                    print(f"{k:3d}/{numbers}  {result.truth:>5s} -> {shown!s:>5s}  {mark}", flush=True)
            report.stored_numbers = stored_numbers(page, base_url)
            context.close()
            browser.close()
    report.wall_s = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--numbers", type=int, default=TARGET["numbers"], help="numbers to write (default 40)")
    parser.add_argument("--seed", type=int, default=SEED, help="which MNIST test digits are drawn")
    parser.add_argument("--json", type=Path, help="also write the report here (bench/results/browser_numbers.json)")
    parser.add_argument("--screenshots", type=Path, help="save each misread number's pad and panel here")
    parser.add_argument("--quiet", action="store_true", help="no line per number")
    args = parser.parse_args(argv)
    if args.numbers < 1:
        parser.error("--numbers must be at least 1")
    try:
        report = run(numbers=args.numbers, seed=args.seed, progress=not args.quiet, screenshots=args.screenshots)
    except BenchmarkFailed as error:
        print(f"bench.browser_numbers: {error}", file=sys.stderr)
        return 1
    print(report.table())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
