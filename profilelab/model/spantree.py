"""The span tree: parents resolved to rows, cycles broken, and two pre-order numberings.

Rows are positions in the ``spans`` table. Each span gets

* ``parent_row``: the row of its parent (-1 for a root). A parent id is looked up in the
  span's own trace; when several rows share that id (a Zipkin shared span) the one in the
  span's own service wins, then a server half. A Zipkin shared server half is made a child
  of its client half.
* ``pre``/``post`` over the whole forest: the descendants of ``r`` (itself included) are the
  rows ``x`` with ``pre[r] <= pre[x] < post[r]``, so "samples of a span and its children"
  is one range test, vectorized, with no closure table.
* the same over the *local* forest (``lpre``/``lpost``/``local_root``/``local_depth``),
  where a span's parent link is kept only when both run in one process: same service and
  the child is not an entry span (``server``/``consumer``). A local root is where a
  profiler's "local root span" label points; its local descendants are the spans that
  can be on-CPU in the same process.

Malformed links are reported (``problems``) and repaired so that the rest still joins: a
missing parent makes a root, a self-parent is dropped, and a cycle is cut at its first
row. The numbering walks spans in Python once (O(n) in spans, never in samples).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

_ENTRY_KINDS = ("server", "consumer")
_SHOWN = 5  # span ids of a cycle named in its problem rows (their length is linear in spans)


@dataclass(frozen=True)
class Numbering:
    """A pre-order numbering of a forest given as a parent array."""

    pre: np.ndarray
    post: np.ndarray  # pre + subtree size
    depth: np.ndarray
    root: np.ndarray


@dataclass(frozen=True)
class SpanTree:
    """Parent rows and numberings of a spans table (see the module docstring)."""

    parent: np.ndarray
    full: Numbering
    local: Numbering
    problems: list[tuple[str, str, str, str]] = field(default_factory=list)

    def nodes(self, spans: pl.DataFrame) -> pl.DataFrame:
        """The spans' keys and times with their row and tree columns, for joins."""
        return spans.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("span_row"),
            "trace_id",
            "span_id",
            "service",
            "name",
            "start_ns",
            "end_ns",
        ).with_columns(
            pl.Series("parent_row", self.parent, dtype=pl.Int64),
            pl.Series("pre", self.full.pre, dtype=pl.Int64),
            pl.Series("post", self.full.post, dtype=pl.Int64),
            pl.Series("depth", self.full.depth, dtype=pl.Int64),
            pl.Series("lpre", self.local.pre, dtype=pl.Int64),
            pl.Series("lpost", self.local.post, dtype=pl.Int64),
            pl.Series("local_depth", self.local.depth, dtype=pl.Int64),
            pl.Series("local_root_row", self.local.root, dtype=pl.Int64),
        )


def build_tree(spans: pl.DataFrame) -> SpanTree:
    """Resolve parents, break cycles and number the forest and the local forest."""
    problems: list[tuple[str, str, str, str]] = []
    parent = _parent_rows(spans, problems)
    full = _number(parent, spans, problems)  # cuts cycles in ``parent``
    service = spans["service"].fill_null("").to_numpy()
    kind = spans["kind"].fill_null("").to_numpy()
    safe = np.maximum(parent, 0)
    keep = (parent >= 0) & (service[safe] == service) & ~np.isin(kind, _ENTRY_KINDS)
    local_parent = np.where(keep, parent, -1)
    local = _number(local_parent, spans, [])
    return SpanTree(parent=parent, full=full, local=local, problems=problems)


def _parent_rows(spans: pl.DataFrame, problems: list[tuple[str, str, str, str]]) -> np.ndarray:
    """Row of each span's parent (-1: root), reporting missing parents and self-parents."""
    rows = spans.select("trace_id", "span_id", "parent_span_id", "service", "kind").with_row_index(
        "row"
    )
    child = rows.filter(pl.col("parent_span_id").is_not_null())
    par = rows.select(
        pl.col("row").alias("prow"),
        "trace_id",
        pl.col("span_id").alias("parent_span_id"),
        pl.col("service").alias("pservice"),
        pl.col("kind").alias("pkind"),
    )
    cand = child.join(par, on=["trace_id", "parent_span_id"], how="inner")
    # several rows with the parent's id (a Zipkin shared span): prefer the parent's half in
    # the child's own service, then the server half (the child ran where the call arrived)
    cand = cand.with_columns(
        pl.col("pservice").eq_missing(pl.col("service")).alias("same"),
        pl.col("pkind").is_in(_ENTRY_KINDS).alias("entry"),
    ).sort(["row", "same", "entry", "prow"], descending=[False, True, True, False])
    best = cand.unique("row", keep="first", maintain_order=True)
    parent = np.full(spans.height, -1, dtype=np.int64)
    parent[best["row"].to_numpy()] = best["prow"].to_numpy()
    _shared_server_halves(rows, parent)
    self_parent = np.nonzero(parent == np.arange(spans.height))[0]
    parent[self_parent] = -1
    for r in self_parent.tolist():
        problems.append(_problem(spans, r, "self_parent", "span is its own parent; made a root"))
    missing = child.join(best.select("row"), on="row", how="anti")
    for r, pid in missing.select("row", "parent_span_id").iter_rows():
        problems.append(
            _problem(spans, r, "missing_parent", f"parent {pid} is not in the input; made a root")
        )
    return parent


def _shared_server_halves(rows: pl.DataFrame, parent: np.ndarray) -> None:
    """Zipkin B3 shared spans: the server half's parent is the client half (same span id)."""
    server = rows.filter(pl.col("kind") == "server")
    client = rows.filter(pl.col("kind") == "client").select(
        pl.col("row").alias("crow"), "trace_id", "span_id", pl.col("service").alias("cservice")
    )
    pairs = server.join(client, on=["trace_id", "span_id"]).filter(
        ~pl.col("cservice").eq_missing(pl.col("service"))
    )
    pairs = pairs.unique("row", keep="first", maintain_order=True)
    parent[pairs["row"].to_numpy()] = pairs["crow"].to_numpy()


def _number(
    parent: np.ndarray, spans: pl.DataFrame, problems: list[tuple[str, str, str, str]]
) -> Numbering:
    """Pre-order number a forest; a row closing a parent cycle is made a root, in ``parent``
    itself, and the cycle is reported."""
    walker = _Walker(parent)
    walker.walk(np.nonzero(parent < 0)[0].tolist())
    ids: tuple[list[str], list[str]] | None = None  # (trace ids, span ids), read once
    if walker.counter < len(parent):  # what is left hangs off cycles, one per component
        for start in np.nonzero(walker.pre_array() < 0)[0].tolist():
            if walker.pre[start] >= 0:
                continue
            ids = ids or (spans["trace_id"].to_list(), spans["span_id"].to_list())
            cut = _cycle_cut(start, parent, ids, problems)
            parent[cut] = -1
            walker.walk([cut])
    return Numbering(
        pre=walker.pre_array(),
        post=np.array(walker.post, dtype=np.int64),
        depth=np.array(walker.depth, dtype=np.int64),
        root=np.array(walker.root, dtype=np.int64),
    )


class _Walker:
    """Iterative depth-first numbering over children lists (plain lists: fast to index)."""

    def __init__(self, parent: np.ndarray) -> None:
        n = len(parent)
        order = np.argsort(parent, kind="stable")  # children grouped by parent, in row order
        sorted_parent = parent[order]
        self.order = order.tolist()
        self.first = np.searchsorted(sorted_parent, np.arange(n), side="left").tolist()
        self.last = np.searchsorted(sorted_parent, np.arange(n), side="right").tolist()
        self.pre = [-1] * n
        self.post = [0] * n
        self.depth = [0] * n
        self.root = [-1] * n
        self.counter = 0

    def walk(self, roots: list[int]) -> None:
        pre, order, first, last = self.pre, self.order, self.first, self.last
        for r in roots:
            stack = [(r, 0)]
            while stack:
                node, d = stack.pop()
                if node < 0:  # exit marker
                    self.post[~node] = self.counter
                    continue
                pre[node] = self.counter
                self.depth[node] = d
                self.root[node] = r
                self.counter += 1
                stack.append((~node, d))
                kids = order[first[node] : last[node]]
                stack.extend((k, d + 1) for k in reversed(kids) if pre[k] < 0)

    def pre_array(self) -> np.ndarray:
        return np.array(self.pre, dtype=np.int64)


def _cycle_cut(
    start: int,
    parent: np.ndarray,
    ids: tuple[list[str], list[str]],
    problems: list[tuple[str, str, str, str]],
) -> int:
    """Follow parents from an unnumbered row to its cycle; report it; return the row to cut."""
    path: dict[int, int] = {}
    node = start
    while node not in path:
        path[node] = len(path)
        node = int(parent[node])
    cycle = [r for r, i in path.items() if i >= path[node]]
    cut = min(cycle)
    trace_ids, span_ids = ids
    shown = " -> ".join(str(span_ids[r]) for r in cycle[:_SHOWN])
    more = f" -> ... ({len(cycle)} spans)" if len(cycle) > _SHOWN else ""
    detail = f"parent links form a cycle ({shown}{more}); cut at span {span_ids[cut]}"
    # one row per span on the cycle, each with the same short detail
    problems.extend((trace_ids[r], span_ids[r], "parent_cycle", detail) for r in cycle)
    return cut


def _problem(spans: pl.DataFrame, row: int, problem: str, detail: str) -> tuple[str, str, str, str]:
    return (spans["trace_id"][row], spans["span_id"][row], problem, detail)


def subtree_sums(values: np.ndarray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Per row: the sum of ``values`` (per row) over its subtree, rows ``[pre, post)``."""
    by_pre = np.zeros(len(values), dtype=values.dtype)
    by_pre[pre] = values
    cum = np.concatenate([np.zeros(1, dtype=values.dtype), np.cumsum(by_pre)])
    return cum[post] - cum[pre]


def covered_rows(rows: np.ndarray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Rows inside the subtree of any of ``rows`` (themselves included), as a bool mask."""
    diff = np.zeros(len(pre) + 1, dtype=np.int64)
    np.add.at(diff, pre[rows], 1)
    np.add.at(diff, post[rows], -1)
    covered_by_pre = np.cumsum(diff)[:-1] > 0
    return covered_by_pre[pre]
