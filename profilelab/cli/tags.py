"""``profilelab tags FILE...``: value totals per label key and value (pprof's -tags)."""

from __future__ import annotations

import argparse

from profilelab.cli._common import add_command
from profilelab.cli._report import add_report_options, run_report, write


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "tags",
        "How sample values split by label key and value (pprof's -tags).",
        "  profilelab tags heap.pb.gz\n"
        "  profilelab tags cpu.pb.gz --tagfocus 'endpoint=/api/.*' --format csv",
    )
    add_report_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    write(run_report(args, "tags"))
    return 0
