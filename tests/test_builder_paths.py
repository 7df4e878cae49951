"""Builder corner paths: range expansion, stacks that collapse to the same frames."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from pprof_build import PprofBuilder

import profilelab
from profilelab.model.builder import _ranges


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 5)), max_size=30))
def test_ranges_concatenates_index_ranges(pairs: list[tuple[int, int]]) -> None:
    starts = np.array([s for s, _ in pairs], dtype=np.int64)
    lengths = np.array([n for _, n in pairs], dtype=np.int64)
    expected = [s + k for s, n in pairs for k in range(n)]
    assert _ranges(starts, lengths).tolist() == expected


def test_locations_with_equal_frames_share_one_stack() -> None:
    """Two pprof locations with identical content are one frame; their stacks are one."""
    b = PprofBuilder([("samples", "count")])
    main, work = b.function("main"), b.function("work")
    root = b.location(main, address=0x10, line=1)
    twin_a = b.location(work, main, address=0x20, line=2)  # inlined pair
    twin_b = b.location(work, main, address=0x20, line=2)  # same content, other id
    b.sample([twin_a, root], [1])
    b.sample([twin_b, root], [2])
    b.sample([root], [4])
    p = profilelab.load(b.bytes())
    p.check()
    assert p.stacks.height == 2
    assert sorted(p.stacks["depth"].to_list()) == [1, 3]
    per_stack = dict(p.samples.group_by("stack_id").agg(pl.col("value").sum()).iter_rows())
    assert sorted(per_stack.values()) == [3, 4]
