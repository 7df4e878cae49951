"""``profilelab report DATASET... -o report.html``: the playbooks as one offline HTML page."""

from __future__ import annotations

import argparse

from profilelab.cli._common import add_command, add_selection_arguments, selection_from


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "report",
        "Write the findings of the playbooks for shipped datasets as one self-contained "
        "HTML report (tables, charts, flame graphs; works offline, no Jupyter needed).",
        "  profilelab report order-service -o report.html\n"
        "  profilelab report checkout-api heap-leak -o report.html\n"
        "  profilelab report all --format otlp -o report.html\n"
        "  profilelab report --profile heap.pb.gz --sample-index alloc_space -o heap.html",
    )
    p.add_argument(
        "datasets",
        nargs="*",
        metavar="DATASET",
        help="shipped dataset names (order-service, heap-leak, ...) or all",
    )
    p.add_argument(
        "--profile",
        dest="profiles",
        action="append",
        metavar="FILE",
        help="also show these profiles (merged): the top table and flame graph of the "
        "selection below (repeatable)",
    )
    p.add_argument("-o", "--output", required=True, help="the HTML file to write")
    p.add_argument(
        "--format",
        default="pprof",
        choices=["pprof", "otlp"],
        help="read the datasets as pprof (as shipped) or as OTLP (converted once)",
    )
    add_selection_arguments(p, output=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from profilelab import report

    out = report.write(
        args.output,
        args.datasets,
        format=args.format,
        profiles=args.profiles or (),
        selection=selection_from(args),
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
