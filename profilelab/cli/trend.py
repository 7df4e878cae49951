"""``profilelab trend``: share of the hottest functions over time."""

from __future__ import annotations

import argparse

from profilelab.cli._common import (
    add_command,
    add_csv_alias,
    add_selection_arguments,
    load_selected,
    render_table,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "trend",
        "Value and share of the hottest functions (files, packages) per time step.",
        "  profilelab trend cpu-*.pb.gz --step 1m --top 5\n"
        "  profilelab trend cpu-*.pb.gz --match 'encoding/json' --csv",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--step", default="1m")
    p.add_argument("--key", default="function", choices=["function", "file", "package", "stack"])
    p.add_argument("--match", default=None, help="regex on the key")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--measure", default="cum", choices=["cum", "flat"])
    add_selection_arguments(p)
    add_csv_alias(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from profilelab import analysis

    prof = load_selected(args.files, args, "trend")
    res = analysis.trend(
        prof,
        key=args.key,
        step=args.step,
        sample_type=args.sample_index,
        match=args.match,
        top=args.nodecount or args.top,
        measure=args.measure,
    )
    if args.format != "text":
        print(render_table(res, args.format), end="")
        return 0
    for r in res.iter_rows(named=True):
        print(f"{r['time']:%Y-%m-%d %H:%M:%S}  {r['share']:7.2%}  {r['value']:>16,}  {r['key']}")
    return 0
