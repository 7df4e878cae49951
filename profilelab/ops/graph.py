"""Flat and cum per node, and caller->callee edges, as pprof's graph builds them.

Input: the filtered stack view (stack_id, pos, loc, li, node_id) and per-stack values
(stack_id, w, dw), where w sums the samples' values and dw their ``-mean`` divisors.

* cum: every node on a stack gets the stack's value once, however often it appears
  (recursion counted once); flat: the leaf frame's node gets it.
* edges: consecutive frames (caller -> callee, skipping a node calling itself) get the
  value once per stack; an edge is "inline" when every contribution comes from a frame
  inlined into its caller.
* Stacks whose w and dw are both 0 add nothing; nodes whose flat and cum are both 0 are
  not in the graph (pprof's selectNodesForGraph), edges are kept as pprof keeps them.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import polars as pl

from profilelab.core.aggregate import csr_flat_cum, flat_cum
from profilelab.model import _arrow, ids

_lookup: ModuleType | None
try:
    from profilelab._native import _lookup
except ImportError:  # not built (no C compiler at install time): the core's NumPy sums
    _lookup = None


def stack_values(samples: pl.DataFrame, e: pl.DataFrame | None = None) -> pl.DataFrame:
    """stack_id, w, dw: the sample values summed per stack (zero stacks dropped).

    With the stack view ``e`` (each stack's rows together), only the stacks of ``e``, in
    its order: what :func:`node_values` and :func:`edges` of ``e`` read, summed by each
    sample's position among them (a lookup and one pass, where a group-by hashes every
    sample on Polars' threads: a third of the CPU of ``top`` on a big profile).
    """
    summed = [c for c in ("stack_id", "value", "div") if c in samples.columns]
    if e is not None and all(
        samples.schema[c] == pl.Int64 and not samples.get_column(c).null_count() for c in summed
    ):
        return _view_stack_values(samples, e)
    dw = pl.col("div").sum() if "div" in samples.columns else pl.lit(0, dtype=pl.Int64)
    v = samples.group_by("stack_id").agg(pl.col("value").sum().alias("w"), dw.alias("dw"))
    return v.filter((pl.col("w") != 0) | (pl.col("dw") != 0))


def _view_stack_values(samples: pl.DataFrame, e: pl.DataFrame) -> pl.DataFrame:
    """:func:`stack_values` of the stacks of ``e`` (a stack in several runs of rows: its
    first)."""
    s = e.get_column("stack_id").to_numpy()
    stack_ids = s[np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))] if len(s) else s
    at = ids.locate(samples.get_column("stack_id").to_numpy(), stack_ids)
    found = None if not len(at) or int(at.min()) >= 0 else at >= 0  # (as a rule, all are)
    sums = []
    for col in ("value", "div"):
        total = np.zeros(len(stack_ids), dtype=np.int64)
        if col in samples.columns:
            v = samples.get_column(col).to_numpy()
            np.add.at(total, at if found is None else at[found], v if found is None else v[found])
        sums.append(total)
    live = np.flatnonzero((sums[0] != 0) | (sums[1] != 0))
    return _arrow.frame({"stack_id": stack_ids[live], "w": sums[0][live], "dw": sums[1][live]})


def grouped(e: pl.DataFrame) -> pl.DataFrame:
    """``e`` with each stack's rows together, leaf first: sorted by (stack_id, pos) only
    when it is not already so (the stack view keeps the exploded order, and sorting
    millions of rows by a hashed stack id costs more than the rest of a graph)."""
    if e.height < 2:
        return e
    s = e.get_column("stack_id").to_numpy()
    pos = e.get_column("pos").to_numpy()
    new = s[1:] != s[:-1]
    if bool(np.all(new | (pos[1:] > pos[:-1]))):
        run_ids = s[np.flatnonzero(np.concatenate(([True], new)))]
        if _arrow.series("", run_ids).n_unique() == len(run_ids):  # (no numpy.ma)
            return e
    return e.sort("stack_id", "pos")


def first_of_stack() -> pl.Expr:
    """True on each stack's first row (rows are sorted by stack_id, pos)."""
    return pl.col("stack_id") != pl.col("stack_id").shift(1).fill_null(~pl.col("stack_id"))


def node_values(e: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """node_id, flat, flat_div, cum, cum_div for nodes with a non-zero flat or cum
    (the core's :func:`~profilelab.core.aggregate.csr_flat_cum` over the stacks' rows,
    which are grouped by stack, leaf first: the leaf is each stack's first remaining
    frame)."""
    cols = ["node_id", "flat", "flat_div", "cum", "cum_div"]
    keys_col = e.get_column("node_id")
    if e.height == 0 or keys_col.null_count():
        frames = e.select("stack_id", "node_id", first_of_stack().alias("leaf"))
        out = flat_cum(frames, values, value_cols=("w", "dw"), key="node_id")
        return out.select(
            "node_id",
            *(
                pl.col(f"{a}_{b}").alias(c)
                for c, (a, b) in zip(
                    cols[1:],
                    [("flat", "w"), ("flat", "dw"), ("cum", "w"), ("cum", "dw")],
                    strict=True,
                )
            ),
        )
    s = e.get_column("stack_id").to_numpy()
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    offsets = np.append(starts, len(s)).astype(np.int64)
    per_stack = (
        _arrow.frame({"stack_id": s[starts]})
        .join(values, on="stack_id", how="left", maintain_order="left")
        .select(pl.col("w", "dw").fill_null(0).cast(pl.Int64))
        .to_numpy()
    )
    keys = keys_col.to_numpy().astype(np.int64, copy=False)  # (no copy of 3.1M ids)
    low = int(keys.min())
    n_keys = int(keys.max()) - low + 1
    ids: np.ndarray | None = None
    if n_keys > 4 * len(keys) + 1024:  # sparse ids: number them densely
        ids, keys = np.unique(keys, return_inverse=True)
        n_keys, low = len(ids), 0
    elif low:
        keys = keys - low
    if not per_stack[:, 1].any():  # no -mean divisors: sum the values alone
        flat, cum = leaf_first_flat_cum(offsets, keys, per_stack[:, :1], n_keys)
        flat, cum = np.pad(flat, ((0, 0), (0, 1))), np.pad(cum, ((0, 0), (0, 1)))
    else:
        flat, cum = leaf_first_flat_cum(offsets, keys, per_stack, n_keys)
    live = np.flatnonzero(np.any(flat != 0, axis=1) | np.any(cum != 0, axis=1))
    node = ids[live] if ids is not None else live + low
    return _arrow.frame(
        {
            "node_id": _arrow.series("", node).cast(keys_col.dtype),
            "flat": flat[live, 0],
            "flat_div": flat[live, 1],
            "cum": cum[live, 0],
            "cum_div": cum[live, 1],
        }
    )


def leaf_first_flat_cum(
    offsets: np.ndarray, keys: np.ndarray, values: np.ndarray, n_keys: int
) -> tuple[np.ndarray, np.ndarray]:
    """The core's :func:`~profilelab.core.aggregate.csr_flat_cum` of stacks stored leaf
    first, by the compiled kernel when it was built (one pass over the rows, marking each
    stack's keys, instead of sorting millions of (stack, key) pairs)."""
    if _lookup is None:
        return csr_flat_cum(offsets, keys, values, n_keys, leaf_first=True)
    m = values.shape[1]
    flat = np.zeros((n_keys, m), dtype=np.int64)
    cum = np.zeros((n_keys, m), dtype=np.int64)
    _lookup.flat_cum(
        np.ascontiguousarray(offsets, dtype=np.int64),
        np.ascontiguousarray(keys, dtype=np.int64),
        np.ascontiguousarray(values, dtype=np.int64),
        m,
        flat,
        cum,
        True,
    )
    return flat, cum


def edges(
    e: pl.DataFrame,
    values: pl.DataFrame,
    kept: pl.Series | None = None,
    *,
    inline_only: bool = False,
) -> pl.DataFrame:
    """src, dest (node ids), weight, weight_div, inline, residual per caller->callee pair.

    With ``kept`` (node ids), the graph is rebuilt from those nodes only, as pprof does
    after trimming: a caller is then the nearest kept frame towards the root, and the edge
    is ``residual`` when some contribution skipped frames (pprof draws it dotted).
    """
    return edges_of_rows(_edge_rows(e, kept), values, inline_only=inline_only)


def edges_of_rows(e: pl.DataFrame, values: pl.DataFrame, *, inline_only: bool) -> pl.DataFrame:
    """:func:`edges` from the rows an edge can start from: stack_id, node_id, ``inline``
    (inlined into the next row) and ``_row`` (the row's number in the whole stack view)."""
    same_stack_next = pl.col("stack_id") == pl.col("stack_id").shift(-1)
    # A residual edge skips frames of nodes that were not kept.
    e = e.with_columns(
        pl.when(same_stack_next).then(pl.col("node_id").shift(-1)).alias("parent"),
        (pl.col("_row").shift(-1) != pl.col("_row") + 1).fill_null(False).alias("residual"),
    )
    pairs = e.filter(pl.col("parent").is_not_null() & (pl.col("parent") != pl.col("node_id")))
    if inline_only:
        inlined_nodes = e.filter(pl.col("inline"))["node_id"].unique()
        pairs = pairs.filter(pl.col("node_id").is_in(inlined_nodes.implode()))
    # pprof walks root -> leaf and counts a pair once per sample with the flag of its
    # root-most occurrence (the last row in leaf-first order).
    first = pairs.group_by("stack_id", "parent", "node_id").agg(
        pl.col("inline").last(), pl.col("residual").last()
    )
    joined = first.join(values, on="stack_id", how="inner")
    return (
        joined.group_by("parent", "node_id")
        .agg(
            pl.col("w").sum().alias("weight"),
            pl.col("dw").sum().alias("weight_div"),
            pl.col("inline").all().alias("inline"),
            pl.col("residual").any().alias("residual"),
        )
        .rename({"parent": "src", "node_id": "dest"})
    )


def _edge_rows(e: pl.DataFrame, kept: pl.Series | None) -> pl.DataFrame:
    """The rows of ``e`` an edge can start from (of the ``kept`` nodes, when given) with
    ``inline`` and ``_row`` (the row's number in ``e``), computed with NumPy over every row
    so that Polars works on the kept rows only (a few thousand of the 3.1M rows of a big
    profile for ``top``).

    Rows are sorted by (stack_id, pos): a frame is inlined when the next row (its caller)
    is in the same location.
    """
    s = e.get_column("stack_id").to_numpy()
    loc = e.get_column("loc").to_numpy()
    stacks, nodes = e.get_column("stack_id"), e.get_column("node_id")
    if kept is None:
        rows = np.arange(len(s), dtype=np.int64)
        inline = _inlined_rows(s, loc)
    else:  # the kept rows only: no array of every row's number or flag is made
        rows = np.flatnonzero(_is_in(nodes, kept))
        at = _arrow.series("", rows)
        stacks, nodes, inline = stacks.gather(at), nodes.gather(at), _inlined_rows(s, loc, rows)
    return _arrow.frame({"stack_id": stacks, "node_id": nodes, "inline": inline, "_row": rows})


def _inlined_rows(s: np.ndarray, loc: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Whether each row (each of ``rows``, when given) is inlined into the next row: the
    next row is of the same stack ``s`` and the same location ``loc``."""
    if rows is None:
        inline = np.zeros(len(s), dtype=bool)
        inline[:-1] = (s[:-1] == s[1:]) & (loc[:-1] == loc[1:])
        return inline
    after = rows + 1
    has_next = after < len(s)
    nxt = np.where(has_next, after, rows)  # a last row is compared with itself, then dropped
    return has_next & (s[rows] == s[nxt]) & (loc[rows] == loc[nxt])


def _is_in(nodes: pl.Series, kept: pl.Series) -> np.ndarray:
    """Whether each of ``nodes`` is one of ``kept`` (null: no), by a table of the node
    ids when they are dense integers (report nodes are numbered from 0), else by Polars."""
    if nodes.dtype.is_integer() and nodes.len() and not nodes.null_count():
        ids, want = nodes.to_numpy(), kept.drop_nulls().cast(nodes.dtype).to_numpy()
        low, high = int(ids.min()), int(ids.max())
        if high - low <= 4 * len(ids) + 1024:
            table = np.zeros(high - low + 1, dtype=bool)
            want = want[(want >= low) & (want <= high)]
            table[want - low] = True
            return table[ids - low] if low else table[ids]
    return nodes.is_in(kept.implode()).fill_null(False).to_numpy()


def value_of(total: pl.Expr, div: pl.Expr) -> pl.Expr:
    """pprof's FlatValue/CumValue: the value, divided (Go integer division) under -mean."""
    q = total.abs() // div.abs().clip(lower_bound=1)
    signed = pl.when((total >= 0) == (div >= 0)).then(q).otherwise(-q)
    return pl.when(div == 0).then(total).otherwise(signed)
