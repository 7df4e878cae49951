"""Time inside a profile: sample density per lane over time, and one lane's flame chart.

For samples with timestamps (``samples.time_ns``: OTLP, JFR, Chrome ``.cpuprofile`` and
trace events, speedscope evented profiles, py-spy), two views of one sample type:

* :func:`density`: per lane and time bin, the summed sample values and the sample counts.
  Lanes are the values of one label key (default: the thread label the readers write,
  see :data:`THREAD_KEYS`); the busiest ``max_lanes - 1`` lanes come first and the rest are
  folded into one "other lanes" lane, so the totals of every lane add up to the samples'.
* :func:`flame_chart`: the stacks of one lane in time order (speedscope's "time order"
  view): consecutive samples with the same frame at the same depth under the same parent
  become one rectangle; rectangles narrower than half a pixel of ``width_px`` are left out.

Both are vectorized (Polars group-bys and joins, numpy); the time range and sample type go
through the query core (:func:`profilelab.core.restriction.restrict`,
:mod:`profilelab.core.sampletypes`). A profile whose samples carry no timestamps raises
:class:`~profilelab.errors.QueryError` saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from profilelab.core import sampletypes
from profilelab.core.restriction import restrict
from profilelab.core.selection import Selection as CoreSelection
from profilelab.errors import QueryError
from profilelab.model.names import frame_function_names
from profilelab.model.profile import Profile
from profilelab.views.encode import encode

#: Thread labels of the readers, in order of preference: JFR, trace events / cpuprofile,
#: pprof-style captures (async-profiler, Go labels).
THREAD_KEYS = ("thread.name", "thread_name", "thread", "thread.id", "tid", "thread_id")
#: The lane that holds every lane beyond ``max_lanes - 1``.
OTHER_LANES = "other lanes"
#: The lane of all samples when no lane key applies.
ALL_LANES = "all samples"


@dataclass(frozen=True)
class Density:
    """Sample density: ``values[lane, bin]`` (summed sample values) and ``counts``.

    Bin ``b`` covers ``[start_ns + b * bin_ns, start_ns + (b + 1) * bin_ns)``; lanes are
    busiest first (by summed value), :data:`OTHER_LANES` last when lanes were folded."""

    sample_type: str
    unit: str
    lane_key: str | None
    lanes: list[str]
    start_ns: int
    end_ns: int
    bin_ns: int
    values: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> int:
        return int(self.values.sum())


@dataclass(frozen=True)
class FlameChart:
    """Rectangles of one lane's stacks in time order, one row each: ``depth`` (0 = root),
    ``start_ns``/``end_ns``, ``name`` (index into ``names``), ``value`` (summed sample
    values) and ``samples`` (how many consecutive samples the rectangle merges)."""

    lane: str
    start_ns: int
    end_ns: int
    names: list[str]
    depth: np.ndarray
    rect_start: np.ndarray
    rect_end: np.ndarray
    name: np.ndarray
    value: np.ndarray
    samples: np.ndarray
    #: how many rectangles were too narrow to draw and left out
    dropped: int
    #: the lane's samples in the range; over ``max_samples`` no rectangles are made
    sample_count: int = 0
    too_many: bool = False


def lane_keys(profile: Profile) -> list[str]:
    """Label keys that can split samples into lanes (thread keys first)."""
    keys = profile.labels.get_column("key").unique().sort().to_list()
    first = [k for k in THREAD_KEYS if k in keys]
    return first + [k for k in keys if k not in first]


def default_lane_key(profile: Profile) -> str | None:
    """The thread label the profile's reader wrote, if any."""
    keys = set(profile.labels.get_column("key").unique().to_list())
    return next((k for k in THREAD_KEYS if k in keys), None)


def has_timestamps(profile: Profile) -> bool:
    """Whether any sample carries its own time (``samples.time_ns``)."""
    return profile.samples.height > 0 and profile.samples.get_column("time_ns").null_count() < (
        profile.samples.height
    )


def timed_samples(
    profile: Profile,
    sample_type: str | int | None = None,
    lane_key: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[pl.DataFrame, sampletypes.SampleType]:
    """The samples of one sample type that have a time, in ``[start_ns, end_ns)``, with a
    ``lane`` column (the ``lane_key`` label's value; "(no KEY)" when a sample lacks it)."""
    if not has_timestamps(profile):
        formats = ", ".join(sorted(set(profile.profiles.get_column("format").to_list())))
        raise QueryError(
            f"no timeline: the samples of this profile ({formats or 'empty'}) have no "
            "timestamps; OTLP, JFR, Chrome traces and .cpuprofile, speedscope evented "
            "profiles and py-spy have them"
        )
    stype = sampletypes.resolve(profile, sample_type)
    if start_ns is not None or end_ns is not None:
        profile = restrict(profile, CoreSelection(start_ns=start_ns, end_ns=end_ns))
    ids = sampletypes.rows_of(profile, stype).get_column("profile_id")
    samples = profile.samples.filter(
        pl.col("profile_id").is_in(ids.implode()) & pl.col("time_ns").is_not_null()
    ).select("stack_id", "value", "label_set_id", "time_ns")
    return samples.with_columns(_lanes(profile, samples, lane_key)), stype


def _lanes(profile: Profile, samples: pl.DataFrame, lane_key: str | None) -> pl.Series:
    if lane_key is None:
        return pl.Series("lane", [ALL_LANES] * samples.height, dtype=pl.Utf8)
    text = pl.coalesce(pl.col("str"), pl.col("num").cast(pl.Utf8))
    per_set = (
        profile.labels.filter(pl.col("key") == lane_key)
        .group_by("label_set_id")
        .agg(text.first().alias("lane"))
    )
    lanes = samples.select("label_set_id").join(
        per_set, on="label_set_id", how="left", maintain_order="left"
    )
    return lanes.get_column("lane").fill_null(f"(no {lane_key})")


def density(
    profile: Profile,
    *,
    sample_type: str | int | None = None,
    lane_key: str | None = "",
    bins: int = 400,
    max_lanes: int = 8,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> Density:
    """Sample values and counts per lane and time bin (see the module docstring).

    ``lane_key=""`` picks :func:`default_lane_key`; ``None`` puts every sample in one lane.
    The time span is ``[start_ns, end_ns)`` when given, else the samples' first to last."""
    if bins < 1 or max_lanes < 1:
        raise QueryError(f"bins and max_lanes must be positive, got {bins} and {max_lanes}")
    key = default_lane_key(profile) if lane_key == "" else lane_key
    samples, stype = timed_samples(profile, sample_type, key, start_ns, end_ns)
    t = pl.col("time_ns")
    first, last = samples.select(t.min().alias("lo"), t.max().alias("hi")).row(0)
    lo = start_ns if start_ns is not None else int(first or 0)
    hi = end_ns if end_ns is not None else int(last or lo) + 1
    bins = max(1, min(bins, hi - lo))  # a span of a few ns has at most one bin per ns
    bin_ns = -(-(hi - lo) // bins)  # ceiling: the last sample falls in the last bin
    ranked = _rank_lanes(samples, max_lanes)
    binned = (
        samples.join(ranked, on="lane", how="left")
        .with_columns(((pl.col("time_ns") - lo) // bin_ns).clip(0, bins - 1).alias("bin"))
        .group_by("row", "bin")
        .agg(pl.col("value").sum(), pl.len().alias("count"))
    )
    n_lanes = int(ranked.get_column("row").to_numpy().max(initial=-1)) + 1
    values = np.zeros((n_lanes, bins), dtype=np.int64)
    counts = np.zeros((n_lanes, bins), dtype=np.int64)
    rows = binned.get_column("row").to_numpy()
    cols = binned.get_column("bin").to_numpy()
    values[rows, cols] = binned.get_column("value").to_numpy()
    counts[rows, cols] = binned.get_column("count").to_numpy()
    names = ranked.unique("row", keep="first").sort("row").get_column("name").to_list()
    return Density(
        stype.type, stype.unit, key, names, lo, lo + bin_ns * bins, bin_ns, values, counts
    )


def _rank_lanes(samples: pl.DataFrame, max_lanes: int) -> pl.DataFrame:
    """lane -> (row, name): busiest first; lanes past ``max_lanes - 1`` share the last row."""
    totals = (
        samples.group_by("lane")
        .agg(pl.col("value").sum().alias("total"), pl.len().alias("n"))
        .sort(["total", "n", "lane"], descending=[True, True, False])
        .with_row_index("rank")
    )
    fold = totals.height > max_lanes
    keep = max_lanes - 1 if fold else max_lanes
    return totals.select(
        "lane",
        pl.min_horizontal(pl.col("rank"), keep).cast(pl.Int64).alias("row"),
        pl.when(pl.col("rank") < keep)
        .then(pl.col("lane"))
        .otherwise(pl.lit(OTHER_LANES))
        .alias("name"),
    )


def flame_chart(
    profile: Profile,
    lane: str,
    *,
    sample_type: str | int | None = None,
    lane_key: str | None = "",
    start_ns: int | None = None,
    end_ns: int | None = None,
    width_px: int = 1200,
    max_rects: int = 50_000,
    max_samples: int = 10_000,
) -> FlameChart:
    """One lane's stacks in time order, merged into rectangles (see the module docstring).

    A sample lasts until the lane's next sample; the last one as long as the median gap.
    Rectangles narrower than half a pixel of ``width_px`` over the range are left out, and
    at most ``max_rects`` (the widest) are kept; ``dropped`` counts the others. A lane with
    more than ``max_samples`` samples in the range gets no rectangles (``too_many``): one
    sample is then less than a pixel wide, so a shorter range is the useful view."""
    key = default_lane_key(profile) if lane_key == "" else lane_key
    samples, _ = timed_samples(profile, sample_type, key, start_ns, end_ns)
    if lane != OTHER_LANES:
        samples = samples.filter(pl.col("lane") == lane)
    samples = samples.sort("time_ns", maintain_order=True)
    times = samples.get_column("time_ns").to_numpy()
    if len(times) == 0 or len(times) > max_samples:
        lo = start_ns if start_ns is not None else int(times[0]) if len(times) else 0
        hi = end_ns if end_ns is not None else int(times[-1]) + 1 if len(times) else lo + 1
        return _empty_chart(lane, lo, hi, len(times), len(times) > max_samples)
    ends = _sample_ends(times)
    lo = start_ns if start_ns is not None else int(times[0])
    hi = end_ns if end_ns is not None else int(ends[-1])
    cells, names = _cells(profile, samples.with_columns(pl.Series("end_ns", ends)))
    rects = _merge_cells(cells)
    min_width = (hi - lo) * 0.5 / max(width_px, 1)
    wide = rects.filter((pl.col("end_ns") - pl.col("start_ns")) >= min_width)
    kept = wide.sort(pl.col("end_ns") - pl.col("start_ns"), descending=True).head(max_rects)
    kept = kept.sort("depth", "start_ns")
    return FlameChart(
        lane=lane,
        start_ns=lo,
        end_ns=hi,
        names=names,
        depth=kept.get_column("depth").to_numpy().astype(np.int32),
        rect_start=kept.get_column("start_ns").to_numpy(),
        rect_end=kept.get_column("end_ns").to_numpy(),
        name=kept.get_column("name").to_numpy().astype(np.int32),
        value=kept.get_column("value").to_numpy(),
        samples=kept.get_column("samples").to_numpy(),
        dropped=rects.height - kept.height,
        sample_count=len(times),
    )


def _sample_ends(times: np.ndarray) -> np.ndarray:
    gaps = np.diff(times)
    last = int(np.median(gaps)) if len(gaps) else 1
    return np.append(times[1:], times[-1] + max(last, 1))


def _cells(profile: Profile, samples: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """(sample, depth, name) per frame of each sample, root first, with its times."""
    names = frame_function_names(profile.frames)
    uniq, inverse = np.unique(names.to_numpy().astype(str), return_inverse=True)
    frame_name = pl.DataFrame(
        {"frame_id": profile.frames.get_column("frame_id"), "name": inverse.astype(np.int64)}
    )
    used = samples.select("stack_id").unique()
    paths = (
        profile.stacks.join(used, on="stack_id", how="semi")
        .select("stack_id", pl.col("frame_ids").list.reverse())
        .with_columns(pl.int_ranges(0, pl.col("frame_ids").list.len()).alias("depth"))
        .explode("frame_ids", "depth")
        .drop_nulls("frame_ids")
        .join(frame_name, left_on="frame_ids", right_on="frame_id", how="left")
        .select("stack_id", pl.col("depth").cast(pl.Int64), "name")
    )
    rows = samples.with_row_index("sample").select(
        pl.col("sample").cast(pl.Int64), "stack_id", "value", "time_ns", "end_ns"
    )
    cells = rows.join(paths, on="stack_id", how="inner").sort("sample", "depth")
    return cells, [str(u) for u in uniq]


def _merge_cells(cells: pl.DataFrame) -> pl.DataFrame:
    """Merge a cell into the previous sample's rectangle at its depth when the previous
    sample has the same names at every depth down to this one. ``cells`` is sorted by
    (sample, depth); the rectangles are runs in (depth, sample) order, summed with numpy."""
    prev = cells.select(
        (pl.col("sample") + 1).alias("sample"), "depth", pl.col("name").alias("prev_name")
    )
    differs = (
        cells.join(prev, on=["sample", "depth"], how="left", maintain_order="left")
        .select((pl.col("prev_name") != pl.col("name")).fill_null(True))
        .to_series()
        .to_numpy()
        .astype(np.int64)
    )
    sample = cells.get_column("sample").to_numpy()
    # a difference at a depth starts new rectangles at every deeper depth of that sample
    running = np.cumsum(differs)
    first = np.flatnonzero(np.r_[True, sample[1:] != sample[:-1]])
    before = np.repeat(running[first] - differs[first], np.diff(np.r_[first, len(sample)]))
    starts = (running - before) > 0
    order = np.lexsort((sample, cells.get_column("depth").to_numpy()))
    at = np.flatnonzero(starts[order])
    last = np.r_[at[1:], len(order)] - 1
    pick = order[at]
    return pl.DataFrame(
        {
            "depth": cells.get_column("depth").to_numpy()[pick],
            "name": cells.get_column("name").to_numpy()[pick],
            "start_ns": cells.get_column("time_ns").to_numpy()[pick],
            "end_ns": cells.get_column("end_ns").to_numpy()[order[last]],
            "value": np.add.reduceat(cells.get_column("value").to_numpy()[order], at)
            if len(at)
            else np.zeros(0, dtype=np.int64),
            "samples": np.diff(np.r_[at, len(order)]),
        }
    )


def _empty_chart(lane: str, lo: int, hi: int, count: int, too_many: bool) -> FlameChart:
    empty_i = np.zeros(0, dtype=np.int64)
    return FlameChart(
        lane, lo, hi, [], empty_i.astype(np.int32), empty_i, empty_i, empty_i.astype(np.int32),
        empty_i, empty_i, 0, count, too_many,
    )  # fmt: skip


# ---- payloads for the browser (profilelab.views.encode's layout) ---------------------------
def encode_density(d: Density) -> bytes:
    """The density as a payload: lane names as strings, values and counts lane-major
    (float64, exact to 2**53); times relative to ``start_ns`` so they stay exact in JS."""
    meta = {
        "kind": "density",
        "sample_type": d.sample_type,
        "unit": d.unit,
        "lane_key": d.lane_key or "",
        "lanes": len(d.lanes),
        "bins": int(d.values.shape[1]) if d.values.ndim == 2 else 0,
        "bin_ns": d.bin_ns,
        "span_ns": d.end_ns - d.start_ns,
        "start_iso": _iso(d.start_ns),
    }
    arrays: dict[str, np.ndarray] = {
        "values": d.values.astype(np.float64).ravel(),
        "counts": d.counts.astype(np.float64).ravel(),
    }
    return encode(meta, arrays, d.lanes)


def encode_chart(c: FlameChart, origin_ns: int) -> bytes:
    """The flame chart as a payload, times relative to ``origin_ns`` (the density's start)."""
    meta = {
        "kind": "chart",
        "lane": c.lane,
        "dropped": c.dropped,
        "sample_count": c.sample_count,
        "too_many": c.too_many,
    }
    arrays: dict[str, np.ndarray] = {
        "depth": c.depth.astype(np.int32),
        "name": c.name.astype(np.uint32),
        "start": (c.rect_start - origin_ns).astype(np.float64),
        "end": (c.rect_end - origin_ns).astype(np.float64),
        "value": c.value.astype(np.float64),
        "samples": c.samples.astype(np.float64),
    }
    return encode(meta, arrays, c.names)


def _iso(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="milliseconds")
