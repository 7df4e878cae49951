"""Timeline benchmark: 1M timestamped samples, timeline first draw and a brush's flame redraw.

usage: python benchmarks/bench_timeline.py [--samples N]

The profile is made by ``benchmarks/synth.py`` (Zipf-drawn stacks of a synthetic Go
service, an ``endpoint`` label on 30% of samples) and given sample times directly: sorted
uniform times over 60 s. Lanes are by ``endpoint``. Numbers:

* reference: a plain Polars group-by of the samples (value per stack), measured here;
* timeline: ``Timeline(profile)`` (density + payload, Python) + its front end in headless
  Chromium (payload decoded, lanes drawn);
* brush: a 10% range set on the Timeline: the linked FlameGraph's tree and table rebuilt
  (Python) and drawn (Chromium), then the same with the busiest lane's flame chart open
  (rebuilt and drawn too).

Each is printed in seconds, as a ratio to its budget and to the reference; the load
average (1 minute) is printed at the start and the end, as the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

import profilelab  # noqa: E402
from benchmarks.synth import Program  # noqa: E402
from profilelab.widgets import FlameGraph, Timeline  # noqa: E402

T0 = 1_700_000_000_000_000_000
SPAN_NS = 60_000_000_000
BUDGET = {"timeline_s": 1.0, "brush_s": 0.3, "brush_with_chart_s": 0.3}


def timed_profile(samples: int) -> profilelab.Profile:
    data = Program("shop", 7, functions=3000, stacks=20_000).profile(3, samples, T0)
    p = profilelab.load(data)
    rng = np.random.default_rng(5)
    index = p.samples.get_column("sample_index").to_numpy()
    times = np.sort(rng.integers(T0, T0 + SPAN_NS, size=int(index.max()) + 1))
    # one time per input sample, shared by its sample types (as the readers do)
    return p.replace(samples=p.samples.with_columns(pl.Series("time_ns", times[index])))


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


#: base64 is the test page's stand-in for the comm's binary buffers: decoded before timing
PUSH = """([n, s]) => {
  const m = window.__models[n], bytes = {}, ms = {};
  for (const k in s) bytes[k] = s[k] && s[k].$b64 !== undefined
    ? Uint8Array.from(atob(s[k].$b64), (c) => c.charCodeAt(0)) : s[k];
  for (const k in s) {
    const t = performance.now();
    m.raw[k] = s[k]; m.s[k] = bytes[k];
    for (const f of m.h["change:" + k] || []) f();
    ms[k] = performance.now() - t;
  }
  return ms;
}"""


class Page:
    """The widgets in headless Chromium; :meth:`push_seconds` times a front end's update
    (payload decoded from base64, as from the comm, and drawn)."""

    def __init__(self, widgets: dict[str, Any]) -> None:
        from playwright.sync_api import sync_playwright

        from tests.flame_browser import ARGS
        from tests.widget_page import WidgetPage, _state

        self._state = _state
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        self.wp = WidgetPage(self._browser, widgets, width=1400)
        self.parts: list[dict[str, float]] = []

    def push_seconds(self, name: str, keys: tuple[str, ...] | None = None) -> float:
        state = self._state(self.wp.widgets[name])
        if keys is not None:
            state = {k: v for k, v in state.items() if k in keys}
        ms = self.wp.page.evaluate(PUSH, [name, state])
        self.parts.append({k: round(v, 1) for k, v in ms.items()})
        return float(sum(ms.values())) / 1000

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1_000_000)
    a = ap.parse_args()
    load_start = os.getloadavg()[0]
    t = time.perf_counter()
    p = timed_profile(a.samples)
    print(f"profile: {p.samples.height:,} sample rows, made in {time.perf_counter() - t:.1f} s")
    ref = best(lambda: p.samples.group_by("stack_id").agg(pl.col("value").sum()))
    build = best(lambda: Timeline(p, lane_key="endpoint"))
    timeline = Timeline(p, lane_key="endpoint")
    flame = FlameGraph(p, width_px=1400)
    t = time.perf_counter()
    timeline.link(flame)
    link = time.perf_counter() - t
    page = Page({"timeline": timeline, "flame": flame})
    draw = statistics.median(page.push_seconds("timeline", ("_density",)) for _ in range(3))
    start = timeline.density.start_ns  # type: ignore[union-attr]
    ranges = iter([start + k * SPAN_NS // 23 for k in range(40)])

    def brush(widgets: tuple[str, ...]) -> tuple[float, float]:
        lo = next(ranges)
        t = time.perf_counter()
        timeline.range_ns = [lo, lo + SPAN_NS // 10]
        python = time.perf_counter() - t
        assert flame.error == "" and timeline.error == ""
        js = sum(page.push_seconds(w, ("_tree", "_table", "_chart", "_brush")) for w in widgets)
        return python, js

    plain = [brush(("flame",)) for _ in range(5)]
    timeline.range_ns = []
    t = time.perf_counter()
    timeline.chart_lane = timeline.density.lanes[0]  # type: ignore[union-attr]
    lane_index = time.perf_counter() - t
    charted = [brush(("flame", "timeline")) for _ in range(5)]
    print("front-end milliseconds per trait, last brushes:", page.parts[-4:])
    page.close()
    load_end = os.getloadavg()[0]

    def med(rows: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    results = {
        "timeline_s": build + draw,
        "brush_s": med(plain, 0) + med(plain, 1),
        "brush_with_chart_s": med(charted, 0) + med(charted, 1),
    }
    print(f"load average (1 min): {load_start:.1f} at start, {load_end:.1f} at end")
    print(f"reference (Polars group-by of the samples): {ref * 1000:.0f} ms")
    print(f"timeline: Python {build * 1000:.0f} ms, Chromium decode + draw {draw * 1000:.0f} ms")
    print(f"link (samples sorted by time once): {link * 1000:.0f} ms")
    print(f"brush: Python {med(plain, 0) * 1000:.0f} ms, Chromium {med(plain, 1) * 1000:.0f} ms")
    print(f"first flame chart (lane index built, once per lane key): {lane_index * 1000:.0f} ms")
    print(
        f"brush with the flame chart open: Python {med(charted, 0) * 1000:.0f} ms, "
        f"Chromium {med(charted, 1) * 1000:.0f} ms"
    )
    for name, value in results.items():
        print(
            f"{name}: {value:.3f} s = {value / BUDGET[name]:.2f}x its budget "
            f"({BUDGET[name]} s: {'ok' if value <= BUDGET[name] else 'OVER'}), "
            f"{value / ref:.1f}x reference"
        )


if __name__ == "__main__":
    main()
