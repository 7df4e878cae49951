"""The compiled id lookup (profilelab._native._lookup) against NumPy's (model.ids.positions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profilelab
from profilelab.model import ids
from profilelab.ops import frames

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
    got = frames.positions(keys, d)
    assert got.dtype == want.dtype == np.int32
    assert got.tolist() == want.tolist()


def test_many_keys_with_colliding_homes() -> None:
    # ids that share their table slot (multiples of a high power of two) probe far
    d = np.arange(1, 5000, dtype=np.int64) << np.int64(40)
    keys = np.concatenate([d, d + 1, d[::-7]])
    assert frames.positions(keys, d).tolist() == ids.positions(keys, d).tolist()


def test_frame_rows_are_the_same_without_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    p = profilelab.load(GOROUTINE)
    frame_ids = p.stacks["frame_ids"].explode().drop_nulls()
    fast = frames.frame_rows(p, frame_ids)
    monkeypatch.setattr(frames, "_lookup", None)
    assert fast.tolist() == frames.frame_rows(p, frame_ids).tolist()


def test_buffers_of_the_wrong_size_are_refused() -> None:
    assert frames._lookup is not None
    keys, d = np.arange(4, dtype=np.int64), np.arange(3, dtype=np.int64)
    with pytest.raises(ValueError, match="one int32 per key"):
        frames._lookup.positions(keys, d, np.empty(3, dtype=np.int32))
    with pytest.raises(ValueError, match="int64"):
        frames._lookup.positions(keys.astype(np.int32)[:3], d, np.empty(3, dtype=np.int32))
