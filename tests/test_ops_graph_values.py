"""Flat and cum per node of pprof reports (ops/graph.py) over the stacks' rows."""

from __future__ import annotations

import numpy as np
import polars as pl

from profilelab.core.aggregate import csr_flat_cum
from profilelab.ops import graph


def _rows(node_offset: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    # stack 900: leaf 1, then 2, 1 (recursion), 3; stack -5: leaf 2, then 3; stack 7: leaf 4
    # (its values are zero, so it adds nothing and node 4 is left out).
    e = pl.DataFrame(
        {
            "stack_id": [900, 900, 900, 900, -5, -5, 7],
            "pos": [0, 1, 2, 3, 0, 1, 0],
            "node_id": [n + node_offset for n in (1, 2, 1, 3, 2, 3, 4)],
        }
    )
    values = pl.DataFrame({"stack_id": [900, -5, 7], "w": [10, 3, 0], "dw": [1, 1, 0]})
    return e, values


def _expected(node_offset: int = 0) -> dict[int, tuple[int, int, int, int]]:
    return {
        1 + node_offset: (10, 1, 10, 1),
        2 + node_offset: (3, 1, 13, 2),
        3 + node_offset: (0, 0, 13, 2),
    }


def _as_dict(df: pl.DataFrame) -> dict[int, tuple[int, int, int, int]]:
    cols = ("node_id", "flat", "flat_div", "cum", "cum_div")
    return {r[0]: tuple(r[1:]) for r in df.select(cols).iter_rows()}


def test_node_values_count_recursion_once_and_give_flat_to_the_leaf() -> None:
    e, values = _rows()
    assert _as_dict(graph.node_values(e, values)) == _expected()


def test_node_values_with_sparse_node_ids() -> None:
    e, values = _rows(node_offset=1 << 40)
    assert _as_dict(graph.node_values(e, values)) == _expected(1 << 40)


def test_grouped_sorts_only_rows_that_are_not_grouped_by_stack() -> None:
    e, values = _rows()
    assert graph.grouped(e) is e
    split = pl.concat([e.slice(2), e.slice(0, 2)])  # stack 900's rows in two runs
    assert graph.grouped(split) is not split
    assert _as_dict(graph.node_values(graph.grouped(e.reverse()), values)) == _expected()
    regrouped = graph.grouped(split)
    assert regrouped.sort("stack_id", "pos").equals(e.sort("stack_id", "pos"))
    assert _as_dict(graph.node_values(regrouped, values)) == _expected()


def test_csr_flat_cum_leaf_first_gives_flat_to_each_paths_first_key() -> None:
    offsets = np.array([0, 3, 5])
    keys = np.array([0, 1, 0, 2, 1])
    values = np.array([[4], [5]])
    flat, cum = csr_flat_cum(offsets, keys, values, 3, leaf_first=True)
    assert flat[:, 0].tolist() == [4, 0, 5]
    assert cum[:, 0].tolist() == [4, 9, 5]
    flat, _ = csr_flat_cum(offsets, keys, values, 3)
    assert flat[:, 0].tolist() == [4, 5, 0]
