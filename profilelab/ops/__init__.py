"""Pure table -> table transforms: pprof-exact reports over the canonical tables.

The public functions take a :class:`~profilelab.Profile` and pprof's options (keyword
arguments of :class:`ReportOptions`) and return Polars frames:

* :func:`top` - flat, flat_pct, sum_pct, cum, cum_pct, name (+ inline) per node;
* :func:`tags` - value totals per label key and value;
* :func:`peek` - callers and callees of the nodes matching a regex;
* :func:`traces` - every sample with its labels and stack.

Each step lives in its own module with its semantics in the docstring: ``samples``
(sample type, merging, base/diff), ``stackfilter`` (drop_frames, focus, ignore, hide,
show, show_from, prune_from, noinlines), ``labels`` (tag filters), ``granularity``
(nodes and names), ``graph`` (flat, cum, edges), ``measurement`` (units).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from profilelab.ops.report_graph import GraphTables

from profilelab.model.profile import Profile
from profilelab.ops.options import ReportOptions
from profilelab.ops.pipeline import Prepared, prepare

__all__ = [
    "Prepared",
    "ReportOptions",
    "call_graph",
    "peek",
    "prepare",
    "source_list",
    "tags",
    "top",
    "traces",
]


def _options(options: ReportOptions | None, kwargs: dict[str, Any]) -> ReportOptions:
    return (options or ReportOptions()).with_(**kwargs)


def top(profile: Profile, options: ReportOptions | None = None, **kwargs: Any) -> pl.DataFrame:
    """pprof's ``-top`` as a frame (all nodes unless ``nodecount``/``nodefraction`` are set)."""
    from profilelab.ops.report_top import top as run

    opts = _options(options, kwargs)
    result = run(
        prepare(profile, opts), nodecount=opts.nodecount or 0, nodefraction=opts.nodefraction or 0.0
    )
    return result.table


def tags(profile: Profile, options: ReportOptions | None = None, **kwargs: Any) -> pl.DataFrame:
    """pprof's ``-tags`` as a frame: key, value, flat, flat_pct, key_total."""
    from profilelab.ops.report_tags import tags as run

    return run(prepare(profile, _options(options, kwargs), all_types=True))


def peek(
    profile: Profile, regex: str, options: ReportOptions | None = None, **kwargs: Any
) -> pl.DataFrame:
    """pprof's ``-peek REGEX`` as a frame: node, direction, name, flat, cum, weight, inline."""
    from profilelab.ops.report_peek import peek as run
    from profilelab.ops.report_peek import peek_table

    return peek_table(run(prepare(profile, _options(options, kwargs)), regex))


def traces(profile: Profile, options: ReportOptions | None = None, **kwargs: Any) -> pl.DataFrame:
    """pprof's ``-traces`` as a frame: value, labels, frames (leaf first), inline."""
    from profilelab.ops.report_traces import traces as run

    return run(prepare(profile, _options(options, kwargs), all_types=True))


def source_list(
    profile: Profile, regex: str, options: ReportOptions | None = None, **kwargs: Any
) -> pl.DataFrame:
    """pprof's ``-list REGEX`` as a frame: function, file, line, flat, cum, source.

    Source files are searched in ``source_path`` (default: the current directory) after
    ``trim_path``, as pprof searches them; lines of files that cannot be read are absent.
    """
    from profilelab.ops.report_list import list_table
    from profilelab.ops.report_list import source_list as run

    opts = _options(options, kwargs).with_(granularity="lines")
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

    opts = graph_options(_options(options, kwargs))
    if opts.names is None:
        opts = opts.with_(names="pprof")
    return graph_tables(run(prepare(profile, opts), kind="dot"))
