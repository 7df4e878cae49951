"""``peek REGEX``: callers and callees of the matching nodes, as ``go tool pprof -peek``.

Every node of the untrimmed graph (peek never trims) whose printed name contains a match
of the regex is listed in report order with its incoming edges (callers) and outgoing
edges (callees), each sorted by |weight| then caller name then callee name. Edge weights
are the summed values of the samples through that call (once per sample); ``inline``
marks calls inlined into the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from profilelab.core.regex import matches
from profilelab.errors import QueryError
from profilelab.ops import graph
from profilelab.ops.pipeline import Prepared
from profilelab.ops.report_top import graph_edges, graph_nodes, sort_nodes


@dataclass(frozen=True)
class PeekResult:
    """All graph nodes in report order, the matched ones, and the edges around them."""

    nodes: pl.DataFrame  # node_id, name, flat, cum (values), sorted
    matched: pl.DataFrame  # the subset matching the regex, in order
    edges: pl.DataFrame  # src, dest, weight, inline, src_name, dest_name
    total: int


def peek(prepared: Prepared, regex: str) -> PeekResult:
    """Nodes matching ``regex`` with their edges (see the module docstring)."""
    nodes, edges = graph_nodes(prepared), graph_edges(prepared)
    nodes = sort_nodes(nodes, cum=prepared.options.cum).with_columns(
        graph.value_of(pl.col("flat"), pl.col("flat_div")).alias("flat_value"),
        graph.value_of(pl.col("cum"), pl.col("cum_div")).alias("cum_value"),
    )
    hit = matches(nodes["name"], regex, "peek").fill_null(False)
    matched = nodes.filter(hit)
    if matched.height == 0:
        raise QueryError(f"no matches found for regexp: {regex}")
    names = prepared.nodes.select("node_id", "name")
    edges = edges.join(names.rename({"node_id": "src", "name": "src_name"}), on="src").join(
        names.rename({"node_id": "dest", "name": "dest_name"}), on="dest"
    )
    edges = (
        edges.with_columns(pl.col("weight").abs().alias("_abs"))
        .sort(["_abs", "src_name", "dest_name"], descending=[True, False, False])
        .drop("_abs")
    )
    return PeekResult(nodes, matched, edges, prepared.total)


def peek_table(result: PeekResult) -> pl.DataFrame:
    """One row per matched node and per caller/callee: node, direction, name, flat, cum, weight.

    ``direction`` is ``caller``, ``self`` or ``callee``; ``weight`` is the edge's value.
    """
    rows = []
    for node_id, name, flat, cum in result.matched.select(
        "node_id", "name", "flat_value", "cum_value"
    ).iter_rows():
        ins = result.edges.filter(pl.col("dest") == node_id)
        outs = result.edges.filter(pl.col("src") == node_id)
        for src, w, inl in ins.select("src_name", "weight", "inline").iter_rows():
            rows.append((name, "caller", src, None, None, w, inl))
        rows.append((name, "self", name, flat, cum, None, False))
        for dst, w, inl in outs.select("dest_name", "weight", "inline").iter_rows():
            rows.append((name, "callee", dst, None, None, w, inl))
    schema = {
        "node": pl.Utf8,
        "direction": pl.Utf8,
        "name": pl.Utf8,
        "flat": pl.Int64,
        "cum": pl.Int64,
        "weight": pl.Int64,
        "inline": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")
