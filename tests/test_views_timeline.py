"""Timeline views: density per lane and time bin, one lane's flame chart, time ranges."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from profilelab.core.selection import Selection as CoreSelection
from profilelab.errors import QueryError
from profilelab.views import Selection
from profilelab.views import timeline as tl
from tests.timeline_support import PATTERN, STEP, T0, timed_profile, timed_raw


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


def test_flame_chart_beyond_two_samples_per_pixel_is_drawn_at_a_level_of_detail() -> None:
    p = timed_profile(repeat=3)
    exact = tl.flame_chart(p, "main", width_px=12)  # 12 samples: one per pixel, exact
    assert exact.lod == 0 and exact.sample_count == 12 and exact.value[0] > 0
    coarse = tl.flame_chart(p, "main", width_px=6)  # two samples per pixel
    assert coarse.lod == 2 and coarse.sample_count == 12
    names = [coarse.names[i] for i in coarse.name]
    # the cells still show the lane's stacks, merged where neighbours agree; no values
    assert names[0] == "main" and coarse.depth[0] == 0 and coarse.value.sum() == 0
    assert (coarse.rect_start[0], coarse.rect_end[0]) == (exact.start_ns, exact.end_ns)
    assert set(names) <= {"main", "serve", "parse", "render", "idle"} and "serve" in names
    short = tl.flame_chart(p, "main", width_px=6, start_ns=T0, end_ns=T0 + 8 * STEP)
    assert short.lod == 0 and short.sample_count == 4


def test_lane_index_charts_equal_charts_built_from_scratch() -> None:
    p = timed_profile(repeat=6)
    index = tl.LaneIndex.build(p)
    assert index.lanes == sorted({t for t, _ in PATTERN})
    for lane in ("main", "gc", "worker-1"):
        for lo, hi in [(None, None), (T0 + 3 * STEP, T0 + 29 * STEP)]:
            a = index.chart(lane, start_ns=lo, end_ns=hi)
            b = tl.flame_chart(p, lane, start_ns=lo, end_ns=hi)
            assert a.names == b.names and a.rect_start.tolist() == b.rect_start.tolist()
            assert a.value.tolist() == b.value.tolist()
    with pytest.raises(QueryError, match="no lane 'nope'"):
        index.chart("nope")


def test_range_values_from_the_time_order_equal_the_query_core() -> None:
    """A brush sums a binary-searched slice of the time-sorted samples; it keeps exactly the
    samples the query core's restrict() keeps, samples without their own time included
    (they count at their profile's start)."""
    from profilelab.core.restriction import restrict
    from profilelab.views._select import StackIndex
    from tests._synth import build, raw_from_stacks

    untimed = raw_from_stacks(
        [["main", "serve", "parse"], ["gc", "mark"]],
        [5, 7],
        sample_labels=[{"thread.name": "main"}, {"thread.name": "gc"}],
        time_ns=T0 + 9 * STEP,
    )
    p = build([timed_raw(repeat=4), untimed])
    assert p.samples["time_ns"].null_count() == 2
    index = StackIndex.build(p)

    def by_stack(ids: np.ndarray, values: np.ndarray) -> dict[int, int]:
        return {int(s): int(v) for s, v in zip(ids, values, strict=True) if v}

    rng = np.random.default_rng(3)
    ranges = [(T0 + 9 * STEP, T0 + 9 * STEP + 1), *rng.integers(T0, T0 + 40 * STEP, (8, 2))]
    for a, b in ranges:
        lo, hi = int(min(a, b)), int(max(a, b)) + 1
        for labels in ({}, {"thread.name": "main"}):
            got = by_stack(index.stack_ids, index.values(labels, time_range=(lo, hi)))
            core = restrict(p, CoreSelection(start_ns=lo, end_ns=hi))
            ok = (
                core.samples.filter(
                    pl.col("label_set_id").is_in(
                        _by_thread(core)
                        .filter(pl.col("thread") == "main")["label_set_id"]
                        .implode()
                    )
                )
                if labels
                else core.samples
            )
            want = ok.group_by("stack_id").agg(pl.col("value").sum())
            assert got == by_stack(want["stack_id"].to_numpy(), want["value"].to_numpy())
    assert by_stack(index.stack_ids, index.values(time_range=(T0 + 9 * STEP, T0 + 9 * STEP + 1)))
