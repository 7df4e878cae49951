"""Render a report of a profile as pprof text, CSV or JSON.

CSV and JSON carry exact integers in the sample unit (``flat``, ``cum``, ``weight``) and
percentages as numbers; ``top`` as CSV has exactly the columns
``flat,flat_pct,sum_pct,cum,cum_pct,name``. Defaults that differ by format are decided in
one place, :func:`profilelab.ops.run`.
"""

from __future__ import annotations

import json

import polars as pl

from profilelab import ops
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.ops.options import ReportOptions
from profilelab.render import text

FORMATS = ("text", "csv", "json")


def report(
    profile: Profile,
    kind: str,
    options: ReportOptions | None = None,
    *,
    fmt: str = "text",
    regex: str | None = None,
) -> str:
    """``kind`` is top, peek (needs ``regex``), tags or traces; ``fmt`` text, csv or json.

    The report itself comes from :func:`profilelab.ops.run`, the dispatch the API uses."""
    if fmt not in FORMATS:
        raise QueryError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    built = ops.run(profile, kind, options, text=fmt == "text", regex=regex)
    if fmt == "text":
        return _text(built)
    table = built.table
    if kind == "top" and fmt == "csv":
        from profilelab.ops.report_top import TOP_COLUMNS

        table = table.select(TOP_COLUMNS)
    elif kind == "traces" and fmt == "csv":
        table = table.with_columns(
            pl.col("labels").list.join("\n"),
            pl.col("frames").list.join("\n"),
            pl.col("inline").cast(pl.List(pl.Utf8)).list.join(" "),
        )
    return to_csv(table) if fmt == "csv" else to_json(table)


def _text(built: ops.Report) -> str:
    if built.kind == "top":
        return text.top_text(built.prepared, built.result, built.nodefraction)
    if built.kind == "peek":
        return text.peek_text(built.prepared, built.result)
    if built.kind == "tags":
        return text.tags_text(built.prepared, built.table)
    return text.traces_text(built.prepared, built.table)


def to_csv(df: pl.DataFrame) -> str:
    """CSV with a header row; floats rounded to 6 decimals."""
    rounded = df.with_columns(pl.col(pl.Float64).round(6))
    return rounded.write_csv()


def to_json(df: pl.DataFrame) -> str:
    """A JSON array of row objects (rounded percentages, exact integers)."""
    rounded = df.with_columns(pl.col(pl.Float64).round(6))
    return json.dumps(rounded.to_dicts(), ensure_ascii=False, indent=1) + "\n"
