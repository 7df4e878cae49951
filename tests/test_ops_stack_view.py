"""The stack view's inputs: which stacks the samples use (ops/frames.used_stacks)."""

from __future__ import annotations

import dataclasses

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from profilelab.model.profile import Profile
from profilelab.ops import frames


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-5, 5), unique=True, max_size=8),
    st.lists(st.one_of(st.none(), st.integers(-6, 6)), max_size=30),
)
def test_used_stacks_are_the_samples_distinct_stacks(
    stacks: list[int], samples: list[int | None]
) -> None:
    """Looked up among the profile's stacks (in their order) or, when a sample's stack is
    not there, Polars' unique: the same set and count either way."""
    table = pl.DataFrame({"stack_id": stacks}, schema={"stack_id": pl.Int64})
    profile = dataclasses.replace(Profile.empty(), stacks=table)
    got = frames.used_stacks(
        profile, pl.DataFrame({"stack_id": samples}, schema={"stack_id": pl.Int64})
    )
    assert got.dtype == pl.Int64
    assert sorted(got.to_list(), key=str) == sorted(set(samples), key=str)
    if all(s in stacks for s in samples):  # found by position: in the stacks' order
        assert got.to_list() == [s for s in stacks if s in samples]
