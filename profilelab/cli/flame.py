"""``profilelab flame FILE... -o out.html``: a self-contained, offline flame graph page."""

from __future__ import annotations

import argparse

from profilelab.cli._common import add_command, selection_from
from profilelab.cli._flame_args import add_view_arguments, parse_labels
from profilelab.cli._report import load_prefetched


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "flame",
        "Write a flame graph as one self-contained HTML file (zoom, search, tooltips offline).",
        "  profilelab flame cpu.pb.gz -o cpu.html\n"
        "  profilelab flame heap.pb.gz --sample-type alloc_space --inverted -o heap.html\n"
        "  profilelab flame a.pb.gz b.pb.gz --focus 'net/http' --label endpoint=/api -o f.html",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="profiles (several are merged)")
    add_view_arguments(p)
    p.add_argument("--inverted", action="store_true", help="bottom-up: callers below callees")
    p.add_argument(
        "--label", action="append", metavar="KEY=VALUE", help="keep samples with this label"
    )
    # the page is written whole before the command ends: its process ends as a report's
    p.set_defaults(func=run, freeze_at_exit=True)


def run(args: argparse.Namespace) -> int:
    profile = load_prefetched(args.files)
    from profilelab.render.flame_html import flame_html, write
    from profilelab.views import Selection

    sel = Selection(profile, labels=parse_labels(args.label), selection=selection_from(args))
    page = flame_html(
        sel,
        title=args.title,
        granularity=args.granularity,
        inverted=args.inverted,
        max_nodes=args.max_nodes,
    )
    out = write(args.output, page)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
