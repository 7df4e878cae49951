"""``profilelab list REGEX FILE...``: annotated source of matching functions (pprof's -list).

The module is ``list_`` so that importing it does not shadow the builtin ``list``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from profilelab.cli._common import add_command
from profilelab.cli._report import add_report_options, add_source_options, run_report, write


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "list",
        "Source lines of the functions matching REGEX with their flat and cum values "
        "(pprof's -list); needs the source files, not the binaries.",
        "  profilelab list 'main\\.riskScore' cpu.pb.gz --source-path ~/src/order-service\n"
        "  profilelab list 'json' cpu.pb.gz --trim-path /build/ --format csv\n"
        "  profilelab list 'leak' heap.pb.gz --sample-index inuse_space --format html -o src.html",
    )
    p.add_argument("regex", metavar="REGEX", help="regex matched against function names")
    add_report_options(p, formats=("text", "csv", "json", "html"))
    add_source_options(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    text = run_report(args, "list", regex=args.regex)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        write(text)
    return 0
