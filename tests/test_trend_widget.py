"""The Trend widget's Python side: window selection reaches callbacks and selects profiles."""

from __future__ import annotations

import numpy as np
import pytest

from tests._synth import build, raw_from_stacks

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

MINUTE = 60 * 10**9


def _profiles():
    raws = []
    for i in range(10):
        hot = 100 if i < 5 else 300  # the hot function doubles its share after minute 5
        raws.append(
            raw_from_stacks(
                [("main", "<script>alert(1)</script>"), ("main", "json.Marshal")],
                [hot, 200],
                time_ns=1_700_000_000 * 10**9 + i * MINUTE,
                labels={"service": "s"},
                source_id=i + 1,
            )
        )
    return build(raws)


def test_window_selection_drives_callbacks_and_profile() -> None:
    from profilelab.widgets.trend import Trend

    p = _profiles()
    w = Trend(p, step="1m")
    seen = []
    w.on_window(lambda widget, win: seen.append(win))
    t0 = 1_700_000_000 * 10**9
    w.select_window(t0 + 5 * MINUTE, t0 + 10 * MINUTE)
    assert len(seen) == 1
    start, end = seen[0]
    assert abs(start - (t0 + 5 * MINUTE)) < 10**6 and abs(end - (t0 + 10 * MINUTE)) < 10**6
    sub = w.window_profile()
    sub.check()
    assert sub.profiles.height == 5
    assert "Top movers" in w.movers.value
    # hostile names are escaped in the table and in the chart
    assert "<script>" not in w.movers.value and "&lt;script&gt;" in w.movers.value
    names = [t.name for t in w.figure.data]
    assert all("<script>" not in n for n in names)
    from profilelab.widgets.flamegraph import FlameGraph

    (flame,) = w.detail.children
    assert isinstance(flame, FlameGraph)


def test_diff_detail_compares_window_with_before() -> None:
    from profilelab.widgets.flamegraph import DiffFlameGraph
    from profilelab.widgets.trend import Trend

    w = Trend(_profiles(), step="1m", detail="diff")
    t0 = 1_700_000_000 * 10**9
    w.select_window(t0 + 5 * MINUTE, t0 + 10 * MINUTE)
    (diff,) = w.detail.children
    assert isinstance(diff, DiffFlameGraph)
    assert w.window_profile(before=True).profiles.height == 5


def test_trend_figure_values_match_shares() -> None:
    from profilelab.widgets.trend import Trend

    w = Trend(_profiles(), step="1m", match="script")
    ys = np.array(w.figure.data[0].y)
    assert np.allclose(ys[:5], 100 / 300) and np.allclose(ys[5:], 300 / 500)
