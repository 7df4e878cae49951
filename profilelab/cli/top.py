"""``profilelab top FILE...``: flat/cum per function, exactly as ``go tool pprof -top``."""

from __future__ import annotations

import argparse

from profilelab.cli._common import add_command
from profilelab.cli._report import add_report_options, run_report, write


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "top",
        "Flat and cumulative values per function (pprof's -top), as text, CSV or JSON.",
        "  profilelab top cpu.pb.gz\n"
        "  profilelab top heap.pb.gz --sample-index alloc_space --nodecount 20\n"
        "  profilelab top cpu.pb.gz --focus 'net/http' --granularity lines --cum\n"
        "  profilelab top new.pb.gz --diff-base old.pb.gz --format csv > diff.csv",
    )
    add_report_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    write(run_report(args, "top"))
    return 0
