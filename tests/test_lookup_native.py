"""The compiled stack-view kernels (profilelab._native._lookup) against their NumPy references:
model.ids.positions, ops.frames.view_rows_numpy and core.aggregate.csr_flat_cum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profilelab
from profilelab.core.aggregate import csr_flat_cum
from profilelab.model import ids
from profilelab.ops import frames, graph

INT64 = st.integers(-(2**63), 2**63 - 1)
GOROUTINE = (
    Path(__file__).resolve().parent.parent / "datasets/goroutine-leak/fixed/goroutine-01.pb.gz"
)


def test_the_kernel_is_built() -> None:
    assert frames._lookup is not None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(INT64, st.integers(-3, 40)), unique=True, max_size=60),
    st.lists(st.one_of(INT64, st.integers(-3, 40)), max_size=200),
)
def test_positions_equal_numpys(distinct: list[int], others: list[int]) -> None:
    d = np.array(distinct, dtype=np.int64)
    keys = np.array(others + distinct[::-1] + others[::3], dtype=np.int64)
    want = ids.positions(keys, d)
    got = ids.locate(keys, d)
    assert got.dtype == want.dtype == np.int32
    assert got.tolist() == want.tolist()


def test_many_keys_with_colliding_homes() -> None:
    # ids that share their table slot (multiples of a high power of two) probe far
    d = np.arange(1, 5000, dtype=np.int64) << np.int64(40)
    keys = np.concatenate([d, d + 1, d[::-7]])
    assert ids.locate(keys, d).tolist() == ids.positions(keys, d).tolist()


def test_frame_rows_are_the_same_without_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    p = profilelab.load(GOROUTINE)
    frame_ids = p.stacks["frame_ids"].explode().drop_nulls()
    fast = frames.frame_rows(p, frame_ids)
    monkeypatch.setattr(ids, "_lookup", None)  # model.ids.locate's kernel
    assert fast.tolist() == frames.frame_rows(p, frame_ids).tolist()


def test_buffers_of_the_wrong_size_are_refused() -> None:
    assert frames._lookup is not None
    keys, d = np.arange(4, dtype=np.int64), np.arange(3, dtype=np.int64)
    with pytest.raises(ValueError, match="one int32 per key"):
        frames._lookup.positions(keys, d, np.empty(3, dtype=np.int32))
    with pytest.raises(ValueError, match="int64"):
        frames._lookup.positions(keys.astype(np.int32)[:3], d, np.empty(3, dtype=np.int32))


# ---- the stack view's rows and flat/cum per node ----------------------------------------------

stacks_of_frames = st.lists(st.lists(st.integers(0, 7), max_size=6), max_size=25)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 7), min_size=1, max_size=6), max_size=25),  # as explode's
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_view_rows_equal_numpys(stacks: list[list[int]], inlined: list[bool]) -> None:
    starts = np.cumsum([0, *map(len, stacks)]).astype(np.int64)
    frame = np.array([f for s in stacks for f in s], dtype=np.int32)
    flags = np.array(inlined)
    stack_ids = np.arange(len(stacks), dtype=np.int64) * 7919 - 3
    want = frames.view_rows_numpy(starts, frame, flags, stack_ids)
    got = frames.view_rows(starts, frame, flags, stack_ids)
    for a, b in zip(want, got, strict=True):
        assert a.dtype == b.dtype and a.tolist() == b.tolist()


@settings(max_examples=300, deadline=None)
@given(
    stacks_of_frames,
    st.integers(1, 2),
    st.lists(st.one_of(st.just(0), st.integers(-5, 5), INT64), min_size=50, max_size=50),
)
def test_flat_cum_equals_the_cores(stacks: list[list[int]], m: int, numbers: list[int]) -> None:
    """Recursion once in cum, the leaf (first key) flat, zero stacks and empty stacks adding
    nothing, int64 sums wrapping as NumPy's do."""
    offsets = np.cumsum([0, *map(len, stacks)]).astype(np.int64)
    keys = np.array([k for s in stacks for k in s], dtype=np.int64)
    values = np.array(numbers[: len(stacks) * m], dtype=np.int64)
    values = np.resize(values, len(stacks) * m).reshape(len(stacks), m)
    want = csr_flat_cum(offsets, keys, values, 8, leaf_first=True)
    got = graph.leaf_first_flat_cum(offsets, keys, values, 8)
    for a, b in zip(want, got, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tolist() == b.tolist()
    assert frames._lookup is not None  # root first: the flat value goes to the last key
    flat, cum = np.zeros((8, m), dtype=np.int64), np.zeros((8, m), dtype=np.int64)
    frames._lookup.flat_cum(offsets, keys, values, m, flat, cum, False)
    want = csr_flat_cum(offsets, keys, values, 8)
    assert flat.tolist() == want[0].tolist() and cum.tolist() == want[1].tolist()


def test_reports_are_the_same_without_the_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    p = profilelab.load(GOROUTINE)
    fast = [p.top(), p.top(cum=True), p.peek(".")]
    monkeypatch.setattr(frames, "_lookup", None)
    monkeypatch.setattr(graph, "_lookup", None)
    monkeypatch.setattr(ids, "_lookup", None)  # the lookups of model.ids.locate
    for a, b in zip(fast, [p.top(), p.top(cum=True), p.peek(".")], strict=True):
        assert a.equals(b)


def test_bad_view_and_sum_buffers_are_refused() -> None:
    k = frames._lookup
    assert k is not None
    one, i32 = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int32)
    with pytest.raises(ValueError, match="offsets must run from 0"):
        k.stack_rows(np.array([0, 2]), i32, b"\x00", one, one, i32, i32, i32)
    with pytest.raises(ValueError, match="a frame row is outside"):
        k.stack_rows(np.array([0, 1]), i32 + 3, b"\x00", one, one, i32, i32, i32)
    with pytest.raises(ValueError, match="offsets must not decrease"):
        k.flat_cum(np.array([0, 2, 1]), one, np.zeros(2, dtype=np.int64), 1, one, one, True)
    with pytest.raises(ValueError, match="a key is outside"):
        k.flat_cum(np.array([0, 1]), one + 1, one, 1, one, one, True)
    with pytest.raises(ValueError, match="values: expected 16 bytes"):
        k.flat_cum(np.array([0, 1]), one, one, 2, np.zeros(2, dtype=np.int64), one, True)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 40).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n), max_size=4),
            st.lists(
                st.tuples(
                    st.sampled_from([np.int64, np.uint64, np.int32, np.uint8, np.bool_]),
                    st.lists(INT64, min_size=n, max_size=n),
                ),
                max_size=7,
            ),
        )
    )
)
def test_record_hashes_equal_numpys(
    fields: tuple[list[list[int]], list[tuple[type, list[int]]]],
) -> None:
    """The builder's frame and mapping ids: the kernel's one pass gives NumPy's fold of
    the hashes and of each integer field's hash_ints, for integers of any width."""
    hashed, raw_ints = fields
    hashes = [np.array(h, dtype=np.uint64) for h in hashed]
    ints = [np.array(v, dtype=np.int64).astype(t) for t, v in raw_ints]
    if not hashes and not ints:
        return
    want = ids.fold(*hashes, *(ids.hash_ints(v) for v in ints))
    got = ids.fold_with_ints(hashes, ints)
    assert got.dtype == want.dtype == np.uint64
    assert got.tolist() == want.tolist()
    assert ids._fold_numpy(hashes, ints).tolist() == want.tolist()


def test_record_fields_of_other_lengths_are_refused() -> None:
    assert ids._lookup is not None
    with pytest.raises(ValueError, match="of one length"):
        ids.fold_with_ints([np.zeros(2, np.uint64)], [np.zeros(3, np.int64)])
    with pytest.raises(ValueError, match="8 bytes per row"):
        ids._lookup.fold((np.zeros(2, np.uint64),), (), np.zeros(3, np.uint64))
    with pytest.raises(ValueError, match="at most 16 fields"):
        ids._lookup.fold((np.zeros(1, np.uint64),) * 17, (), np.zeros(1, np.uint64))
