"""The Timeline and a linked FlameGraph in real headless Chromium: brushing with the mouse
re-draws the flame graph for the brushed range (checked against the samples table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from profilelab.widgets import FlameGraph, Timeline
from tests.flame_browser import CANVAS_STATS, chromium
from tests.timeline_support import STEP, timed_profile
from tests.widget_page import WidgetPage

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _drag(page: Any, t0: float, t1: float) -> None:
    """Drag across the first timeline from relative time t0 to t1 (ns)."""
    xy = page.evaluate(
        "([a, b]) => { const app = window.__plt[0], r = app.canvas.getBoundingClientRect();"
        " return [r.left + app.xOfT(a), r.left + app.xOfT(b), r.top + 10]; }",
        [t0, t1],
    )
    page.mouse.move(xy[0], xy[2])
    page.mouse.down()
    page.mouse.move((xy[0] + xy[1]) / 2, xy[2] + 20, steps=3)
    page.mouse.move(xy[1], xy[2] + 20)
    synced = page.evaluate("() => window.__synced || 0")
    page.mouse.up()
    page.wait_for_function(f"(window.__synced || 0) > {synced}")


def _shown_total(page: Any) -> float:
    return float(page.evaluate("() => window.__plf[0].view.tree.total[0]"))


def test_brushing_redraws_the_flame_graph_for_the_range(browser: Any) -> None:
    p = timed_profile(repeat=6)
    flame = FlameGraph(p)
    timeline = Timeline(p, flame=flame)
    wp = WidgetPage(browser, {"timeline": timeline, "flame": flame}, width=1000)
    page = wp.page
    stats = page.evaluate(CANVAS_STATS, ".plf-tl-canvas")
    assert stats["colours"] > 3 and stats["painted"] > 0.05  # lanes drawn
    assert _shown_total(page) == p.samples["value"].sum()

    _drag(page, 6.5 * STEP, 21.5 * STEP)
    start, end = timeline.range_ns
    assert abs(start - timeline.density.start_ns - 6.5 * STEP) < STEP / 10  # type: ignore[union-attr]
    wp.push()
    t = pl.col("time_ns")
    in_range = p.samples.filter((t >= start) & (t < end))["value"].sum()
    assert _shown_total(page) == in_range < p.samples["value"].sum()
    assert "range" in page.locator(".plf-tl-range").inner_text()

    page.click(".plf-tl-clear")  # back to the whole profile
    page.wait_for_function("window.__models.timeline.raw._brush.length === 0")
    wp.push()
    assert timeline.range_ns == [] and _shown_total(page) == p.samples["value"].sum()
    assert wp.errors == []


def test_lane_click_shows_a_flame_chart_and_names_stay_text(browser: Any) -> None:
    from tests._synth import build, raw_from_stacks

    raw = raw_from_stacks(
        [["main", EVIL], ["main", EVIL], ["main", "x"]],
        [1, 2, 3],
        sample_labels=[{"thread.name": EVIL}] * 3,
    )
    import numpy as np

    raw.sample_time_ns = np.array([10, 20, 30], dtype=np.int64)
    raw.sample_time_valid = np.ones(3, dtype=bool)
    p = build([raw])
    timeline = Timeline(p)
    wp = WidgetPage(browser, {"timeline": timeline})
    page = wp.page
    box = page.locator(".plf-tl-canvas").bounding_box()
    synced = page.evaluate("() => window.__synced || 0")
    page.mouse.click(box["x"] + 20, box["y"] + 10)  # the first lane's name
    page.wait_for_function(f"(window.__synced || 0) > {synced}")
    assert timeline.chart_lane == EVIL
    wp.push()
    assert "3 rectangles" in page.locator(".plf-tl-chart-title").inner_text()
    stats = page.evaluate(CANVAS_STATS, ".plf-tl-chart")
    assert stats["painted"] > 0.3
    assert page.evaluate("() => window.__pwned === undefined")
    assert wp.errors == []


def test_no_timestamps_message_in_the_page(browser: Any) -> None:
    wp = WidgetPage(browser, {"timeline": Timeline(timed_profile(timed=False))})
    text = wp.page.locator(".plf-tl-message").inner_text()
    assert "no timestamps" in text
    assert wp.page.locator(".plf-tl-canvas").is_hidden()


def test_a_lane_with_more_samples_than_pixels_is_charted_at_a_level_of_detail(
    browser: Any,
) -> None:
    p = timed_profile(repeat=300)  # 1,200 "main" samples, more than the canvas's pixels
    timeline = Timeline(p)
    wp = WidgetPage(browser, {"timeline": timeline}, width=700)
    assert timeline.width_px < 1200
    timeline.chart_lane = "main"
    wp.push()
    title = wp.page.locator(".plf-tl-chart-title").inner_text()
    assert "1200 samples" in title and "per pixel" in title
    stats = wp.page.evaluate(CANVAS_STATS, ".plf-tl-chart")
    assert stats["colours"] > 3 and stats["painted"] > 0.3
    assert wp.errors == []
