"""``profilelab diff BASE NEW -o out.html``: a red/blue diff flame graph page."""

from __future__ import annotations

import argparse

import profilelab
from profilelab.cli._common import add_command, selection_from
from profilelab.cli._flame_args import add_view_arguments, parse_labels
from profilelab.errors import QueryError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "diff",
        "Write a diff flame graph (red: grew, blue: shrank) as one self-contained HTML file.",
        "  profilelab diff before.pb.gz after.pb.gz -o diff.html\n"
        "  profilelab diff before.pb.gz after.pb.gz --normalize --width-by max -o diff.html\n"
        "  profilelab diff cpu.pb.gz --base-label version=v1 --new-label version=v2 -o d.html",
    )
    p.add_argument("base", metavar="BASE", help="base profile")
    p.add_argument("new", metavar="NEW", nargs="?", help="new profile (default: BASE again)")
    add_view_arguments(p)
    p.add_argument(
        "--normalize", action="store_true", help="scale the base to the new total (pprof)"
    )
    p.add_argument("--width-by", choices=("new", "max"), default="new", help="frame widths")
    p.add_argument("--base-label", action="append", metavar="KEY=VALUE")
    p.add_argument("--new-label", action="append", metavar="KEY=VALUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from profilelab.render.flame_html import diff_html, write
    from profilelab.views import comparison

    if args.new is None and not (args.base_label or args.new_label):
        raise QueryError("diff needs NEW, or --base-label/--new-label to compare one profile")
    base = profilelab.load(args.base)
    new = profilelab.load(args.new) if args.new else None
    cmp = comparison(
        base,
        new,
        base_labels=parse_labels(args.base_label),
        new_labels=parse_labels(args.new_label),
        selection=selection_from(args),
    )
    page = diff_html(
        cmp,
        title=args.title,
        granularity=args.granularity,
        normalize=args.normalize,
        width_by=args.width_by,
        max_nodes=args.max_nodes,
    )
    out = write(args.output, page)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
