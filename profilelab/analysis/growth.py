"""Leak and growth detection over series of snapshots (heap in-use, goroutine counts).

For each key (a stack by default, or a function) the snapshot series v(t) is fitted with a
robust line: the Theil-Sen slope (median of all pairwise slopes, insensitive to a few odd
snapshots) per hour, with the Spearman rank correlation between time and value as the fit
quality (1 = grows at every step). Keys are ranked by slope; a key is flagged as growing when
its slope is positive, its correlation at least ``min_corr`` and its growth over the window
at least ``min_rel_growth`` of its mean level.

:func:`growth_profile` turns the slopes into a Profile whose single sample type is the growth
rate, so any flame graph draws a "growth flame graph" whose widths are slopes.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from profilelab.analysis import _select
from profilelab.analysis._select import ProfilePick
from profilelab.analysis._totals import Key, key_totals, stack_names, stack_totals
from profilelab.analysis.trends import Measure
from profilelab.errors import QueryError
from profilelab.model import ids, schema
from profilelab.model.profile import Profile

_HOUR_NS = 3600 * 10**9
GROWTH_TYPES = ("inuse_space", "goroutine", "inuse_objects")


def growth(
    p: Profile,
    *,
    key: Key = "stack",
    sample_type: str | None = None,
    where: ProfilePick | None = None,
    measure: Measure = "flat",
    skip: str | None = r"^runtime\.",
    min_corr: float = 0.8,
    min_rel_growth: float = 0.2,
) -> pl.DataFrame:
    """Per key: slope per hour and per snapshot, relative growth, Spearman correlation,
    first/last/mean value.

    ``slope_per_snapshot`` is the Theil-Sen slope over the snapshot index (0, 1, 2, ...): what
    each snapshot adds, whatever the time between snapshots.

    Needs at least 3 snapshots with distinct times; snapshots at the same time are summed
    (several instances of one service). For function/file/package keys ``measure`` picks flat
    (the default: where memory is allocated, so callers of a leak are not flagged too) or cum;
    flat skips frames matching ``skip`` (default: Go runtime frames, so a leaked goroutine is
    charged to the code that blocked it, not to ``runtime.gopark``).
    """
    table = _select.select(_select.of_type(p, sample_type, GROWTH_TYPES), where)
    series = _series(p, table, key, measure, skip)
    times, keys, values = series
    if len(times) < 3:
        raise QueryError(f"growth needs at least 3 snapshot times, got {len(times)}")
    t_hours = (times - times[0]) / _HOUR_NS
    slope = _theil_sen(t_hours, values)
    per_snapshot = _theil_sen(np.arange(len(times), dtype=np.float64), values)
    corr = _spearman(t_hours, values)
    mean = values.mean(axis=0)
    span = t_hours[-1] - t_hours[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mean > 0, slope * span / mean, 0.0)
    out = pl.DataFrame(
        {
            "key": keys,
            "slope_per_hour": slope,
            "slope_per_snapshot": per_snapshot,
            "rel_growth": rel,
            "corr": corr,
            "first": values[0],
            "last": values[-1],
            "mean": mean,
        }
    ).with_columns(
        (
            (pl.col("slope_per_hour") > 0)
            & (pl.col("corr") >= min_corr)
            & (pl.col("rel_growth") >= min_rel_growth)
        ).alias("growing"),
        pl.lit(len(times)).alias("snapshots"),
    )
    return out.sort(["growing", "slope_per_hour"], descending=[True, True])


def _series(
    p: Profile, table: pl.DataFrame, key: Key, measure: Measure, skip: str | None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(snapshot times, keys, values[time, key]) with snapshots at one time summed."""
    snap = table.select("profile_id", "time_ns").drop_nulls()
    ids_ = snap["profile_id"]
    if key == "stack":
        kt = (
            stack_totals(p, ids_)
            .rename({"stack_id": "key", "value": "v"})
            .with_columns(pl.col("key").cast(pl.Utf8))
        )
    else:
        kt = key_totals(p, key, ids_, skip).select("profile_id", "key", pl.col(measure).alias("v"))
    kt = kt.join(snap, on="profile_id").group_by("time_ns", "key").agg(pl.col("v").sum())
    times = np.sort(snap["time_ns"].unique().to_numpy())
    keys = sorted(kt["key"].unique().to_list())
    row = pl.DataFrame({"time_ns": times, "row": np.arange(len(times))})
    col = pl.DataFrame({"key": keys, "col": np.arange(len(keys))})
    kt = kt.join(row, on="time_ns").join(col, on="key")
    values = np.zeros((len(times), len(keys)), dtype=np.float64)
    values[kt["row"].to_numpy(), kt["col"].to_numpy()] = kt["v"].to_numpy()
    return times, keys, values


def _theil_sen(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Median pairwise slope per column of ``v`` (rows are times ``t``, strictly increasing)."""
    i, j = np.triu_indices(len(t), k=1)
    slopes = (v[j] - v[i]) / (t[j] - t[i])[:, None]
    return np.median(slopes, axis=0)


def _spearman(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each column with time (0 for constant columns)."""
    rt = stats.rankdata(t)
    rv = stats.rankdata(v, axis=0)
    rt = rt - rt.mean()
    rv = rv - rv.mean(axis=0)
    denom = np.sqrt((rt**2).sum() * (rv**2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, (rt[:, None] * rv).sum(axis=0) / denom, 0.0)


def growth_profile(p: Profile, result: pl.DataFrame | None = None, **kwargs: object) -> Profile:
    """A Profile of growing stacks whose value is the slope (units per hour, rounded).

    ``result`` is a :func:`growth` table by stack (computed when omitted). Only stacks with a
    positive slope are kept; frames, mappings and stacks are shared with ``p``.
    """
    if result is None:
        result = growth(p, key="stack", **kwargs)  # type: ignore[arg-type]
    pos = result.filter(pl.col("slope_per_hour") > 0)
    unit = _select.of_type(p, kwargs.get("sample_type"), GROWTH_TYPES)["sample_unit"][0]  # type: ignore[arg-type]
    source_id = ids.digest_bytes(b"growth:" + b",".join(k.encode() for k in pos["key"].to_list()))
    profile_id = int(ids.as_id(ids.hash_ints(np.array([source_id])))[0])
    profiles = schema.conform(
        "profiles",
        pl.DataFrame(
            {
                "profile_id": [profile_id],
                "source_id": [source_id],
                "source": ["growth"],
                "format": ["derived"],
                "sample_type": ["growth"],
                "sample_unit": [f"{unit}/hour"],
                "sample_type_index": [0],
                "is_default": [True],
                "comments": [["Theil-Sen slope per stack"]],
            }
        ),
    )
    samples = schema.conform(
        "samples",
        pl.DataFrame(
            {
                "profile_id": [profile_id] * pos.height,
                "sample_index": np.arange(pos.height),
                "stack_id": pos["key"].cast(pl.Int64),
                "value": pos["slope_per_hour"].round(0).cast(pl.Int64),
                "label_set_id": [0] * pos.height,
            }
        ),
    )
    stacks = p.stacks.join(samples.select("stack_id"), on="stack_id", how="semi")
    return Profile(
        profiles=profiles,
        samples=samples,
        stacks=stacks,
        frames=p.frames,
        mappings=p.mappings,
        labels=schema.empty("labels"),
    )


def name_stacks(p: Profile, result: pl.DataFrame) -> pl.DataFrame:
    """Add a readable ``stack`` column (root;...;leaf) to a growth table keyed by stack id."""
    names = stack_names(p).rename({"key": "stack"}).with_columns(pl.col("stack_id").cast(pl.Utf8))
    return result.join(names, left_on="key", right_on="stack_id", how="left")
