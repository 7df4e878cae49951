"""Profiles of a series: one per input file (a heap or goroutine snapshot), ordered by time."""

from __future__ import annotations

import polars as pl

from profilelab.analysis import _select
from profilelab.analysis._totals import profile_totals
from profilelab.model.profile import Profile


def snapshots(p: Profile) -> list[Profile]:
    """One Profile per input file (all its sample types), ordered by time: ``snapshots(p)[0]``
    is the first heap or goroutine snapshot of a series, ``[-1]`` the last."""
    order = (
        p.profiles.group_by("source_id")
        .agg(pl.col("time_ns").min())
        .sort(["time_ns", "source_id"], nulls_last=True)
    )
    out = []
    for source_id in order["source_id"].to_list():
        ids = p.profiles.filter(pl.col("source_id") == source_id)["profile_id"].implode()
        out.append(
            p.replace(
                profiles=p.profiles.filter(pl.col("profile_id").is_in(ids)),
                samples=p.samples.filter(pl.col("profile_id").is_in(ids)),
            )
        )
    return out


def snapshot_totals(
    p: Profile, *, by: str | None = None, sample_type: str | None = None
) -> pl.DataFrame:
    """Per profile of one sample type: its total and the seconds since the first profile
    (of the same ``by`` label value, e.g. per variant). Columns: [by], time_ns, seconds, total."""
    table = _select.of_type(p, sample_type)
    group = [by] if by else []
    totals = profile_totals(p, table["profile_id"])
    first = pl.col("time_ns").min().over(group) if group else pl.col("time_ns").min()
    return (
        table.select("profile_id", "time_ns", *group)
        .join(totals, on="profile_id", how="left")
        .with_columns(pl.col("total").fill_null(0))
        .with_columns(((pl.col("time_ns") - first) / 1e9).alias("seconds"))
        .sort(*group, "time_ns")
        .select(*group, "time_ns", "seconds", "total")
    )


def cost_per_count(
    p: Profile, dataset: str, counter: str, by: str, *, sample_type: str | None = None
) -> pl.DataFrame:
    """Per value of the profile label ``by``: the profiles' total (one sample type), the
    dataset index's ``counter`` (``n_orders``, ``n_requests``) over the same files, and the
    total per count (for example CPU nanoseconds per order).

    Columns: [by], total, count, per_count. Profiles are matched to index rows by file, in
    either format (``source`` is ``<dataset>/<file>`` or its OTLP copy's name).
    """
    from profilelab import datasets

    table = _select.of_type(p, sample_type)
    index = datasets.index(dataset).select("file", counter)
    sources = pl.concat(
        [
            index.select(pl.format(f"{dataset}/{{}}", "file").alias("source"), counter),
            index.select(
                pl.format(
                    f"{dataset}/{{}}",
                    pl.col("file").map_elements(datasets.otlp_file, return_dtype=pl.Utf8),
                ).alias("source"),
                counter,
            ),
        ]
    ).unique("source")
    totals = profile_totals(p, table["profile_id"])
    return (
        table.select("profile_id", "source", by)
        .join(totals, on="profile_id", how="left")
        .join(sources, on="source", how="inner")
        .group_by(by)
        .agg(pl.col("total").sum(), pl.col(counter).sum().alias("count"))
        .with_columns((pl.col("total") / pl.col("count")).alias("per_count"))
        .sort(by)
    )
