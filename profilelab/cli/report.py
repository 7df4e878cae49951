"""``profilelab report DATASET... -o report.html``: the playbooks as one offline HTML page."""

from __future__ import annotations

import argparse

from profilelab.cli._common import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "report",
        "Write the findings of the playbooks for shipped datasets as one self-contained "
        "HTML report (tables, charts, flame graphs; works offline, no Jupyter needed).",
        "  profilelab report order-service -o report.html\n"
        "  profilelab report checkout-api heap-leak -o report.html\n"
        "  profilelab report all --format otlp -o report.html",
    )
    p.add_argument(
        "datasets",
        nargs="+",
        metavar="DATASET",
        help="shipped dataset names (order-service, heap-leak, ...) or all",
    )
    p.add_argument("-o", "--output", required=True, help="the HTML file to write")
    p.add_argument(
        "--format",
        default="pprof",
        choices=["pprof", "otlp"],
        help="read the profiles as pprof (as shipped) or as OTLP (converted once)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from profilelab import report

    out = report.write(args.output, args.datasets, format=args.format)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
