"""Render a report of a profile as pprof text, CSV or JSON.

CSV and JSON carry exact integers in the sample unit (``flat``, ``cum``, ``weight``) and
percentages as numbers; ``top`` as CSV has exactly the columns
``flat,flat_pct,sum_pct,cum,cum_pct,name``. Defaults differ by format in one place: text
hides nodes below 0.5% of the total (pprof's ``-nodefraction=0.005``), tables keep all.
"""

from __future__ import annotations

import json

import polars as pl

from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.ops import options as options_mod
from profilelab.ops.pipeline import prepare
from profilelab.render import text

FORMATS = ("text", "csv", "json")


def report(
    profile: Profile,
    kind: str,
    options: options_mod.ReportOptions | None = None,
    *,
    fmt: str = "text",
    regex: str | None = None,
) -> str:
    """``kind`` is top, peek (needs ``regex``), tags or traces; ``fmt`` text, csv or json."""
    opts = options or options_mod.ReportOptions()
    if fmt not in FORMATS:
        raise QueryError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if kind == "top":
        return _top(profile, opts, fmt)
    if kind == "peek":
        if not regex:
            raise QueryError("peek needs a regex")
        return _peek(profile, opts, fmt, regex)
    if kind == "tags":
        return _tags(profile, opts, fmt)
    if kind == "traces":
        return _traces(profile, opts, fmt)
    raise QueryError(f"unknown report {kind!r} (top, peek, tags, traces)")


def _top(profile: Profile, opts: options_mod.ReportOptions, fmt: str) -> str:
    from profilelab.ops.report_top import TOP_COLUMNS, top

    text_fmt = fmt == "text"
    fraction = _default(opts.nodefraction, 0.005 if text_fmt else 0.0)
    edge_fraction = _default(opts.edgefraction, 0.001 if text_fmt else 0.0)
    prepared = prepare(profile, opts)
    result = top(
        prepared,
        nodecount=opts.nodecount or 0,
        nodefraction=fraction,
        edgefraction=edge_fraction,
    )
    if fmt == "text":
        return text.top_text(prepared, result, fraction)
    table = result.table
    if fmt == "csv":
        return to_csv(table.select(TOP_COLUMNS))
    return to_json(table)


def _default(value: float | None, default: float) -> float:
    return default if value is None else value


def _peek(profile: Profile, opts: options_mod.ReportOptions, fmt: str, regex: str) -> str:
    from profilelab.ops.report_peek import peek, peek_table

    prepared = prepare(profile, opts)
    result = peek(prepared, regex)
    if fmt == "text":
        return text.peek_text(prepared, result)
    table = peek_table(result)
    return to_csv(table) if fmt == "csv" else to_json(table)


def _tags(profile: Profile, opts: options_mod.ReportOptions, fmt: str) -> str:
    from profilelab.ops.report_tags import tags

    prepared = prepare(profile, opts, all_types=True)
    table = tags(prepared)
    if fmt == "text":
        return text.tags_text(prepared, table)
    return to_csv(table) if fmt == "csv" else to_json(table)


def _traces(profile: Profile, opts: options_mod.ReportOptions, fmt: str) -> str:
    from profilelab.ops.report_traces import traces

    prepared = prepare(profile, opts, all_types=True)
    table = traces(prepared)
    if fmt == "text":
        return text.traces_text(prepared, table)
    if fmt == "csv":
        flat = table.with_columns(
            pl.col("labels").list.join("\n"),
            pl.col("frames").list.join("\n"),
            pl.col("inline").cast(pl.List(pl.Utf8)).list.join(" "),
        )
        return to_csv(flat)
    return to_json(table)


def to_csv(df: pl.DataFrame) -> str:
    """CSV with a header row; floats rounded to 6 decimals."""
    rounded = df.with_columns(pl.col(pl.Float64).round(6))
    return rounded.write_csv()


def to_json(df: pl.DataFrame) -> str:
    """A JSON array of row objects (rounded percentages, exact integers)."""
    rounded = df.with_columns(pl.col(pl.Float64).round(6))
    return json.dumps(rounded.to_dicts(), ensure_ascii=False, indent=1) + "\n"
