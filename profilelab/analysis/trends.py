"""Hotspot trends: the value and share of each function (file, package, stack) over time.

A trend buckets profiles by ``time_ns`` into steps; a bucket's value for a key is the sum of
that key's cum (or flat) over the bucket's profiles, and its share is that value over the
bucket's total. Summing, not averaging, matches what a fleet-wide flame graph of the bucket
would show; shares make buckets with different numbers of instances comparable.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from profilelab.analysis import _select
from profilelab.analysis._select import ProfilePick
from profilelab.analysis._totals import Key, key_totals, matching_stacks, profile_totals
from profilelab.errors import QueryError
from profilelab.model.profile import Profile

Measure = Literal["cum", "flat"]


def trend(
    p: Profile,
    *,
    key: Key = "function",
    step: str | int = "1m",
    sample_type: str | None = None,
    where: ProfilePick | None = None,
    match: str | None = None,
    by: str | None = None,
    measure: Measure = "cum",
    top: int | None = 10,
) -> pl.DataFrame:
    """Per time step (and label value ``by``), each key's value and share of the step's total.

    ``match`` keeps keys matching a regex; ``top`` keeps the keys with the largest overall
    value (after ``match``). Columns: ``time`` (datetime, start of step), [``by``], ``key``,
    ``value``, ``share``, ``total``, ``profiles``.
    """
    table = _select.select(_select.of_type(p, sample_type), where)
    if table["time_ns"].null_count() == table.height:
        raise QueryError("trend needs profiles with a time (time_ns is null for all)")
    step_ns = _select.parse_duration_ns(step)
    group = [by] if by else []
    if by and by not in table.columns:
        raise QueryError(f"no profile label {by!r} to break down by")
    buckets = table.select(
        "profile_id",
        *group,
        ((pl.col("time_ns") // step_ns) * step_ns).alias("bucket"),
    ).drop_nulls("bucket")
    ids = buckets["profile_id"]
    totals = (
        profile_totals(p, ids)
        .join(buckets, on="profile_id")
        .group_by("bucket", *group)
        .agg(pl.col("total").sum(), pl.len().alias("profiles"))
    )
    values = key_totals(p, key, ids)
    if match is not None:
        values = values.filter(pl.col("key").str.contains(match))
    per_bucket = (
        values.join(buckets, on="profile_id")
        .group_by("bucket", *group, "key")
        .agg(pl.col(measure).sum().alias("value"))
    )
    if top is not None:
        # ties broken by key: the same keys and rows on every run
        keep = (
            per_bucket.group_by("key")
            .agg(pl.col("value").sum())
            .sort(["value", "key"], descending=[True, False])
            .head(top)
        )
        per_bucket = per_bucket.join(keep.select("key"), on="key", how="semi")
    # every kept key gets a row in every bucket (0 when absent), so lines do not skip steps
    grid = totals.select("bucket", *group).join(per_bucket.select("key").unique(), how="cross")
    out = (
        grid.join(per_bucket, on=["bucket", *group, "key"], how="left")
        .join(totals, on=["bucket", *group])
        .with_columns(pl.col("value").fill_null(0))
        .with_columns(
            (pl.col("value") / pl.col("total")).fill_nan(0.0).alias("share"),
            pl.from_epoch(pl.col("bucket"), time_unit="ns").alias("time"),
        )
    )
    return out.select("time", *group, "key", "value", "share", "total", "profiles").sort(
        "time", *group, "value", "key", descending=[False] * (1 + len(group)) + [True, False]
    )


def top_movers(
    p: Profile,
    window_a: tuple[int | None, int | None],
    window_b: tuple[int | None, int | None],
    *,
    key: Key = "function",
    sample_type: str | None = None,
    where: ProfilePick | None = None,
    measure: Measure = "cum",
    n: int = 20,
) -> pl.DataFrame:
    """Keys whose share changed most between two time windows ``(start_ns, end_ns)``.

    Columns: key, share_a, share_b, delta_share, value_a, value_b, delta_value; sorted by
    absolute share change.
    """
    table = _select.select(_select.of_type(p, sample_type), where)
    sides = []
    for name, (start, end) in (("a", window_a), ("b", window_b)):
        ids = _select.window(table, start, end)["profile_id"]
        if ids.len() == 0:
            raise QueryError(f"window {name} ({start}..{end}) holds no profiles")
        total = profile_totals(p, ids)["total"].sum()
        side = (
            key_totals(p, key, ids)
            .group_by("key")
            .agg(pl.col(measure).sum().alias(f"value_{name}"))
            .with_columns((pl.col(f"value_{name}") / total).alias(f"share_{name}"))
        )
        sides.append(side)
    both = sides[0].join(sides[1], on="key", how="full", coalesce=True).fill_null(0)
    return (
        both.with_columns(
            (pl.col("share_b") - pl.col("share_a")).alias("delta_share"),
            (pl.col("value_b") - pl.col("value_a")).alias("delta_value"),
        )
        .sort(pl.col("delta_share").abs(), descending=True)
        .head(n)
        .select("key", "share_a", "share_b", "delta_share", "value_a", "value_b", "delta_value")
    )


def label_breakdown(
    p: Profile,
    label: str,
    *,
    step: str | int = "1m",
    sample_type: str | None = None,
    where: ProfilePick | None = None,
) -> pl.DataFrame:
    """Total value per label value (version, region, instance) per time step, with shares."""
    table = _select.select(_select.of_type(p, sample_type), where)
    if label not in table.columns:
        raise QueryError(f"no profile label {label!r}")
    step_ns = _select.parse_duration_ns(step)
    totals = profile_totals(p, table["profile_id"]).join(table, on="profile_id")
    out = totals.group_by(
        ((pl.col("time_ns") // step_ns) * step_ns).alias("bucket"), pl.col(label)
    ).agg(pl.col("total").sum().alias("value"), pl.len().alias("profiles"))
    return (
        out.with_columns((pl.col("value") / pl.col("value").sum().over("bucket")).alias("share"))
        .with_columns(pl.from_epoch(pl.col("bucket"), time_unit="ns").alias("time"))
        .select("time", label, "value", "share", "profiles")
        .sort("time", label)
    )


def pattern_share(
    p: Profile,
    pattern: str,
    *,
    key: Key = "function",
    step: str | int = "1m",
    sample_type: str | None = None,
    where: ProfilePick | None = None,
) -> pl.DataFrame:
    """Per time step, the value and share of samples with any frame matching ``pattern``.

    A sample counts once however many of its frames match. Columns: ``time``, ``bucket``
    (ns), ``value``, ``total``, ``share``, ``profiles``.
    """
    table = _select.select(_select.of_type(p, sample_type), where)
    step_ns = _select.parse_duration_ns(step)
    buckets = table.select(
        "profile_id", ((pl.col("time_ns") // step_ns) * step_ns).alias("bucket")
    ).drop_nulls("bucket")
    hit = matching_stacks(p, pattern, key)
    samples = p.samples.join(buckets, on="profile_id")
    out = samples.group_by("bucket").agg(
        pl.col("value").filter(pl.col("stack_id").is_in(hit.implode())).sum().alias("value"),
        pl.col("value").sum().alias("total"),
        pl.col("profile_id").n_unique().alias("profiles"),
    )
    return (
        out.with_columns(
            (pl.col("value") / pl.col("total")).fill_nan(0.0).alias("share"),
            pl.from_epoch(pl.col("bucket"), time_unit="ns").alias("time"),
        )
        .select("time", "bucket", "value", "total", "share", "profiles")
        .sort("bucket")
    )
