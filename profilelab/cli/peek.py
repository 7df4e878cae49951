"""``profilelab peek REGEX FILE...``: callers and callees of matching functions (pprof's -peek)."""

from __future__ import annotations

import argparse

from profilelab.cli._common import add_command
from profilelab.cli._report import add_report_options, run_report, write


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "peek",
        "Callers and callees of the functions matching REGEX (pprof's -peek).",
        "  profilelab peek 'runtime\\.mallocgc$' heap.pb.gz\n"
        "  profilelab peek 'json' cpu.pb.gz --granularity lines --format json",
    )
    p.add_argument("regex", metavar="REGEX", help="regex matched against node names")
    add_report_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    write(run_report(args, "peek", regex=args.regex))
    return 0
