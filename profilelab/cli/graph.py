"""``profilelab graph FILE...``: the call graph as pprof shows it (-dot, -svg, -png, -tree,
-callgrind)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from profilelab.cli._common import add_command
from profilelab.cli._report import (
    add_report_options,
    add_source_options,
    load_prefetched,
    options_from,
    write,
)

FORMATS = ("dot", "svg", "png", "tree", "callgrind")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "graph",
        "The call graph with pprof's node and edge selection: DOT text (pprof's -dot), SVG or "
        "PNG drawn by Graphviz's dot, pprof's -tree text, or callgrind (KCachegrind).",
        "  profilelab graph cpu.pb.gz --format svg -o cpu.svg\n"
        "  profilelab graph cpu.pb.gz --nodecount 30 --focus 'net/http' > cpu.dot\n"
        "  profilelab graph heap.pb.gz --sample-index alloc_space --format tree\n"
        "  profilelab graph cpu.pb.gz --format callgrind -o callgrind.out",
    )
    add_report_options(p, formats=FORMATS)
    g = p.add_argument_group("graph")
    g.add_argument(
        "--call-tree",
        "--call_tree",
        action="store_true",
        help="one node per call path instead of per function (dot, svg, png, callgrind)",
    )
    g.add_argument(
        "--relative-percentages",
        "--relative_percentages",
        action="store_true",
        help="percentages of the filtered total instead of the whole profile",
    )
    add_source_options(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    profile = load_prefetched(args.files)
    from profilelab.render import graphviz, report

    kind = "dot" if args.format in ("dot", "svg", "png") else args.format
    text = report(profile, kind, options_from(args))
    if args.format in graphviz.FORMATS:
        data = graphviz.render(text, args.format)
        if args.output:
            Path(args.output).write_bytes(data)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    elif args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        write(text)
    return 0
