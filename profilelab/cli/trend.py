"""``profilelab trend``: share of the hottest functions over time."""

from __future__ import annotations

import argparse

import profilelab
from profilelab.cli._common import add_command


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
    p.add_argument("--sample-index", dest="sample_type", default=None)
    p.add_argument("--match", default=None, help="regex on the key")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--measure", default="cum", choices=["cum", "flat"])
    p.add_argument("--csv", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from profilelab import analysis

    prof = profilelab.load(args.files)
    res = analysis.trend(
        prof,
        key=args.key,
        step=args.step,
        sample_type=args.sample_type,
        match=args.match,
        top=args.top,
        measure=args.measure,
    )
    if args.csv:
        print(res.write_csv(), end="")
        return 0
    for r in res.iter_rows(named=True):
        print(f"{r['time']:%Y-%m-%d %H:%M:%S}  {r['share']:7.2%}  {r['value']:>16,}  {r['key']}")
    return 0
