"""``top``: flat and cum per node, sorted and trimmed exactly like ``go tool pprof -top``.

Nodes are sorted by |flat| (or |cum| with ``cum=True``), then name, then the other value,
then pprof's full node description; nodes with |cum| below ``nodefraction`` of the sum of
all flats are dropped, then the first ``nodecount`` kept. ``flat``/``cum`` are in the
sample unit (divided per ``-mean``); percentages are of the report total (the sum of
absolute sample values before focusing; the diff base's only, with ``diff_base``) and keep
their sign; ``sum_pct`` accumulates ``flat_pct``. Recursion is counted once in ``cum``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from profilelab.ops import graph
from profilelab.ops.pipeline import Prepared

TOP_COLUMNS = ("flat", "flat_pct", "sum_pct", "cum", "cum_pct", "name")


@dataclass(frozen=True)
class TopResult:
    """The rows of a top report and the counts its text header states."""

    table: pl.DataFrame  # TOP_COLUMNS + inline ("", "inline", "partial-inline")
    total: int  # report total (denominator of the percentages)
    orig_count: int  # nodes left after the nodefraction cut
    dropped: int  # nodes dropped by the nodefraction cut
    cutoff: int  # the nodefraction cut value


def graph_nodes(prepared: Prepared, values: pl.DataFrame | None = None) -> pl.DataFrame:
    """Nodes of the whole graph with flat/cum and names, unsorted (``values``: the
    samples' :func:`.graph.stack_values`, when already summed)."""
    if values is None:
        values = graph.stack_values(prepared.samples, prepared.stacks)
    nodes = graph.node_values(prepared.stacks, values)
    return nodes.join(prepared.nodes, on="node_id", how="left")


def graph_edges(
    prepared: Prepared,
    kept: pl.Series | None = None,
    *,
    inline_only: bool = False,
    values: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Edges of the graph (of the ``kept`` nodes only, when given).

    ``inline_only`` keeps only edges into nodes that have an inlined frame somewhere: the
    only ones that can earn an inline label, far fewer than all edges. ``values`` as for
    :func:`graph_nodes`.
    """
    if values is None:
        values = graph.stack_values(prepared.samples, prepared.stacks)
    return graph.edges(prepared.stacks, values, kept, inline_only=inline_only)


def sort_nodes(nodes: pl.DataFrame, *, cum: bool) -> pl.DataFrame:
    """pprof's FlatNameOrder / CumNameOrder."""
    first, second = ("cum", "flat") if cum else ("flat", "cum")
    keys = [pl.col(first).abs(), pl.col("name"), pl.col(second).abs(), pl.col("info")]
    return nodes.sort(keys, descending=[True, False, True, False])


def trim_nodes(
    nodes: pl.DataFrame, nodefraction: float, nodecount: int, *, cum: bool
) -> tuple[pl.DataFrame, int, int, int]:
    """Sort, cut by nodefraction, keep nodecount: (nodes, orig_count, dropped, cutoff)."""
    flat_total = int(nodes["flat"].sum()) if nodes.height else 0
    cutoff = abs(int(float(flat_total) * nodefraction))
    dropped = 0
    if cutoff > 0:
        kept = nodes.filter(pl.col("cum").abs() >= cutoff)
        dropped = nodes.height - kept.height
        nodes = kept
    orig = nodes.height
    nodes = sort_nodes(nodes, cum=cum)
    if nodecount > 0:
        nodes = nodes.head(nodecount)
    return nodes, orig, dropped, cutoff


def inline_labels(edges: pl.DataFrame) -> pl.DataFrame:
    """dest node -> "inline" / "partial-inline" from its incoming edges (pprof's TextItems)."""
    agg = edges.group_by("dest").agg(
        pl.col("inline").any().alias("some"), (~pl.col("inline")).any().alias("other")
    )
    label = (
        pl.when(pl.col("some") & pl.col("other"))
        .then(pl.lit("partial-inline"))
        .when(pl.col("some"))
        .then(pl.lit("inline"))
        .otherwise(pl.lit(""))
    )
    return agg.select(pl.col("dest").alias("node_id"), label.alias("inline"))


def top(
    prepared: Prepared,
    *,
    nodecount: int = 0,
    nodefraction: float = 0.0,
    edgefraction: float = 0.0,
) -> TopResult:
    """The top report of ``prepared`` (``nodecount=0``: every node).

    ``edgefraction`` only decides the inline labels: pprof drops edges lighter than that
    fraction of the total before it labels a node "(inline)" from its incoming edges.
    """
    values = graph.stack_values(prepared.samples, prepared.stacks)
    nodes = graph_nodes(prepared, values)
    cum = prepared.options.cum
    flat_total = int(nodes["flat"].sum()) if nodes.height else 0
    all_count = nodes.height
    nodes, orig, dropped, cutoff = trim_nodes(nodes, nodefraction, nodecount, cum=cum)
    kept = nodes["node_id"] if nodes.height < all_count else None
    edges = graph_edges(prepared, kept, inline_only=True, values=values)
    edge_cut = abs(int(float(flat_total) * edgefraction))
    edges = edges.filter(pl.col("weight").abs() >= edge_cut)
    nodes = nodes.join(inline_labels(edges), on="node_id", how="left", maintain_order="left")
    total = prepared.total
    pct = 100.0 / total if total else 0.0
    table = (
        nodes.lazy()  # one query for the columns and their percentages
        .select(
            graph.value_of(pl.col("flat"), pl.col("flat_div")).alias("flat"),
            graph.value_of(pl.col("cum"), pl.col("cum_div")).alias("cum"),
            "name",
            pl.col("inline").fill_null(""),
        )
        .select(
            "flat",
            (pl.col("flat") * pct).alias("flat_pct"),
            (pl.col("flat").cum_sum() * pct).alias("sum_pct"),
            "cum",
            (pl.col("cum") * pct).alias("cum_pct"),
            "name",
            "inline",
        )
        .collect()
    )
    return TopResult(table, total, orig, dropped, cutoff)
