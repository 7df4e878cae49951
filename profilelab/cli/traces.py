"""``profilelab traces FILE...``: every sample with its labels and stack (pprof's -traces)."""

from __future__ import annotations

import argparse

from profilelab.cli._common import add_command
from profilelab.cli._report import add_report_options, run_report, write


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "traces",
        "Every sample with its labels and call stack (pprof's -traces).",
        "  profilelab traces cpu.pb.gz\n"
        "  profilelab traces heap.pb.gz --tagfocus 'bytes=1mb:' --format json",
    )
    add_report_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    write(run_report(args, "traces"))
    return 0
