"""``profilelab growth``: stacks or functions whose heap/goroutine usage grows over snapshots."""

from __future__ import annotations

import argparse

from profilelab.cli._common import (
    add_command,
    add_selection_arguments,
    load_selected,
    render_table,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "growth",
        "Rank stacks (or functions) by robust growth slope over a series of heap or goroutine "
        "snapshots; exit status 3 when something grows (for CI gates).",
        "  profilelab growth heap-*.pb.gz\n"
        "  profilelab growth goroutine-*.pb.gz --key function --top 5",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--key", default="stack", choices=["stack", "function", "file", "package"])
    add_selection_arguments(p)
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--min-corr", type=float, default=0.8)
    p.add_argument("--min-rel-growth", type=float, default=0.2)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from profilelab import analysis

    prof = load_selected(args.files, args, "growth")
    res = analysis.growth(
        prof,
        key=args.key,
        sample_type=args.sample_index,
        min_corr=args.min_corr,
        min_rel_growth=args.min_rel_growth,
    )
    if args.key == "stack":
        res = analysis.name_stacks(prof, res).with_columns(pl.col("stack").alias("key"))
    if args.format != "text":
        print(render_table(res.head(args.nodecount or res.height), args.format), end="")
        return 3 if res["growing"].any() else 0
    print(f"{res['snapshots'][0]} snapshots; {int(res['growing'].sum())} growing")
    for r in res.head(args.nodecount or args.top).iter_rows(named=True):
        flag = "GROWING" if r["growing"] else "       "
        print(
            f"{flag} {r['slope_per_hour']:>14,.0f}/h {r['slope_per_snapshot']:>12,.0f}/snapshot"
            f"  corr={r['corr']:.2f}  "
            f"{r['first']:,.0f} -> {r['last']:,.0f}  {r['key']}"
        )
    return 3 if res["growing"].any() else 0
