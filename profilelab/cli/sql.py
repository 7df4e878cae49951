"""``profilelab sql QUERY FILE...``: DuckDB SQL over the tables of the loaded profiles."""

from __future__ import annotations

import argparse
import sys

from profilelab.cli._common import (
    add_command,
    add_csv_alias,
    add_selection_arguments,
    load_selected,
    render_table,
)
from profilelab.errors import QueryError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "sql",
        "Run a DuckDB query over the tables profiles, samples, stacks, frames, mappings, "
        "labels of the given files; print a table, CSV or write Parquet.",
        "  profilelab sql 'select sample_type, sum(value) from samples join profiles "
        "using (profile_id) group by all' cpu.pb.gz\n"
        "  profilelab sql 'select key, count(*) from labels group by key' --csv *.pb.gz\n"
        "  profilelab sql 'select * from frames' heap.pb.gz --parquet frames.parquet",
    )
    p.add_argument("query", metavar="QUERY", help="SQL (DuckDB dialect)")
    p.add_argument("files", nargs="+", metavar="FILE", help="profiles to load (merged)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--parquet", metavar="OUT", help="write the result to a Parquet file")
    add_selection_arguments(p)
    add_csv_alias(p)
    p.add_argument("--max-rows", type=int, default=50, help="rows shown in table mode (-1: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import polars as pl

    result = load_selected(args.files, args, "sql").sql(args.query)
    if args.nodecount:
        result = result.head(args.nodecount)
    if args.parquet:
        try:
            result.write_parquet(args.parquet)
        except OSError as exc:
            raise QueryError(f"writing {args.parquet}: {exc}") from None
        print(f"{result.height} rows written to {args.parquet}", file=sys.stderr)
    elif args.format != "text":
        sys.stdout.write(render_table(result, args.format))
    else:
        rows = result.height if args.max_rows < 0 else args.max_rows
        with pl.Config(tbl_rows=rows, tbl_cols=-1, fmt_str_lengths=80, tbl_width_chars=200):
            print(result)
    return 0
