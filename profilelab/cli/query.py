"""``profilelab query SELECTOR --store DIR [--from ...] [REPORT]``: read profiles from a store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from profilelab.cli._common import add_command, add_selection_arguments, selection_kwargs
from profilelab.cli._store_args import add_store, allow_intermixed
from profilelab.errors import QueryError

if TYPE_CHECKING:
    import polars as pl

    from profilelab.model.profile import Profile

REPORTS = ("top", "profiles", "series")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "query",
        "Select stored profiles by type, labels and time; print a report of them.",
        "  profilelab query 'cpu{service=\"order\"}' --store profiles/ --from -1h top\n"
        '  profilelab query \'heap{region=~"eu-.*", version!="v1"}\' --store profiles/ profiles\n'
        "  profilelab query 'sum by (version) (cpu{service=\"order\"})' --store profiles/ top\n"
        "  profilelab query 'sum(cpu{service=\"order\"})' --store profiles/ -o merged.pb.gz\n"
        "  profilelab query cpu --store profiles/ --from 2024-05-01 --to 2024-05-02 series "
        "--step 1h --function main.work\n"
        "  profilelab query cpu --store profiles/ --from 2024-05-01 --to 2024-05-02 top "
        "--engine spark --spark-master spark://head:7077 --spark-root s3a://bucket/profiles",
    )
    allow_intermixed(p)
    p.add_argument("selector", help='e.g. cpu{service="order"}; see docs/store.md')
    p.add_argument("report", nargs="?", choices=REPORTS, default="top", help="default: top")
    add_store(p)
    add_selection_arguments(p)
    p.add_argument("--nodes", dest="nodecount", type=int, help=argparse.SUPPRESS)
    p.add_argument("--step", default="1m", help="series step (default 1m)")
    p.add_argument("--function", help="series: only stacks through this function")
    p.add_argument(
        "--output", "-o", metavar="FILE", help="also write the result (e.g. merged.pb.gz)"
    )
    p.add_argument("--to-format", help="output format (default: from the --output name)")
    p.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        help="top and series: compute over the store's files in DuckDB or Apache Spark "
        "(function, flat, cum) instead of loading the profiles (see docs/store.md)",
    )
    p.add_argument(
        "--spark-master",
        metavar="URL",
        help="with --engine spark: the master (default $PROFILELAB_SPARK_MASTER, else local[*])",
    )
    p.add_argument(
        "--spark-root",
        metavar="URL",
        help="with --engine spark: where the executors read the store "
        "(default: --store; e.g. s3a://bucket/profiles for a published copy)",
    )
    p.set_defaults(func=run, nodecount=20)


def run(args: argparse.Namespace) -> int:
    from profilelab.core.timeparse import format_ns
    from profilelab.store import open_store

    store = open_store(args.store, create=False)
    if args.report == "profiles":
        return _print_profiles(store.profiles(args.selector, args.start, args.end))
    engine: Any = args.engine or "duckdb"
    if engine == "spark":
        from profilelab.store.plans import Spark

        engine = Spark(master=args.spark_master, root=args.spark_root)
    if args.report == "series":
        series = store.series(
            args.selector, args.step, args.start, args.end, function=args.function, engine=engine
        )
        for t, ptype, value in series.iter_rows():
            print(f"{format_ns(t)}  {ptype}  {value}")
        return 0
    if args.engine is not None:
        _plain_report_only(args)
        totals = store.top(args.selector, args.start, args.end, engine=engine)
        return _print_function_totals(totals, args.nodecount)
    prof = store.query(args.selector, args.start, args.end)
    if args.output:
        _write(prof, args.output, args.to_format)
    # --from/--to chose the profiles by start time; the report keeps all their samples
    fields = {**selection_kwargs(args), "start_ns": None, "end_ns": None}
    print_top(prof, args.nodecount, fields, args.format)
    return 0


def _write(prof: Profile, path: str, fmt: str | None) -> None:
    """Write the query result with the writer registry (pprof, OTLP, ... when available)."""
    from profilelab import writers

    fmt = fmt or writers.format_for_path(path)
    if fmt is None:
        known = ", ".join(sorted(writers.WRITERS)) or "none on this installation"
        raise QueryError(f"cannot tell the output format of {path}; give --to-format ({known})")
    with open(path, "wb") as out:
        writers.write(prof, out, fmt)


def _print_profiles(rows: pl.DataFrame) -> int:
    from profilelab.core.timeparse import format_ns

    for r in rows.iter_rows(named=True):
        labels = ",".join(f"{kv['key']}={kv['value']}" for kv in r["labels"])
        print(
            f"{format_ns(r['time_ns'])}  {r['profile_type']}  {{{labels}}}  "
            f"samples={r['n_samples']} total={r['total']}  {r['source']}"
        )
    return 0


def _plain_report_only(args: argparse.Namespace) -> None:
    """--engine computes flat and cum per function over every sample: refuse the report
    options it would ignore."""
    fields = selection_kwargs(args)
    used = [k for k in ("focus", "ignore", "hide", "show", "show_from", "prune_from") if fields[k]]
    used += [k for k in ("tagfocus", "tagignore", "tagshow", "taghide", "labels") if fields[k]]
    used += ["sample_index"] if fields["sample_index"] is not None else []
    used += ["transforms"] if fields["transforms"] else []
    used += ["granularity"] if fields["granularity"] not in (None, "functions") else []
    used += ["noinlines"] if fields["noinlines"] else []
    if used or args.output:
        given = ", ".join(
            "--" + k.replace("_", "-") for k in used + (["output"] if args.output else [])
        )
        raise QueryError(
            f"--engine computes flat and cum per function over every selected sample; "
            f"{given} need the profiles loaded: drop --engine"
        )


def _print_function_totals(totals: pl.DataFrame, nodes: int | None) -> int:
    """``--engine``'s top: flat, flat%, cum, cum% per function (% of the selection's total)."""
    if totals.height == 0:
        print("no profiles matched")
        return 0
    total = totals["flat"].sum() or 1
    print(f"{'flat':>14} {'flat%':>7} {'cum':>14} {'cum%':>7}  function")
    for name, flat, cum in totals.head(nodes or totals.height).iter_rows():
        print(f"{flat:>14} {100 * flat / total:6.2f}% {cum:>14} {100 * cum / total:6.2f}%  {name}")
    return 0


def print_top(
    prof: Profile, nodes: int | None, fields: dict[str, Any] | None = None, fmt: str = "text"
) -> None:
    """pprof's top report of the matched profiles (one sample type); ``fields`` are
    selection fields (keyword arguments of :class:`profilelab.core.Selection`)."""
    from profilelab.ops.options import ReportOptions
    from profilelab.render import report

    if prof.profiles.height == 0:
        print("no profiles matched")
        return
    # several sample types: the default of every command (pprof's), or --sample-index
    opts = ReportOptions(**(fields or {}), nodecount=nodes)
    print(report(prof, "top", opts, fmt=fmt), end="")
