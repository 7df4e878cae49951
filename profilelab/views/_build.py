"""The pruned call tree, built level by level from stack paths with numpy.

Input is a set of *paths*: one row per distinct stack, its frame keys in tree order (root
first for a top-down tree, leaf first for a bottom-up one) and one or more value columns.
Paths are merged by key into a trie, one depth level at a time: at each level the active
paths are grouped by (parent node, key) with one sort, and every group whose measure is
below the threshold is folded, with everything under it, into one "other" node per parent.
Folded paths leave the active set, so the work after the first few levels is proportional
to what can be seen, not to the profile's size.

Contract: every node's value equals its self value plus its children's values ("other"
included), so totals are conserved at every level; no value is ever dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

#: Key of the synthetic root of a whole-profile tree.
ROOT_KEY = -1
#: Key of an "other" node (children folded because each was too narrow to see).
OTHER_KEY = -2

Measure = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Paths:
    """Stacks as key paths: CSR ``offsets`` (n+1) into ``keys``; ``values`` is (n, m) int64."""

    offsets: np.ndarray
    keys: np.ndarray
    values: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row_of_position(self) -> np.ndarray:
        """For each position in ``keys``, the row (stack) it belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def reversed(self) -> Paths:
        """The same paths, each read backwards (root-first <-> leaf-first)."""
        row = self.row_of_position()
        pos = np.arange(len(self.keys), dtype=np.int64)
        src = self.offsets[:-1][row] + self.offsets[1:][row] - 1 - pos
        return Paths(self.offsets, self.keys[src], self.values)


@dataclass(frozen=True)
class RawTree:
    """A pruned tree in breadth-first order: parents precede children, siblings are contiguous
    and ordered by key (``other`` last). Node 0 is the root.

    ``key`` is the path key of each node (``ROOT_KEY`` for a synthetic root, ``OTHER_KEY``
    for a fold); ``total`` and ``self_value`` are (N, m) int64; ``folded`` counts the
    children an "other" node stands for; ``root_totals`` holds, for each key of the
    requested root path, the (m,) total of the stacks through that prefix.
    """

    parent: np.ndarray
    depth: np.ndarray
    key: np.ndarray
    total: np.ndarray
    self_value: np.ndarray
    folded: np.ndarray
    threshold: float
    root_totals: np.ndarray

    def __len__(self) -> int:
        return len(self.parent)


def sum_by(ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group rows by ``ids``: (sorted unique ids, summed values (exact int64), inverse)."""
    order = np.argsort(ids)
    sorted_ids = ids[order]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = sorted_ids[1:] != sorted_ids[:-1]
    starts = np.flatnonzero(first)
    uniq = sorted_ids[starts]
    sums = np.add.reduceat(values[order], starts, axis=0) if len(ids) else values[:0]
    inverse = np.empty(len(ids), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return uniq, sums, inverse


def select_prefix(paths: Paths, prefix: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose path starts with ``prefix`` and have a nonzero value, and the (len, m)
    totals of the rows through each step of the prefix."""
    lengths = paths.lengths
    active = np.flatnonzero(np.any(paths.values != 0, axis=1))
    steps = np.zeros((len(prefix), paths.values.shape[1]), dtype=np.int64)
    for d, k in enumerate(prefix):
        active = active[lengths[active] > d]
        active = active[paths.keys[paths.offsets[active] + d] == k]
        steps[d] = paths.values[active].sum(axis=0)
    return active, steps


def build(
    paths: Paths,
    root_path: Sequence[int],
    measure: Measure,
    fraction: float,
) -> RawTree:
    """The tree of ``paths`` rooted at ``root_path`` (a key prefix; empty = synthetic root).

    A node is kept when ``measure(node totals) >= fraction * measure(root totals)``;
    the rest are folded into one "other" node per parent. ``fraction = 0`` keeps all.
    """
    active, steps = select_prefix(paths, root_path)
    m = paths.values.shape[1]
    root_total = paths.values[active].sum(axis=0).reshape(1, m)
    threshold = float(measure(root_total)[0]) * fraction
    b = _Builder(m)
    b.add_level(np.array([-1]), np.array([root_path[-1] if root_path else ROOT_KEY]), root_total)
    cur = np.zeros(len(active), dtype=np.int64)
    lengths = paths.lengths
    n_keys = int(paths.keys.max(initial=0)) + 2  # room for OTHER as the largest key
    d = len(root_path)
    while len(active):
        ends = lengths[active] == d
        if ends.any():
            nodes, sums, _ = sum_by(cur[ends], paths.values[active[ends]])
            b.self_value[nodes] += sums
            active, cur = active[~ends], cur[~ends]
            if not len(active):
                break
        keys = paths.keys[paths.offsets[active] + d].astype(np.int64)
        comp, sums, inverse = sum_by(cur * n_keys + keys, paths.values[active])
        keep = measure(sums) >= threshold if threshold > 0 else np.any(sums != 0, axis=1)
        new_ids = b.add_groups(comp, sums, keep, n_keys)
        stay = keep[inverse]
        active, cur = active[stay], new_ids[inverse[stay]]
        d += 1
    return b.finish(threshold, steps)


class _Builder:
    """Accumulates levels of nodes; each level is sorted by (parent, key), other last."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0
        self.self_value = np.zeros((0, m), dtype=np.int64)

    def add_level(
        self,
        parent: np.ndarray,
        key: np.ndarray,
        total: np.ndarray,
        folded: np.ndarray | None = None,
    ) -> np.ndarray:
        n = len(parent)
        ids = np.arange(self.count, self.count + n, dtype=np.int64)
        folded = np.zeros(n, dtype=np.int64) if folded is None else folded
        self.parts.append((parent.astype(np.int64), key.astype(np.int64), total, folded))
        self.count += n
        self.self_value = np.concatenate([self.self_value, np.zeros((n, self.m), np.int64)])
        return ids

    def add_groups(
        self, comp: np.ndarray, sums: np.ndarray, keep: np.ndarray, n_keys: int
    ) -> np.ndarray:
        """Add kept groups as nodes and folded ones as "other" per parent.

        Returns, for each group, its new node id (-1 for a folded group)."""
        parent, key = comp // n_keys, comp % n_keys
        o_parent, o_sums, o_inv = sum_by(parent[~keep], sums[~keep])
        o_count = np.bincount(o_inv, minlength=len(o_parent)) if len(o_parent) else o_inv
        # Sort kept and other together by (parent, key); OTHER sorts last among siblings.
        all_parent = np.concatenate([parent[keep], o_parent])
        all_key = np.concatenate([key[keep], np.full(len(o_parent), n_keys - 1)])
        order = np.lexsort((all_key, all_parent))
        all_key = np.where(all_key == n_keys - 1, OTHER_KEY, all_key)
        folded = np.concatenate([np.zeros(int(keep.sum()), np.int64), o_count])
        total = np.concatenate([sums[keep], o_sums])
        ids = self.add_level(all_parent[order], all_key[order], total[order], folded[order])
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = ids
        new_ids = np.full(len(comp), -1, dtype=np.int64)
        new_ids[np.flatnonzero(keep)] = rank[: int(keep.sum())]
        return new_ids

    def finish(self, threshold: float, steps: np.ndarray) -> RawTree:
        parent = np.concatenate([p[0] for p in self.parts])
        key = np.concatenate([p[1] for p in self.parts])
        total = np.concatenate([p[2] for p in self.parts])
        folded = np.concatenate([p[3] for p in self.parts])
        depth = np.concatenate(
            [np.full(len(p[0]), i, dtype=np.int64) for i, p in enumerate(self.parts)]
        )
        return RawTree(
            parent=parent.astype(np.int32),
            depth=depth.astype(np.int32),
            key=key,
            total=total,
            self_value=self.self_value,
            folded=folded.astype(np.int32),
            threshold=threshold,
            root_totals=steps,
        )


def _levels(depth: np.ndarray) -> list[slice]:
    """Slices of the nodes of each depth (breadth-first order keeps a level contiguous)."""
    bounds = np.searchsorted(depth, np.arange(int(depth.max(initial=0)) + 2))
    return [slice(int(a), int(b)) for a, b in pairwise(bounds.tolist())]


def layout(parent: np.ndarray, depth: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Left edge of each node: children packed left to right from their parent's left edge.

    Needs the breadth-first order of :class:`RawTree` (siblings contiguous, parents first).
    """
    start = np.zeros(len(parent), dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    for lvl in _levels(depth)[1:]:
        p = parent[lvl]
        if not len(p):
            continue
        excl = np.cumsum(w[lvl]) - w[lvl]
        first = np.ones(len(p), dtype=bool)
        first[1:] = p[1:] != p[:-1]
        run_base = excl[first][np.cumsum(first) - 1]
        start[lvl] = start[p] + excl - run_base
    return start


def widen_to_fit(parent: np.ndarray, depth: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Widen each node to at least the sum of its children's widths (bottom-up), so that a
    layout by a non-additive width (such as max(base, new)) still nests."""
    w = np.asarray(width, dtype=np.float64).copy()
    for lvl in reversed(_levels(depth)[1:]):
        p = parent[lvl]
        if not len(p):
            continue
        uniq, starts = np.unique(p, return_index=True)
        sums = np.add.reduceat(w[lvl], starts)
        w[uniq] = np.maximum(w[uniq], sums)
    return w


def heaviest_first(raw: RawTree) -> RawTree:
    """The same tree with siblings ordered by |total| descending ("left heavy"; ties by key,
    "other" last); breadth-first order and every value are kept."""
    n = len(raw)
    new_pos = np.zeros(n, dtype=np.int64)
    order_parts = [np.zeros(1, dtype=np.int64)] if n else []
    weight = np.abs(raw.total[:, 0]).astype(np.float64) if n else np.zeros(0)
    for lvl in _levels(raw.depth)[1:]:
        idx = np.arange(lvl.start, lvl.stop, dtype=np.int64)
        if not len(idx):
            continue
        is_other = raw.key[idx] == OTHER_KEY
        ranked = idx[np.lexsort((raw.key[idx], -weight[idx], is_other, new_pos[raw.parent[idx]]))]
        new_pos[ranked] = lvl.start + np.arange(len(ranked))
        order_parts.append(ranked)
    order = np.concatenate(order_parts) if order_parts else np.zeros(0, dtype=np.int64)
    parent = np.where(raw.parent[order] >= 0, new_pos[np.maximum(raw.parent[order], 0)], -1)
    return RawTree(
        parent=parent.astype(np.int32),
        depth=raw.depth[order],
        key=raw.key[order],
        total=raw.total[order],
        self_value=raw.self_value[order],
        folded=raw.folded[order],
        threshold=raw.threshold,
        root_totals=raw.root_totals,
    )
