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
    if kind in GRAPH_KINDS:
        return _graph_report(profile, kind, opts, fmt, regex)
    if fmt not in FORMATS:
        raise QueryError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if opts.names is None:  # text shows pprof's names; tables keep the full ones
        opts = opts.with_(names="pprof" if fmt == "text" else "full")
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


#: Reports of the call graph and of source lines, with the formats each one has.
GRAPH_KINDS = {
    "list": ("text", "csv", "json", "html"),
    "dot": ("text",),
    "tree": ("text",),
    "callgrind": ("text",),
}


def _graph_report(
    profile: Profile, kind: str, opts: options_mod.ReportOptions, fmt: str, regex: str | None
) -> str:
    formats = GRAPH_KINDS[kind]
    if fmt not in formats:
        raise QueryError(f"format {fmt!r} is not one of {', '.join(formats)} for {kind}")
    if opts.names is None:
        opts = opts.with_(names="full" if fmt in ("csv", "json") else "pprof")
    if kind == "list":
        if not regex:
            raise QueryError("list needs a regex")
        return _list(profile, opts, fmt, regex)
    return _graph(profile, kind, opts)


def _graph(profile: Profile, kind: str, opts: options_mod.ReportOptions) -> str:
    from profilelab.ops.report_graph import call_graph, graph_options, object_files
    from profilelab.render import graph

    if kind == "callgrind":  # pprof: addresses, inlines kept, never trimmed
        opts = opts.with_(
            granularity="addresses",
            noinlines=False,
            nodecount=0,
            nodefraction=0.0,
            edgefraction=0.0,
        )
    opts = graph_options(opts)
    prepared = prepare(profile, opts)
    g = call_graph(prepared, kind=kind)
    if kind == "dot":
        return graph.dot_text(prepared, g)
    if kind == "tree":
        return graph.tree_text(prepared, g)
    return graph.callgrind_text(prepared, g, object_files(prepared))


def _list(profile: Profile, opts: options_mod.ReportOptions, fmt: str, regex: str) -> str:
    from profilelab.ops.report_list import list_table, source_list
    from profilelab.render import source

    # pprof's -list: line granularity, never trimmed (applyCommandOverrides).
    prepared = prepare(profile, opts.with_(granularity="lines"))
    result = source_list(prepared, regex)
    if fmt == "text":
        return source.list_text(prepared, result)
    if fmt == "html":
        return source.list_html(prepared, result)
    table = list_table(result)
    return to_csv(table) if fmt == "csv" else to_json(table)


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
