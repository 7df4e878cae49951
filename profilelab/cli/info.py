"""``profilelab info FILE...``: what a profile holds (types, units, period, counts, labels)."""

from __future__ import annotations

import argparse

import profilelab
from profilelab.cli._common import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "info",
        "Describe profiles: sample types, units, period, duration, counts, labels.",
        "  profilelab info cpu.pb.gz\n  profilelab info heap.pprof other.pprof",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import polars as pl

    prof = profilelab.load(args.files)
    for row in prof.profiles.iter_rows(named=True):
        samples = prof.samples.filter(pl.col("profile_id") == row["profile_id"])
        default = " (default)" if row["is_default"] else ""
        print(
            f"{row['source']}: {row['format']} {row['sample_type']}/{row['sample_unit']}{default}"
        )
        print(f"  samples: {samples.height}  total: {samples['value'].sum()}")
        print(f"  period: {row['period']} {row['period_type']}/{row['period_unit']}")
        if row["time_ns"] is not None:
            print(f"  time_ns: {row['time_ns']}  duration_ns: {row['duration_ns']}")
        for c in row["comments"]:
            print(f"  comment: {c}")
    keys = prof.labels.group_by("key").agg(pl.col("str").n_unique().alias("values")).sort("key")
    counts = {name: df.height for name, df in prof.tables() if name in ("stacks", "frames")}
    print("  ".join(f"{k}: {v}" for k, v in counts.items()) + f"  mappings: {prof.mappings.height}")
    for key, n in keys.iter_rows():
        print(f"label {key}: {n} distinct values")
    spans = prof.samples["span_id"].drop_nulls().n_unique()
    if spans:
        print(f"span ids: {spans}")
    return 0
