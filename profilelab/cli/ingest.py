"""``profilelab ingest``: add profile files, directories and globs to a store."""

from __future__ import annotations

import argparse
import gc
import sys

from profilelab.cli._common import add_command
from profilelab.cli._store_args import add_labels, add_store, parse_labels


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "ingest",
        "Add profiles (files, directories, globs) to a store; bad inputs are reported and skipped.",
        "  profilelab ingest --store profiles/ cpu.pb.gz heap.pb.gz\n"
        "  profilelab ingest --store profiles/ --label service=order --label region=eu dumps/\n"
        "  profilelab ingest --store profiles/ --name block 'captures/**/block*.pprof'",
    )
    add_store(p)
    add_labels(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="file, directory or glob")
    p.add_argument("--name", help="profile name (cpu, heap, mutex, block, ...); default: inferred")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes that decode (default: free CPUs, at most 4; 1 = this process)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="inputs per commit (default 256, or a quarter of a large ingest's, up to 1024)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from profilelab.store import open_store
    from profilelab.store.ingest import reuse_freed_memory

    reuse_freed_memory()  # the command ends with its ingest
    store = open_store(args.store)
    # What is imported by now (Polars, NumPy, Arrow, the store) lives as long as the
    # command: out of the cyclic collector's passes, which walked all of it (a full pass
    # cost 17 ms of a 500-file ingest, and the young ones a few more).
    gc.freeze()
    report = store.ingest(
        args.paths,
        labels=parse_labels(args.label),
        name=args.name,
        jobs=args.jobs,
        batch_size=None if args.batch_size is None else max(1, args.batch_size),
        progress=not args.quiet,
    )
    for path, reason in report.failed:
        print(f"profilelab: skipped {path}: {reason}", file=sys.stderr)
    for path, diff in report.relabel_skipped:
        print(f"profilelab: kept {path} as stored: {diff}", file=sys.stderr)
    if report.relabel_skipped:
        print(
            "profilelab: identical bytes are stored once, with the labels of their first "
            "ingest; to relabel them, ingest them into a new store with the labels you want",
            file=sys.stderr,
        )
    if not args.quiet:
        print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1
