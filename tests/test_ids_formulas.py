"""The vectorized id hashes equal the formulas documented in profilelab.model.ids.

Each formula is written out here in plain Python integers; the numpy kernels (rewritten
for speed) must agree bit for bit on any input.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from profilelab.model import ids

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def hash_string(s: str | None) -> int:
    if s is None:
        return 0x5BD1E9955BD1E995
    h = 0xCBF29CE484222325
    data = s.encode()
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return mix64(h ^ len(data))


def hash_sequence(items: list[int]) -> int:
    total = sum(mix64(x ^ mix64((i + GOLDEN) & MASK)) for i, x in enumerate(items)) & MASK
    return mix64((total + len(items) * GOLDEN) & MASK)


u64 = st.integers(0, MASK)


@settings(max_examples=200, deadline=None)
@given(st.lists(u64, max_size=50))
def test_mix64_and_hash_ints(values: list[int]) -> None:
    arr = np.array(values, dtype=np.uint64)
    assert ids.mix64(arr).tolist() == [mix64(v) for v in values]
    signed = arr.view(np.int64)
    assert ids.hash_ints(signed).tolist() == [mix64((v + GOLDEN) & MASK) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(u64, max_size=12), max_size=12))
def test_hash_sequences(seqs: list[list[int]]) -> None:
    items = np.array([x for s in seqs for x in s], dtype=np.uint64)
    offsets = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
    assert ids.hash_sequences(items, offsets).tolist() == [hash_sequence(s) for s in seqs]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), max_size=20))
def test_hash_strings(strings: list[str | None]) -> None:
    assert ids.hash_strings(strings).tolist() == [hash_string(s) for s in strings]
