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

from typing import Any

import polars as pl

from profilelab.model.profile import Profile
from profilelab.ops.options import ReportOptions
from profilelab.ops.pipeline import Prepared, prepare

__all__ = ["Prepared", "ReportOptions", "peek", "prepare", "tags", "top", "traces"]


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
