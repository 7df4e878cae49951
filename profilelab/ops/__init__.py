"""pprof-exact reports over the canonical tables: one dispatch for the API and the CLI.

The public functions take a :class:`~profilelab.Profile` and a selection with pprof's
report options (keyword arguments of :class:`ReportOptions`) and return Polars frames:

* :func:`top` - flat, flat_pct, sum_pct, cum, cum_pct, name (+ inline) per node;
* :func:`tags` - value totals per label key and value;
* :func:`peek` - callers and callees of the nodes matching a regex;
* :func:`traces` - every sample with its labels and stack.

:func:`run` is the one dispatch: ``Profile.top``, these functions and
:func:`profilelab.render.report.report` (text, CSV, JSON; the CLI) all call it, so the
API and the command line agree row for row. Defaults that depend on the output are
decided here only: text hides nodes below 0.5% of the total (pprof's
``-nodefraction=0.005``), tables keep all; ``edgefraction`` (which only decides the
``(inline)`` labels) is pprof's 0.001 for every output.

Each step lives in its own module with its semantics in the docstring: ``samples``
(sample type, merging, base/diff), ``stackfilter`` (drop_frames, focus, ignore, hide,
show, show_from, prune_from, noinlines), ``labels`` (tag filters), ``granularity``
(nodes and names), ``graph`` (flat, cum, edges), ``measurement`` (units).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from profilelab.errors import QueryError

if TYPE_CHECKING:
    from profilelab.model.graph_tables import GraphTables

from profilelab.model.profile import Profile
from profilelab.ops.options import ReportOptions
from profilelab.ops.pipeline import Prepared, prepare

__all__ = ["REPORTS", "Prepared", "Report", "ReportOptions", "call_graph", "peek", "prepare"]
__all__ += ["run", "source_list", "tags", "top", "traces"]

#: The reports :func:`run` dispatches to.
REPORTS = ("top", "peek", "tags", "traces")

TEXT_NODEFRACTION = 0.005  # pprof's -nodefraction default for its text reports
EDGEFRACTION = 0.001  # pprof's -edgefraction default


@dataclass(frozen=True)
class Report:
    """A report's table, the prepared samples it came from and its kind-specific result."""

    kind: str
    prepared: Prepared
    table: pl.DataFrame
    result: Any = None  # TopResult for top, PeekResult for peek
    nodefraction: float = 0.0


def run(
    profile: Profile,
    kind: str,
    opts: ReportOptions | None = None,
    *,
    text: bool = False,
    regex: str | None = None,
) -> Report:
    """Build report ``kind`` (top, peek, tags, traces) for text (``text=True``) or tables."""
    opts = (opts or ReportOptions()).validated()
    if opts.names is None:  # text shows pprof's names; tables keep the full ones
        opts = opts.with_(names="pprof" if text else "full")
    if kind == "top":
        return _top(profile, opts, text)
    if kind == "peek":
        if not regex:
            raise QueryError("peek needs a regex")
        from profilelab.ops.report_peek import peek as run_peek
        from profilelab.ops.report_peek import peek_table

        prepared = prepare(profile, opts)
        result = run_peek(prepared, regex)
        return Report(kind, prepared, peek_table(result), result)
    if kind == "tags":
        from profilelab.ops.report_tags import tags as run_tags

        prepared = prepare(profile, opts, all_types=True)
        return Report(kind, prepared, run_tags(prepared))
    if kind == "traces":
        from profilelab.ops.report_traces import traces as run_traces

        prepared = prepare(profile, opts, all_types=True)
        return Report(kind, prepared, run_traces(prepared))
    raise QueryError(f"unknown report {kind!r} ({', '.join(REPORTS)})")


def _top(profile: Profile, opts: ReportOptions, text: bool) -> Report:
    from profilelab.ops.report_top import top as run_top

    fraction = opts.nodefraction
    if fraction is None:
        fraction = TEXT_NODEFRACTION if text else 0.0
    edge = EDGEFRACTION if opts.edgefraction is None else opts.edgefraction
    prepared = prepare(profile, opts)
    result = run_top(
        prepared, nodecount=opts.nodecount or 0, nodefraction=fraction, edgefraction=edge
    )
    return Report("top", prepared, result.table, result, fraction)


def top(profile: Profile, options: ReportOptions | None = None, **kwargs: Any) -> pl.DataFrame:
    """pprof's ``-top`` as a frame (all nodes unless ``nodecount``/``nodefraction`` are set)."""
    return run(profile, "top", _opts(options, kwargs)).table


def tags(profile: Profile, options: ReportOptions | None = None, **kwargs: Any) -> pl.DataFrame:
    """pprof's ``-tags`` as a frame: key, value, flat, flat_pct, key_total."""
    return run(profile, "tags", _opts(options, kwargs)).table


def peek(
    profile: Profile, regex: str, options: ReportOptions | None = None, **kwargs: Any
) -> pl.DataFrame:
    """pprof's ``-peek REGEX`` as a frame: node, direction, name, flat, cum, weight, inline."""
    return run(profile, "peek", _opts(options, kwargs), regex=regex).table


def traces(profile: Profile, options: ReportOptions | None = None, **kwargs: Any) -> pl.DataFrame:
    """pprof's ``-traces`` as a frame: value, labels, frames (leaf first), inline."""
    return run(profile, "traces", _opts(options, kwargs)).table


def _opts(opts: ReportOptions | None, kwargs: dict[str, Any]) -> ReportOptions:
    """``opts`` with ``kwargs``; ``selection=`` (a core Selection) gives the selection fields."""
    selection = kwargs.pop("selection", None)
    if selection is not None:
        from profilelab.core.selection import selection_fields

        fields = {name: getattr(selection, name) for name in selection_fields()}
        kwargs = {**fields, **kwargs}
    return (opts or ReportOptions()).with_(**kwargs)


def source_list(
    profile: Profile, regex: str, options: ReportOptions | None = None, **kwargs: Any
) -> pl.DataFrame:
    """pprof's ``-list REGEX`` as a frame: function, file, line, flat, cum, source.

    Source files are searched in ``source_path`` (default: the current directory) after
    ``trim_path``, as pprof searches them; lines of files that cannot be read are absent.
    """
    from profilelab.ops.report_list import list_table
    from profilelab.ops.report_list import source_list as run

    opts = _opts(options, kwargs).with_(granularity="lines")
    return list_table(run(prepare(profile, opts), regex))


def call_graph(
    profile: Profile, options: ReportOptions | None = None, **kwargs: Any
) -> GraphTables:
    """The call graph that ``-dot`` draws, as ``(nodes, edges)`` tables.

    pprof's selection applies: ``nodecount`` (default 80), ``nodefraction`` (0.005),
    ``edgefraction`` (0.001), ``call_tree``; names are pprof's unless ``names="full"``.
    """
    from profilelab.ops.report_graph import call_graph as run
    from profilelab.ops.report_graph import graph_options, graph_tables

    opts = graph_options(_opts(options, kwargs))
    if opts.names is None:
        opts = opts.with_(names="pprof")
    return graph_tables(run(prepare(profile, opts), kind="dot"))
