"""The builder's compiled stack expansion (profilelab._native._expand) against its NumPy
reference, model.builder.expand_numpy: the same frame sequences, offsets and hashes, and
for what the kernel leaves (damaged offsets, location positions outside the locations) the
same answer, down to the error text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profilelab
from profilelab.model import builder
from profilelab.model.raw import RawProfile

INT64 = st.integers(-(2**63), 2**63 - 1)
GOROUTINE = (
    Path(__file__).resolve().parent.parent / "datasets/goroutine-leak/fixed/goroutine-01.pb.gz"
)


def test_the_kernel_is_built() -> None:
    assert builder._kernel is not None


def _outcome(fn: Any, *args: Any) -> Any:
    """What ``fn(*args)`` gives: its arrays (dtype and items), or its error's type and text."""
    try:
        return [(a.dtype.str, a.tolist()) for a in fn(*args)]
    except Exception as exc:  # the reference's own errors, compared as they are
        return type(exc), str(exc)


def _case(
    frames_per_loc: list[int], frame_ids: list[int], stacks: list[list[int]]
) -> tuple[RawProfile, np.ndarray, np.ndarray]:
    """A RawProfile with these raw stacks (location positions), and the frames of its
    locations as the builder's frames step gives them (CSR, ids drawn from ``frame_ids``)."""
    raw = RawProfile()
    raw.stack_offsets = np.cumsum([0, *map(len, stacks)]).astype(np.int64)
    raw.stack_locations = np.array([loc for s in stacks for loc in s], dtype=np.int64)
    loc_frame_offsets = np.cumsum([0, *frames_per_loc]).astype(np.int64)
    total = int(loc_frame_offsets[-1])
    loc_frame_ids = np.resize(np.array(frame_ids or [0], dtype=np.int64), total)
    return raw, loc_frame_offsets, loc_frame_ids


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=12),  # frames per location
    st.lists(st.one_of(INT64, st.integers(-3, 9)), max_size=30),
    st.lists(st.lists(st.integers(0, 11), max_size=9), max_size=20),
)
def test_expansion_equals_numpys(
    frames_per_loc: list[int], frame_ids: list[int], stacks: list[list[int]]
) -> None:
    """Locations without frames, empty stacks, repeated locations, any 64-bit frame ids."""
    n_loc = len(frames_per_loc)
    stacks = [[loc % n_loc for loc in s] for s in stacks]
    raw, offsets, frame_id_rows = _case(frames_per_loc, frame_ids, stacks)
    want = _outcome(builder.expand_numpy, raw, offsets, frame_id_rows)
    assert builder._kernel is not None
    assert builder._kernel.expand(raw.stack_locations, raw.stack_offsets, offsets, frame_id_rows), (
        "the kernel took a well-formed input"
    )
    assert _outcome(builder.expand_hashed, raw, offsets, frame_id_rows) == want


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=8),
    st.lists(INT64, max_size=10),
    st.lists(st.lists(st.integers(-12, 12), max_size=6), max_size=10),
    st.sampled_from(["as built", "first offset", "last offset", "decreasing", "short refs"]),
)
def test_damaged_stacks_get_numpys_answer(
    frames_per_loc: list[int], frame_ids: list[int], stacks: list[list[int]], damage: str
) -> None:
    """Location positions outside the locations (negative ones too, which NumPy's indexing
    reads from the end) and offsets out of order: the kernel leaves them to NumPy."""
    raw, offsets, frame_id_rows = _case(frames_per_loc, frame_ids, stacks)
    off = raw.stack_offsets.copy()
    if damage == "first offset":
        off[0] = 1
    elif damage == "last offset":
        off[-1] += 1
    elif damage == "decreasing" and len(off) > 2:
        off[1], off[2] = off[2] + 1, off[1]
    elif damage == "short refs":
        raw.stack_locations = raw.stack_locations[:-1]
    raw.stack_offsets = off
    want = _outcome(builder.expand_numpy, raw, offsets, frame_id_rows)
    assert _outcome(builder.expand_hashed, raw, offsets, frame_id_rows) == want


def test_profiles_are_the_same_without_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = profilelab.load(GOROUTINE)
    monkeypatch.setattr(builder, "_kernel", None)
    slow = profilelab.load(GOROUTINE)
    for name in ("samples", "stacks", "frames", "mappings", "labels", "profiles"):
        assert getattr(fast, name).equals(getattr(slow, name)), name


def test_bad_buffers_are_refused() -> None:
    assert builder._kernel is not None
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError, match="int64"):
        builder._kernel.expand(one, one.astype(np.int32), one, one)
    with pytest.raises(ValueError, match="at least one"):
        builder._kernel.expand(one, one[:0], one, one)
