"""Timeline benchmark: 1M timestamped samples, timeline first draw and a brush's flame redraw.

usage: python benchmarks/bench_timeline.py [--samples N]

The profile is made by ``benchmarks/synth.py`` (Zipf-drawn stacks of a synthetic Go
service, an ``endpoint`` label on 30% of samples) and given sample times directly: sorted
uniform times over 60 s. Lanes are by ``endpoint``. Numbers:

* reference: a plain Polars group-by of the samples (value per stack), measured here;
* timeline: density + payload (Python) + the canvas draw in headless Chromium;
* brush: a 10% range set on the Timeline, the linked FlameGraph's tree and table rebuilt.

Each is printed as seconds, as a ratio to the reference, and beside its budget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

import profilelab  # noqa: E402
from benchmarks.synth import Program  # noqa: E402
from profilelab.views import timeline as tl  # noqa: E402
from profilelab.widgets import FlameGraph, Timeline  # noqa: E402

T0 = 1_700_000_000_000_000_000
SPAN_NS = 60_000_000_000
BUDGET = {"timeline_s": 1.0, "brush_s": 0.3}


def timed_profile(samples: int) -> profilelab.Profile:
    data = Program("shop", 7, functions=3000, stacks=20_000).profile(3, samples, T0)
    p = profilelab.load(data)
    rng = np.random.default_rng(5)
    index = p.samples.get_column("sample_index").to_numpy()
    times = np.sort(rng.integers(T0, T0 + SPAN_NS, size=int(index.max()) + 1))
    # one time per input sample, shared by its sample types (as the readers do)
    return p.replace(samples=p.samples.with_columns(pl.Series("time_ns", times[index])))


def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def draw_seconds(timeline: Timeline) -> float:
    from playwright.sync_api import sync_playwright

    from tests.flame_browser import ARGS
    from tests.widget_page import WidgetPage

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = WidgetPage(browser, {"timeline": timeline}, width=1400).page
        ms = page.evaluate(
            "() => { const a = window.__plt[0], t = performance.now(); a.draw();"
            " return performance.now() - t; }"
        )
        browser.close()
    return float(ms) / 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1_000_000)
    a = ap.parse_args()
    t = time.perf_counter()
    p = timed_profile(a.samples)
    print(f"profile: {p.samples.height:,} sample rows, made in {time.perf_counter() - t:.1f} s")
    ref = best(lambda: p.samples.group_by("stack_id").agg(pl.col("value").sum()))
    build = best(lambda: tl.encode_density(tl.density(p, lane_key="endpoint")))
    timeline = Timeline(p, lane_key="endpoint")
    draw = draw_seconds(timeline)
    flame = FlameGraph(p)
    timeline.link(flame)
    start = timeline.density.start_ns  # type: ignore[union-attr]
    ranges = iter([start + k * SPAN_NS // 20 for k in range(20)])

    def brush() -> None:
        lo = next(ranges)
        timeline.range_ns = [lo, lo + SPAN_NS // 10]
        assert flame.error == ""

    brushed = [best(brush, 1) for _ in range(5)]
    results = {"timeline_s": build + draw, "brush_s": statistics.median(brushed)}
    print(f"reference (Polars group-by of the samples): {ref * 1000:.0f} ms")
    print(f"timeline: density + payload {build * 1000:.0f} ms, canvas draw {draw * 1000:.0f} ms")
    for name, value in results.items():
        print(
            f"{name}: {value:.3f} s = {value / ref:.1f}x reference "
            f"(budget {BUDGET[name]} s: {'ok' if value <= BUDGET[name] else 'OVER'})"
        )


if __name__ == "__main__":
    main()
