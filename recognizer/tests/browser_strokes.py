"""Pen strokes traced from MNIST test digits, and helpers that draw them on the page with real pointer input."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image

from ml.strokes import zhang_suen

Polyline = list[tuple[float, float]]  # (x, y) in the digit's own pixel grid

UPSCALE = 4  # thin at 112x112: fine enough for smooth centre lines, small enough to thin in milliseconds
_NEIGHBOURS = [(-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1)]  # 4-neighbours first
PANEL = "[data-result-panel]"


@lru_cache(maxsize=1)
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test images (N, 28, 28) uint8 and labels (N,)."""
    from ml.data import load_mnist

    splits = load_mnist()
    return splits.test_images, splits.test_labels


# --------------------------------------------------------------------------- skeleton -> strokes


def skeleton(digit: np.ndarray) -> np.ndarray:
    """The centre line of a 28x28 MNIST digit, upscaled UPSCALE times before thinning."""
    size = digit.shape[0] * UPSCALE
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
    return zhang_suen(big > 0.5 * float(big.max()))


def _neighbours(skel: np.ndarray, y: int, x: int) -> list[tuple[int, int]]:
    h, w = skel.shape
    return [(y + dy, x + dx) for dy, dx in _NEIGHBOURS if 0 <= y + dy < h and 0 <= x + dx < w and skel[y + dy, x + dx]]


def trace(skel: np.ndarray, min_points: int = 4) -> list[Polyline]:
    """Ordered polylines covering the skeleton: greedy walks from endpoints first, then around closed loops.

    Each walk prefers the neighbour that keeps its direction; a walk that starts or ends beside pixels already
    drawn is joined to them, so strokes meet at junctions and loops close. Tiny spurs are dropped.
    """
    pixels = {(int(y), int(x)) for y, x in zip(*np.nonzero(skel), strict=True)}
    visited: set[tuple[int, int]] = set()
    degree = {p: len(_neighbours(skel, *p)) for p in pixels}
    strokes: list[list[tuple[int, int]]] = []
    while len(visited) < len(pixels):
        left = sorted(pixels - visited)
        ends = [p for p in left if degree[p] == 1]
        start = ends[0] if ends else left[0]
        path = [start]
        visited.add(start)
        joined = [q for q in _neighbours(skel, *start) if q in visited and q != start]
        if joined:
            path.insert(0, joined[0])
        while True:
            y, x = path[-1]
            free = [q for q in _neighbours(skel, y, x) if q not in visited]
            if not free:
                break
            if len(path) >= 2:
                dy, dx = y - path[-2][0], x - path[-2][1]
                free.sort(key=lambda q: -((q[0] - y) * dy + (q[1] - x) * dx))
            path.append(free[0])
            visited.add(free[0])
        if len(path) > 2:
            tail = [q for q in _neighbours(skel, *path[-1]) if q in visited and q not in path[-3:]]
            if tail:
                path.append(tail[0])
        strokes.append(path)
    kept = [s for s in strokes if len(s) >= min_points * UPSCALE // 2] or strokes[:1]
    return [[(x + 0.5, y + 0.5) for y, x in s] for s in kept]


def _simplify(points: Polyline, tolerance: float) -> Polyline:
    """Ramer-Douglas-Peucker: fewer pointer events, the same shape."""
    if len(points) < 3:
        return points
    a, b = np.array(points[0]), np.array(points[-1])
    pts = np.array(points[1:-1])
    ab = b - a
    norm = float(np.hypot(*ab))
    if norm == 0:
        dist = np.hypot(*(pts - a).T)
    else:
        dist = np.abs(ab[0] * (pts[:, 1] - a[1]) - ab[1] * (pts[:, 0] - a[0])) / norm
    i = int(np.argmax(dist))
    if dist[i] <= tolerance:
        return [points[0], points[-1]]
    left = _simplify(points[: i + 2], tolerance)
    return left[:-1] + _simplify(points[i + 1 :], tolerance)


def digit_strokes(index: int) -> tuple[list[Polyline], int]:
    """Simplified strokes (in skeleton pixels) of MNIST test digit `index`, and its label."""
    images, labels = mnist_test()
    strokes = trace(skeleton(images[index]))
    return [_simplify(s, tolerance=0.75) for s in strokes], int(labels[index])


def fit_to_box(strokes: list[Polyline], box: dict, margin: float = 0.18) -> list[Polyline]:
    """Scale and centre strokes into `box` (x, y, width, height in CSS px), keeping the aspect ratio."""
    xs = [x for s in strokes for x, _ in s]
    ys = [y for s in strokes for _, y in s]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    scale = min(box["width"], box["height"]) * (1 - 2 * margin) / span
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    ox, oy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    return [[(ox + (x - cx) * scale, oy + (y - cy) * scale) for x, y in s] for s in strokes]


def lay_out_number(digits: list[list[Polyline]], canvas: dict, gap: float = 0.1) -> list[Polyline]:
    """Digits' strokes side by side on `canvas`, left to right: each fitted into an equal slot of the canvas's
    full height, with `gap` of a slot between neighbours, as a number is written on the Number page's pad."""
    slot = canvas["width"] / len(digits)
    strokes: list[Polyline] = []
    for i, digit in enumerate(digits):
        x = canvas["x"] + i * slot + gap * slot / 2
        strokes += fit_to_box(digit, {"x": x, "y": canvas["y"], "width": slot * (1 - gap), "height": canvas["height"]})
    return strokes


def densify(stroke: Polyline, step: float = 16.0) -> Polyline:
    """Points at most `step` px apart along the stroke, as a hand moving a pointer produces.

    Chromium answers each synthetic pointer event on its next frame (~16 ms), so 16 px per event is a brisk
    ~1000 px/s hand (a digit in under a second); the drawn shape is the same at any step, as the segments
    between the traced points are straight.
    """
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        n = max(1, int(np.ceil(np.hypot(x1 - x0, y1 - y0) / step)))
        out.extend((x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1))
    return out


# --------------------------------------------------------------------------- the page


def canvas_box(page) -> dict:
    """The canvas's content box (inside its border) in CSS px of the viewport."""
    return page.eval_on_selector(
        "[data-testid=draw-canvas]",
        """c => { const r = c.getBoundingClientRect();
                  return {x: r.left + c.clientLeft, y: r.top + c.clientTop,
                          width: c.clientWidth, height: c.clientHeight}; }""",
    )


def arm_result_probe(page) -> None:
    """Forget the last latency, so the next value set on the panel is known to come from the next prediction."""
    page.eval_on_selector(PANEL, "p => { p.dataset.lastLatencyMs = ''; }")


def wait_for_prediction(page, timeout: float = 20_000) -> tuple[int | None, float]:
    """Wait for the prediction the page makes after the last stroke; returns (digit, latency ms the page measured).
    The digit is None when the page says "not a digit" (it shows no digit then), so a refused digit counts wrong."""
    page.wait_for_function(
        """() => { const p = document.querySelector('[data-result-panel]');
                   return p.dataset.lastLatencyMs !== '' && p.dataset.state === 'ready'; }""",
        timeout=timeout,
    )
    digit = page.get_by_test_id("prediction-digit").inner_text().strip()
    latency = float(page.eval_on_selector(PANEL, "p => p.dataset.lastLatencyMs"))
    return (int(digit) if digit else None), latency


def mouse_draw(page, strokes: list[Polyline]) -> None:
    """Draw with the mouse: press, move in small steps, release, for each stroke."""
    arm_result_probe(page)
    for stroke in strokes:
        points = densify(stroke)
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y)
        page.mouse.up()


def touch_draw(cdp, strokes: list[Polyline]) -> None:
    """Draw with a finger through CDP touch events (Playwright's touchscreen can only tap)."""
    for stroke in strokes:
        points = densify(stroke)
        x, y = points[0]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        for x, y in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@dataclass
class DrawingRun:
    """What drawing a set of MNIST test digits on the page gave."""

    debounce_ms: float
    results: list[tuple[int, int, int]] = field(default_factory=list)  # (index, label, predicted)
    page_latency_ms: list[float] = field(default_factory=list)  # stroke end -> result shown, measured by the page
    wall_latency_ms: list[float] = field(default_factory=list)  # mouse up returned -> result seen by the test

    @property
    def accuracy(self) -> float:
        return sum(label == pred for _, label, pred in self.results) / max(len(self.results), 1)

    @property
    def wrong(self) -> list[tuple[int, int, int]]:
        return [r for r in self.results if r[1] != r[2]]

    def summary(self) -> str:
        def stats(values: list[float], minus: float = 0.0) -> str:
            v = sorted(x - minus for x in values)
            p90 = v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]
            return f"median {statistics.median(v):.0f} ms, p90 {p90:.0f} ms"

        d = self.debounce_ms
        return (
            f"drawn {len(self.results)} MNIST test digits: accuracy {self.accuracy:.3f}"
            f" (wrong: {[(i, y, p) for i, y, p in self.wrong]})\n"
            f"  stroke end -> result (page): {stats(self.page_latency_ms)};"
            f" minus the {d:.0f} ms debounce: {stats(self.page_latency_ms, d)}\n"
            f"  mouse up -> result seen (test): {stats(self.wall_latency_ms)};"
            f" minus debounce: {stats(self.wall_latency_ms, d)}"
        )


def draw_set_accuracy(page, indices, debounce_ms: float = 400.0) -> DrawingRun:
    """Draw each MNIST test digit on the page with the mouse, read the auto-prediction, then Clear."""
    run = DrawingRun(debounce_ms=debounce_ms)
    box = canvas_box(page)
    for index in indices:
        strokes, label = digit_strokes(index)
        mouse_draw(page, fit_to_box(strokes, box))
        ended = time.perf_counter()
        predicted, latency = wait_for_prediction(page)
        run.wall_latency_ms.append((time.perf_counter() - ended) * 1000)
        run.page_latency_ms.append(latency)
        run.results.append((index, label, predicted))
        page.get_by_test_id("clear-button").click()
    return run
