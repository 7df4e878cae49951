"""Flat and cum per node of pprof reports (ops/graph.py) over the stacks' rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import ops
from profilelab.core.aggregate import csr_flat_cum
from profilelab.errors import ValidationError
from profilelab.ops import graph

ROOT = Path(__file__).resolve().parent.parent


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


def test_node_values_without_divisors_sum_the_values_alone() -> None:
    e, values = _rows()
    values = values.with_columns(pl.lit(0).alias("dw"))
    want = {k: (f, 0, c, 0) for k, (f, _, c, _) in _expected().items()}
    assert _as_dict(graph.node_values(e, values)) == want


def test_csr_flat_cum_with_pairs_wider_than_32_bits() -> None:
    # 2^17 paths over 2^16 keys: a (path, key) pair takes 33 bits, so it is packed in 64.
    # Path i is (i mod 2^16, 7, i mod 2^16): recursion, counted once.
    n_paths, n_keys = 1 << 17, 1 << 16
    first = np.arange(n_paths, dtype=np.int64) % n_keys
    keys = np.stack([first, np.full(n_paths, 7), first], axis=1).ravel()
    offsets = np.arange(0, 3 * n_paths + 1, 3, dtype=np.int64)
    values = (np.arange(n_paths, dtype=np.int64) + 1).reshape(-1, 1)
    flat, cum = csr_flat_cum(offsets, keys, values, n_keys, leaf_first=True)
    per_key = values[:n_keys, 0] + values[n_keys:, 0]  # paths i and i + 2^16 share a key
    assert flat[:, 0].tolist() == per_key.tolist()
    want = per_key.copy()
    want[7] = int(values.sum())  # on every path, and its own first key on two
    assert cum[:, 0].tolist() == want.tolist()


def test_a_stack_naming_a_missing_frame_is_one_clear_error() -> None:
    p = profilelab.load(ROOT / "datasets" / "goroutine-leak" / "fixed" / "goroutine-01.pb.gz")
    used = p.stacks["frame_ids"].list.first()[0]
    broken = p.replace(frames=p.frames.filter(pl.col("frame_id") != used))
    with pytest.raises(ValidationError, match=r"^stacks reference frames missing from the frames"):
        ops.top(broken)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-3, 6), unique=True, max_size=6),  # the view's stacks, in order
    st.lists(st.tuples(st.integers(-4, 7), st.integers(-5, 5), st.integers(-2, 2)), max_size=40),
    st.booleans(),
)
def test_stack_values_of_a_view_equal_the_group_by_over_its_stacks(
    view: list[int], samples: list[tuple[int, int, int]], mean: bool
) -> None:
    """Summed by position among the view's stacks: the same sums as the group-by of every
    sample, for the stacks of the view (the only ones its nodes and edges read)."""
    e = pl.DataFrame(
        {"stack_id": [s for s in view for _ in range(2)], "pos": [0, 1] * len(view)},
        schema={"stack_id": pl.Int64, "pos": pl.Int32},
    )
    columns = {"stack_id": [s for s, _, _ in samples], "value": [v for _, v, _ in samples]}
    if mean:
        columns["div"] = [d for _, _, d in samples]
    frame = pl.DataFrame(columns, schema={c: pl.Int64 for c in columns})
    got = graph.stack_values(frame, e)
    reference = graph.stack_values(frame).filter(pl.col("stack_id").is_in(view))
    assert got.schema == reference.schema
    assert got.sort("stack_id").rows() == reference.sort("stack_id").rows()
    order = {s: i for i, s in enumerate(view)}
    assert got["stack_id"].to_list() == sorted(got["stack_id"].to_list(), key=order.__getitem__)


def _edge_rows_reference(e: pl.DataFrame, kept: pl.Series | None) -> pl.DataFrame:
    """The rows ops.graph.edges starts from, as the Polars expressions over every row that
    ops.graph._edge_rows replaces."""
    same_stack_next = pl.col("stack_id") == pl.col("stack_id").shift(-1)
    e = e.with_columns(
        (same_stack_next & (pl.col("loc") == pl.col("loc").shift(-1)))
        .fill_null(False)
        .alias("inline")
    ).with_row_index("_row")
    if kept is not None:
        e = e.filter(pl.col("node_id").is_in(kept.implode()))
    return e.select("stack_id", "node_id", "inline", pl.col("_row").cast(pl.Int64))


_FRAME = st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(-2, 9)))  # loc, node


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(_FRAME, min_size=1, max_size=6), max_size=6),
    st.one_of(st.none(), st.lists(st.integers(-3, 12), max_size=5)),
    st.booleans(),
    st.sampled_from([0, 1000]),  # node ids numbered from 0, or far apart
)
def test_edges_equal_the_polars_reference(
    stacks: list[list[tuple[int, int | None]]], kept: list[int] | None, inline_only: bool, far: int
) -> None:
    rows = [
        (s, pos, loc, None if node is None else node * (1 + far))
        for s, frames in enumerate(stacks)
        for pos, (loc, node) in enumerate(frames)
    ]
    e = pl.DataFrame(
        rows,
        schema={"stack_id": pl.Int64, "pos": pl.Int32, "loc": pl.Int32, "node_id": pl.Int64},
        orient="row",
    )
    values = pl.DataFrame(
        {"stack_id": range(len(stacks)), "w": [3 * s + 1 for s in range(len(stacks))]},
        schema={"stack_id": pl.Int64, "w": pl.Int64},
    ).with_columns(dw=pl.col("w") % 2)
    wanted = None if kept is None else pl.Series([k * (1 + far) for k in kept], dtype=pl.Int64)
    reference = _edge_rows_reference(e, wanted)
    assert graph._edge_rows(e, wanted).rows() == reference.rows()
    got = graph.edges(e, values, wanted, inline_only=inline_only).sort("src", "dest")
    expected = graph.edges_of_rows(reference, values, inline_only=inline_only)
    expected = expected.sort("src", "dest")
    assert got.schema == expected.schema
    assert got.rows() == expected.rows()
