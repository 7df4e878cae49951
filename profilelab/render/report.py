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
    """``kind`` is top, peek (needs ``regex``), tags, traces, or one of ``GRAPH_KINDS``;
    ``fmt`` text, csv or json. top, peek, tags and traces come from
    :func:`profilelab.ops.run`, the dispatch the API uses."""
    opts = options or options_mod.ReportOptions()
    if kind in GRAPH_KINDS:
        return _graph_report(profile, kind, opts, fmt, regex)
    if fmt not in FORMATS:
        raise QueryError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    built = ops.run(profile, kind, opts, text=fmt == "text", regex=regex)
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


def to_csv(df: pl.DataFrame) -> str:
    """CSV with a header row; floats rounded to 6 decimals."""
    rounded = df.with_columns(pl.col(pl.Float64).round(6))
    return rounded.write_csv()


def to_json(df: pl.DataFrame) -> str:
    """A JSON array of row objects (rounded percentages, exact integers)."""
    rounded = df.with_columns(pl.col(pl.Float64).round(6))
    return json.dumps(rounded.to_dicts(), ensure_ascii=False, indent=1) + "\n"
