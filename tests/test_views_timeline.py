"""Timeline views: density per lane and time bin, one lane's flame chart, time ranges."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from profilelab.core.selection import Selection as CoreSelection
from profilelab.errors import QueryError
from profilelab.views import Selection
from profilelab.views import timeline as tl
from tests.timeline_support import PATTERN, STEP, T0, timed_profile


def _by_thread(profile: object) -> pl.DataFrame:
    """Samples with their thread.name, straight from the tables (the independent oracle)."""
    labels = profile.labels.filter(pl.col("key") == "thread.name").select(  # type: ignore[attr-defined]
        "label_set_id", pl.col("str").alias("thread")
    )
    return profile.samples.join(labels, on="label_set_id", how="left")  # type: ignore[attr-defined]


def test_density_sums_equal_the_samples_per_lane() -> None:
    p = timed_profile()
    d = tl.density(p, bins=7)
    assert d.lane_key == "thread.name"
    expected = _by_thread(p).group_by("thread").agg(pl.col("value").sum(), pl.len().alias("n"))
    got = dict(zip(d.lanes, d.values.sum(axis=1), strict=True))
    counts = dict(zip(d.lanes, d.counts.sum(axis=1), strict=True))
    for thread, value, n in expected.iter_rows():
        assert got[thread] == value and counts[thread] == n
    assert d.lanes == sorted(got, key=lambda k: -got[k])  # busiest first
    assert d.total == p.samples["value"].sum()


def test_density_folds_quiet_lanes_into_other_lanes() -> None:
    p = timed_profile()
    d = tl.density(p, bins=5, max_lanes=2)
    assert d.lanes == ["main", tl.OTHER_LANES]
    main = _by_thread(p).filter(pl.col("thread") == "main")["value"].sum()
    assert d.values[0].sum() == main
    assert d.values[1].sum() == p.samples["value"].sum() - main


def test_density_bins_follow_sample_times() -> None:
    p = timed_profile(repeat=2)
    d = tl.density(p, lane_key=None, bins=len(PATTERN) * 2)
    assert d.lanes == [tl.ALL_LANES] and d.start_ns == T0
    # one sample per bin, in time order
    assert d.counts[0].tolist() == [1] * (len(PATTERN) * 2)
    assert d.values[0].tolist() == p.samples.sort("time_ns")["value"].to_list()


def test_range_flame_total_equals_samples_in_range() -> None:
    p = timed_profile()
    start, end = T0 + 7 * STEP, T0 + 23 * STEP
    sel = Selection(p, selection=CoreSelection(start_ns=start, end_ns=end))
    in_range = p.samples.filter((pl.col("time_ns") >= start) & (pl.col("time_ns") < end))
    assert sel.total == in_range["value"].sum() and 0 < sel.total < p.samples["value"].sum()
    d = tl.density(p, bins=4, start_ns=start, end_ns=end)
    assert d.total == sel.total


def test_flame_chart_merges_consecutive_samples() -> None:
    p = timed_profile(repeat=3)
    chart = tl.flame_chart(p, "main")
    names = [chart.names[i] for i in chart.name]
    rects = list(zip(chart.depth.tolist(), names, chart.samples.tolist(), strict=True))
    # main: parse, parse, render, idle per repeat -> one "main" row, serve x3 runs of 3
    assert rects[0] == (0, "main", 12)
    assert [r for r in rects if r[1] == "serve"] == [(1, "serve", 3)] * 3
    assert [r for r in rects if r[1] == "parse"] == [(2, "parse", 2)] * 3
    assert [r[2] for r in rects if r[1] == "idle"] == [1, 1, 1]
    main_values = _by_thread(p).filter(pl.col("thread") == "main")["value"].sum()
    assert chart.value[0] == main_values
    # a rectangle ends where the lane's next sample after it begins
    parse0 = names.index("parse")
    assert chart.rect_start[parse0] == T0 and chart.rect_end[parse0] == T0 + 3 * STEP
    assert np.all(chart.rect_end > chart.rect_start)


def test_flame_chart_drops_what_cannot_be_drawn() -> None:
    p = timed_profile(repeat=3)
    full = tl.flame_chart(p, "main")
    capped = tl.flame_chart(p, "main", max_rects=4)
    assert len(capped.depth) == 4 and capped.dropped == len(full.depth) - 4
    assert capped.depth[0] == 0  # the widest (the root row) is kept
    narrow = tl.flame_chart(p, "main", width_px=2)  # half a pixel = a quarter of the range
    assert 0 < len(narrow.depth) < len(full.depth)


def test_no_timestamps_says_so() -> None:
    p = timed_profile(timed=False)
    assert not tl.has_timestamps(p)
    with pytest.raises(QueryError, match="no timestamps"):
        tl.density(p)


def test_lane_keys_put_threads_first() -> None:
    assert tl.lane_keys(timed_profile())[0] == "thread.name"


def _lane_totals_match(profile: object, key: str, sample_type: str | None = None) -> None:
    d = tl.density(profile, sample_type=sample_type, bins=50)  # type: ignore[arg-type]
    assert d.lane_key == key
    ids = profile.profiles.filter(pl.col("sample_type") == d.sample_type)["profile_id"]  # type: ignore[attr-defined]
    samples = profile.samples.filter(pl.col("profile_id").is_in(ids.implode()))  # type: ignore[attr-defined]
    text = pl.coalesce(pl.col("str"), pl.col("num").cast(pl.Utf8))
    lanes = profile.labels.filter(pl.col("key") == key).select("label_set_id", text.alias("lane"))  # type: ignore[attr-defined]
    expected = samples.join(lanes, on="label_set_id").group_by("lane").agg(pl.col("value").sum())
    got = dict(zip(d.lanes, d.values.sum(axis=1).tolist(), strict=True))
    assert got == dict(expected.iter_rows())


def test_real_recordings_lanes_by_their_thread_labels() -> None:
    import profilelab
    from tests.conftest import ROOT

    jfr = profilelab.load(profilelab.datasets.path("java-service") / "window-00.jfr")
    _lane_totals_match(jfr, "thread.name", "cpu")
    pyspy = profilelab.load(ROOT / "tests/data/python/prog.chrometrace.json")
    _lane_totals_match(pyspy, "tid")


def test_flame_chart_of_too_many_samples_asks_for_a_shorter_range() -> None:
    p = timed_profile(repeat=3)
    chart = tl.flame_chart(p, "main", max_samples=5)
    assert chart.too_many and chart.sample_count == 12 and len(chart.depth) == 0
    short = tl.flame_chart(p, "main", max_samples=5, start_ns=T0, end_ns=T0 + 8 * STEP)
    assert not short.too_many and short.sample_count == 4 and len(short.depth) > 0
