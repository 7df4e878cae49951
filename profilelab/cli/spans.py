"""``profilelab spans TRACEFILE [--profile FILE...]``: spans, their CPU time, join coverage."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import profilelab
from profilelab.cli._common import (
    add_command,
    add_selection_arguments,
    load_selected,
    render_table,
)

if TYPE_CHECKING:
    import polars as pl

EXAMPLES = """\
  profilelab spans traces.json
  profilelab spans traces.json --profile cpu.pb.gz --slowest 10
  profilelab spans traces.json --profile *.pb.gz
  profilelab spans jaeger.json --profile cpu.pb.gz --name "GET /order" --slowest 5
  profilelab spans zipkin.json --profile a.pprof --profile b.pprof --service orders --cores 4
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "spans",
        "List spans of a trace file (OTLP, Jaeger, Zipkin) with CPU time from profiles.",
        EXAMPLES,
    )
    p.add_argument("trace", metavar="TRACEFILE")
    p.add_argument(
        "--profile",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="profiles whose samples carry span labels (one or more; repeatable)",
    )
    p.add_argument("--name", help="only spans with this name")
    p.add_argument("--service", help="only spans of this service")
    p.add_argument("--slowest", type=int, metavar="K", help="only the K longest spans")
    p.add_argument(
        "--cores",
        type=float,
        default=1.0,
        help="cores a span can use at once: caps CPU at wall x cores (default 1)",
    )
    add_selection_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import polars as pl

    spans = profilelab.load_traces(args.trace)
    table = spans.with_duration().with_columns(pl.lit(None, pl.Int64).alias("cpu_ns"))
    joined = None
    if args.profile:
        joined = profilelab.join_spans(load_selected(args.profile, args, "spans"), spans)
        cpu = joined.cpu_vs_wall(cores=args.cores, by_span=True).select("span_row", "cpu_ns")
        table = table.drop("cpu_ns").join(cpu, on="span_row", how="left")
    if args.name is not None:
        table = table.filter(pl.col("name") == args.name)
    if args.service is not None:
        table = table.filter(pl.col("service") == args.service)
    table = table.sort(["duration_ns", "span_row"], descending=[True, False], nulls_last=True)
    if args.slowest is not None:
        table = table.head(args.slowest)
    if args.nodecount:
        table = table.head(args.nodecount)
    if args.format != "text":
        print(render_table(table.drop("attributes", strict=False), args.format), end="")
        return 0
    _print_table(table)
    print(
        f"{spans.spans.height} spans in {spans.spans['trace_id'].n_unique()} traces; "
        f"{table.height} shown"
    )
    if joined is not None:
        print(joined.coverage.summary())
    if spans.problems.height:
        counts = spans.problems.group_by("problem").agg(pl.len()).sort("problem")
        print("problems: " + ", ".join(f"{p} {n}" for p, n in counts.iter_rows()))
    return 0


def _print_table(table: pl.DataFrame) -> None:
    print(f"{'duration ms':>12} {'cpu ms':>9} {'cpu %':>6}  {'trace/span':<25} service  name")
    for r in table.iter_rows(named=True):
        dur, cpu = r["duration_ns"], r["cpu_ns"]
        dur_s = "?" if dur is None else f"{dur / 1e6:.3f}"
        cpu_s = "-" if cpu is None else f"{cpu / 1e6:.1f}"
        pct = "-" if cpu is None or not dur else f"{100 * cpu / dur:.0f}"
        ids = f"{r['trace_id'][-8:]}/{r['span_id']}"
        print(f"{dur_s:>12} {cpu_s:>9} {pct:>6}  {ids:<25} {r['service'] or '-'}  {r['name']}")
