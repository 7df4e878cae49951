"""The Timeline widget's Python side: brushes narrow linked flame graphs, charts, messages."""

from __future__ import annotations

import polars as pl

from profilelab.views.encode import decode
from profilelab.widgets import FlameGraph, Timeline
from tests.timeline_support import STEP, T0, timed_profile


def _in_range(profile: object, start: int, end: int) -> int:
    t = pl.col("time_ns")
    return int(profile.samples.filter((t >= start) & (t < end))["value"].sum())  # type: ignore[attr-defined]


def test_brush_redraws_the_linked_flame_graph_for_the_range() -> None:
    p = timed_profile()
    flame = FlameGraph(p)
    timeline = Timeline(p).link(flame)
    whole = decode(flame._tree)[1]["total"][0]
    assert whole == p.samples["value"].sum()
    timeline._brush = [5.0 * STEP, 17.0 * STEP]  # what the browser sends: relative ns
    assert timeline.range_ns == [T0 + 5 * STEP, T0 + 17 * STEP]
    assert flame.range_ns == timeline.range_ns
    assert decode(flame._tree)[1]["total"][0] == _in_range(p, *timeline.range_ns) < whole
    # the flame graph's status says it shows a time range, and which
    assert decode(flame._tree)[0]["time_range"] == (
        "time range 2023-11-14 22:13:20.050 to 22:13:20.170 UTC (0.12 s)"
    )
    timeline.range_ns = []  # set from the notebook: back to the whole profile
    assert timeline._brush == [] and decode(flame._tree)[1]["total"][0] == whole
    assert decode(flame._tree)[0]["time_range"] == ""


def test_chart_lane_sends_the_lane_flame_chart_for_the_range() -> None:
    p = timed_profile()
    timeline = Timeline(p, flame=FlameGraph(p))
    assert timeline._chart == b""
    timeline.chart_lane = "main"
    meta, arrays, strings = decode(timeline._chart)
    assert meta["lane"] == "main" and strings[arrays["name"][0]] == "main"
    whole = arrays["samples"][0]
    timeline.range_ns = [T0, T0 + 8 * STEP]
    _, arrays, _ = decode(timeline._chart)
    assert arrays["samples"][0] == 4 < whole  # main's samples among the first eight


def test_lane_key_switch_and_bad_range() -> None:
    p = timed_profile()
    timeline = Timeline(p, max_lanes=2)
    assert decode(timeline._density)[2] == ["main", "other lanes"]
    timeline.lane_key = "thread.name"
    assert timeline.density is not None and timeline.density.lane_key == "thread.name"
    timeline.range_ns = [T0 + 5, T0 + 5]
    assert "end > start" in timeline.error


def test_profile_without_timestamps_says_so() -> None:
    timeline = Timeline(timed_profile(timed=False))
    assert "no timestamps" in timeline.message and timeline._density == b""
    assert timeline.error == ""
