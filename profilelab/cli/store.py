"""``profilelab store info|compact|retain``: inspect and maintain a profile store."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from profilelab.cli._common import HelpFormatter, add_command
from profilelab.cli._store_args import add_store

if TYPE_CHECKING:
    from profilelab.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "store",
        "Inspect and maintain a profile store: info, compact small files, retain by age.",
        "  profilelab store info --store profiles/\n"
        "  profilelab store compact --store profiles/\n"
        "  profilelab store compact --store profiles/ --full\n"
        "  profilelab store retain --store profiles/ --max-age 30d\n"
        "  profilelab store retain --store profiles/ --before 2024-01-01",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = actions.add_parser(
        "info",
        help="profiles per type and service, time range, files and bytes",
        epilog="example:\n  profilelab store info --store profiles/",
        formatter_class=HelpFormatter,
    )
    add_store(info)
    info.set_defaults(func=run_info)
    compact = actions.add_parser(
        "compact",
        help="merge small segments; --full rewrites everything and drops unused stacks",
        epilog="example:\n  profilelab store compact --store profiles/ --full",
        formatter_class=HelpFormatter,
    )
    add_store(compact)
    compact.add_argument("--full", action="store_true", help="rewrite all segments into one")
    compact.set_defaults(func=run_compact)
    retain = actions.add_parser(
        "retain",
        help="drop profiles older than --max-age or before --before",
        epilog="example:\n  profilelab store retain --store profiles/ --max-age 30d",
        formatter_class=HelpFormatter,
    )
    add_store(retain)
    group = retain.add_mutually_exclusive_group(required=True)
    group.add_argument("--max-age", help="e.g. 30d, 12h")
    group.add_argument("--before", help="a time: RFC 3339, a date, -7d, or Unix seconds")
    retain.set_defaults(func=run_retain)


def _open(args: argparse.Namespace) -> Store:
    from profilelab.store import open_store

    return open_store(args.store, create=False)


def run_info(args: argparse.Namespace) -> int:
    import polars as pl

    from profilelab.core.timeparse import format_ns

    store = _open(args)
    snap = store.snapshot()
    rows = snap.catalog
    files = snap.live_files()
    size = sum(os.path.getsize(store.root / f) for f in files if (store.root / f).exists())
    print(f"store: {store.root}")
    print(f"profiles: {rows.height}  segments: {len(snap.segments)}  files: {len(files)}")
    print(f"bytes: {size}")
    if rows.height:
        first, last = rows["time_ns"].min(), rows["time_ns"].max()
        print(f"time: {format_ns(int(first))} .. {format_ns(int(last))}")  # type: ignore[arg-type]
        per = (
            rows.group_by("profile_type", "service")
            .agg(pl.len().alias("profiles"), pl.col("n_samples").sum().alias("samples"))
            .sort("profile_type", "service")
        )
        for ptype, service, n, samples in per.iter_rows():
            print(f"  {ptype}  service={service}  profiles={n}  samples={samples}")
    return 0


def run_compact(args: argparse.Namespace) -> int:
    store = _open(args)
    print(store.compact(full=args.full).summary())
    return 0


def run_retain(args: argparse.Namespace) -> int:
    store = _open(args)
    print(store.retain(max_age=args.max_age, before=args.before).summary())
    return 0
