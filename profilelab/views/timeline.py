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
  A :class:`LaneIndex` (each lane's samples in time order) is built once, so a brush is a
  binary search and a merge of at most one sample per pixel (a level of detail beyond).

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
from profilelab.model.profile import Profile
from profilelab.views._select import StackIndex
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
    #: the lane's samples in the range
    sample_count: int = 0
    #: samples per pixel when drawn at a level of detail (see :func:`flame_chart`), else 0
    lod: float = 0.0


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


def require_timestamps(profile: Profile) -> None:
    """QueryError saying so when no sample of ``profile`` has a time."""
    if not has_timestamps(profile):
        formats = ", ".join(sorted(set(profile.profiles.get_column("format").to_list())))
        raise QueryError(
            f"no timeline: the samples of this profile ({formats or 'empty'}) have no "
            "timestamps; OTLP, JFR, Chrome traces and .cpuprofile, speedscope evented "
            "profiles and py-spy have them"
        )


def timed_samples(
    profile: Profile,
    sample_type: str | int | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[pl.DataFrame, sampletypes.SampleType]:
    """The samples of one sample type that have a time, in ``[start_ns, end_ns)``."""
    require_timestamps(profile)
    stype = sampletypes.resolve(profile, sample_type)
    if start_ns is not None or end_ns is not None:
        profile = restrict(profile, CoreSelection(start_ns=start_ns, end_ns=end_ns))
    ids = sampletypes.rows_of(profile, stype).get_column("profile_id")
    samples = profile.samples.filter(
        pl.col("profile_id").is_in(ids.implode()) & pl.col("time_ns").is_not_null()
    ).select("stack_id", "value", "label_set_id", "time_ns")
    return samples, stype


def _lanes(profile: Profile, sets: pl.DataFrame, lane_key: str | None) -> pl.Series:
    """The lane of each row's ``label_set_id``: the ``lane_key`` label's value, "(no KEY)"
    when the set lacks it, :data:`ALL_LANES` for every row when ``lane_key`` is None."""
    if lane_key is None:
        return pl.Series("lane", [ALL_LANES] * sets.height, dtype=pl.Utf8)
    text = pl.coalesce(pl.col("str"), pl.col("num").cast(pl.Utf8))
    per_set = (
        profile.labels.filter(pl.col("key") == lane_key)
        .group_by("label_set_id")
        .agg(text.first().alias("lane"))
    )
    lanes = sets.select("label_set_id").join(
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
    samples, stype = timed_samples(profile, sample_type, start_ns, end_ns)
    t = pl.col("time_ns")
    first, last = samples.select(t.min().alias("lo"), t.max().alias("hi")).row(0)
    lo = start_ns if start_ns is not None else int(first or 0)
    hi = end_ns if end_ns is not None else int(last or lo) + 1
    bins = max(1, min(bins, hi - lo))  # a span of a few ns has at most one bin per ns
    bin_ns = -(-(hi - lo) // bins)  # ceiling: the last sample falls in the last bin
    # bin by label set first: lanes are then named on a few rows, not on every sample
    per_set = (
        samples.with_columns(((t - lo) // bin_ns).clip(0, bins - 1).alias("bin"))
        .group_by("label_set_id", "bin")
        .agg(pl.col("value").sum(), pl.len().alias("count"))
    )
    per_set = per_set.with_columns(_lanes(profile, per_set, key))
    ranked = _rank_lanes(per_set, max_lanes)
    binned = (
        per_set.join(ranked, on="lane", how="left")
        .group_by("row", "bin")
        .agg(pl.col("value").sum(), pl.col("count").sum())
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


def _rank_lanes(binned: pl.DataFrame, max_lanes: int) -> pl.DataFrame:
    """lane -> (row, name): busiest first; lanes past ``max_lanes - 1`` share the last row.
    ``binned`` has a lane, a summed value and a sample count per row."""
    totals = (
        binned.group_by("lane")
        .agg(pl.col("value").sum().alias("total"), pl.col("count").sum().alias("n"))
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


@dataclass(frozen=True)
class LaneIndex:
    """One sample type's timed samples by lane, in time order within each lane: built once
    per lane key, so a brush finds a lane's samples in a range by binary search.

    Lane ``k`` (name ``lanes[k]``) holds positions ``offsets[k]:offsets[k + 1]`` of
    ``times``, ``ends`` (when the lane's next sample starts; the lane's last sample lasts
    its median gap), ``rows`` (stack rows of ``stacks``) and ``values``."""

    stacks: StackIndex
    lane_key: str | None
    lanes: list[str]
    offsets: np.ndarray
    times: np.ndarray
    ends: np.ndarray
    rows: np.ndarray
    values: np.ndarray

    @classmethod
    def build(
        cls,
        profile: Profile,
        sample_type: str | int | None = None,
        lane_key: str | None = "",
        stacks: StackIndex | None = None,
    ) -> LaneIndex:
        """``lane_key=""``: :func:`default_lane_key`; ``None``: one lane of every sample.
        ``stacks``: the profile's stack index of that sample type when one exists (a
        linked flame graph's), else one is built."""
        require_timestamps(profile)
        key = default_lane_key(profile) if lane_key == "" else lane_key
        if stacks is None:
            stacks = StackIndex.build(profile, sample_type)
        order = stacks.time_order()
        sets, of_sample = np.unique(order.label_sets, return_inverse=True)
        lane = _lanes(profile, pl.DataFrame({"label_set_id": sets}), key)
        names, of_set = np.unique(lane.to_numpy().astype(str), return_inverse=True)
        code = of_set[of_sample]
        by_lane = np.argsort(code, kind="stable")  # time order kept within each lane
        offsets = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum(np.bincount(code, minlength=len(names)), out=offsets[1:])
        times = order.times[by_lane]
        return cls(
            stacks=stacks,
            lane_key=key,
            lanes=[str(n) for n in names],
            offsets=offsets,
            times=times,
            ends=_sample_ends(times, offsets),
            rows=order.rows[by_lane],
            values=order.values[by_lane],
        )

    def positions(self, lane: str) -> tuple[int, int]:
        """The lane's slice (all samples, time order, for :data:`OTHER_LANES` or
        :data:`ALL_LANES`)."""
        if lane in (OTHER_LANES, ALL_LANES) and lane not in self.lanes:
            return -1, -1
        if lane not in self.lanes:
            raise QueryError(f"no lane {lane!r}; lanes: {', '.join(self.lanes[:10])}")
        k = self.lanes.index(lane)
        return int(self.offsets[k]), int(self.offsets[k + 1])

    def chart(
        self,
        lane: str,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        width_px: int = 1200,
        max_rects: int = 50_000,
        per_px: float = 1.0,
    ) -> FlameChart:
        """The lane's flame chart over ``[start_ns, end_ns)`` (see :func:`flame_chart`)."""
        a, b = self.positions(lane)
        if a < 0:  # the folded lanes: every sample in time order
            order = self.stacks.time_order()
            times, rows, values = order.times, order.rows, order.values
            ends = _sample_ends(times, np.array([0, len(times)]))
        else:
            times, ends = self.times[a:b], self.ends[a:b]
            rows, values = self.rows[a:b], self.values[a:b]
        lo_i, hi_i = 0, len(times)
        if start_ns is not None:
            lo_i = int(np.searchsorted(times, start_ns, side="left"))
        if end_ns is not None:
            hi_i = int(np.searchsorted(times, end_ns, side="left"))
        count = max(hi_i - lo_i, 0)
        if count == 0:
            lo = start_ns if start_ns is not None else 0
            return _empty_chart(lane, lo, end_ns if end_ns is not None else lo + 1)
        lo = start_ns if start_ns is not None else int(times[lo_i])
        hi = end_ns if end_ns is not None else int(ends[hi_i - 1])
        width_px = max(width_px, 1)
        cells = max(int(per_px * width_px), 1)
        if count <= cells:  # exact: every sample, with its value
            sel = slice(lo_i, hi_i)
            sample = (rows[sel], times[sel], ends[sel], values[sel])
            lod = 0.0
        else:  # one stack per cell: the sample running at the cell's middle
            sample = _cell_samples(times, ends, rows, lo, hi, cells)
            lod = count / width_px
        offsets, keys = self._key_paths()
        rect = _merge_runs(offsets, keys, *sample)
        min_width = (hi - lo) * 0.5 / width_px
        wide = np.flatnonzero(rect["end_ns"] - rect["start_ns"] >= min_width)
        widths = rect["end_ns"][wide] - rect["start_ns"][wide]
        kept = wide[np.argsort(-widths, kind="stable")[:max_rects]]
        kept = kept[np.lexsort((rect["start_ns"][kept], rect["depth"][kept]))]
        used, name = np.unique(rect["name"][kept], return_inverse=True)
        names = self._names()
        return FlameChart(
            lane=lane,
            start_ns=lo,
            end_ns=hi,
            names=[names[i] for i in used.tolist()],
            depth=rect["depth"][kept].astype(np.int32),
            rect_start=rect["start_ns"][kept],
            rect_end=rect["end_ns"][kept],
            name=name.astype(np.int32),
            value=rect["value"][kept],
            samples=rect["samples"][kept],
            dropped=len(rect["depth"]) - len(kept),
            sample_count=count,
            lod=lod,
        )

    def _key_paths(self) -> tuple[np.ndarray, np.ndarray]:
        """Root-first function-name ids per stack row (the flame graph's own key paths)."""
        from profilelab.views.flame import _keys_for

        return self.stacks.offsets, _keys_for(self.stacks, "functions")[1]

    def _names(self) -> list[str]:
        from profilelab.views.flame import _keys_for

        return _keys_for(self.stacks, "functions")[0].names()


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
    per_px: float = 1.0,
) -> FlameChart:
    """One lane's stacks in time order, merged into rectangles (see the module docstring).

    A sample lasts until the lane's next sample; the last one as long as the lane's median
    gap. Rectangles narrower than half a pixel of ``width_px`` over the range are left out,
    and at most ``max_rects`` (the widest) are kept; ``dropped`` counts the others. When
    the range holds more than ``per_px`` samples per pixel, the chart is drawn at that
    level of detail: the range is cut into ``per_px * width_px`` cells, each showing the
    stack of the sample running at its middle (``lod``: samples per pixel; the rectangles'
    ``value`` and ``samples`` are then 0). One :class:`LaneIndex` serves many ranges."""
    index = LaneIndex.build(profile, sample_type, lane_key)
    return index.chart(
        lane,
        start_ns=start_ns,
        end_ns=end_ns,
        width_px=width_px,
        max_rects=max_rects,
        per_px=per_px,
    )


def _sample_ends(times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each sample lasts until the next in its lane; a lane's last, its median gap."""
    ends = np.empty_like(times)
    ends[:-1] = times[1:]
    for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):  # per lane
        if b > a:
            gaps = np.diff(times[a:b])
            ends[b - 1] = times[b - 1] + max(int(np.median(gaps)) if len(gaps) else 1, 1)
    return ends


def _cell_samples(
    times: np.ndarray, ends: np.ndarray, rows: np.ndarray, lo: int, hi: int, cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, starts, ends, values) of ``cells`` equal cells of ``[lo, hi)``: each cell
    takes the stack of the sample running at its middle; cells with none are left out."""
    # offsets from lo stay exact as float64; Unix nanoseconds would not
    step = np.rint((hi - lo) * np.arange(cells + 1, dtype=np.float64) / cells).astype(np.int64)
    edges = lo + step
    middle = lo + (step[:-1] + step[1:]) // 2
    at = np.searchsorted(times, middle, side="right") - 1
    running = (at >= 0) & (ends[np.maximum(at, 0)] > middle)
    starts, stops = edges[:-1][running], edges[1:][running]
    return rows[at[running]], starts, stops, np.zeros(len(starts), dtype=np.int64)


def _merge_runs(
    offsets: np.ndarray,
    keys: np.ndarray,
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    values: np.ndarray,
) -> dict[str, np.ndarray]:
    """Rectangles of consecutive samples: a sample's frame at a depth extends the previous
    sample's rectangle there when the previous sample touches it in time and has the same
    names at every depth down to this one. Samples are stacks (rows of the key-path CSR
    ``offsets``/``keys``, root first) with times; all numpy, over (sample, depth) cells."""
    length = offsets[rows + 1] - offsets[rows]
    first = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(length, out=first[1:])
    sample = np.repeat(np.arange(len(rows)), length)
    depth = np.arange(int(first[-1])) - first[sample]
    key = keys[offsets[rows][sample] + depth]
    prev = np.maximum(sample - 1, 0)
    joined = (sample > 0) & (depth < length[prev]) & (ends[prev] >= starts[sample])
    prev_key = key[np.where(joined, first[prev] + depth, 0)]
    differs = (~joined | (prev_key != key)).astype(np.int64)
    # a difference at a depth starts new rectangles at every deeper depth of that sample
    running = np.cumsum(differs)
    head = first[:-1][length > 0]
    before = np.repeat(running[head] - differs[head], length[length > 0])
    opens = (running - before) > 0
    order = np.argsort(depth, kind="stable")  # (depth, sample) order
    at = np.flatnonzero(opens[order])
    last = np.r_[at[1:], len(order)] - 1
    pick = order[at]
    return {
        "depth": depth[pick],
        "name": key[pick],
        "start_ns": starts[sample[pick]],
        "end_ns": ends[sample[order[last]]],
        "value": np.add.reduceat(values[sample[order]], at) if len(at) else np.zeros(0, np.int64),
        "samples": np.diff(np.r_[at, len(order)]),
    }


def _empty_chart(lane: str, lo: int, hi: int) -> FlameChart:
    empty_i = np.zeros(0, dtype=np.int64)
    return FlameChart(
        lane, lo, hi, [], empty_i.astype(np.int32), empty_i, empty_i, empty_i.astype(np.int32),
        empty_i, empty_i, 0,
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
        "lod": c.lod,
        "lo": c.start_ns - origin_ns,
        "hi": c.end_ns - origin_ns,
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


def range_text(start_ns: int, end_ns: int) -> str:
    """A time range as a flame graph's status shows it: UTC start, end and length."""
    length = (end_ns - start_ns) / 1e9
    start, end = (_iso(t)[:23].replace("T", " ") for t in (start_ns, end_ns))
    if end[:10] == start[:10]:
        end = end[11:]  # the same day
    return f"time range {start} to {end} UTC ({length:.3g} s)"


def _iso(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="milliseconds")
