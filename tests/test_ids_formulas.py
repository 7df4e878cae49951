"""The vectorized id hashes equal the formulas documented in profilelab.model.ids.

Each formula is written out here in plain Python integers; the numpy kernels (rewritten
for speed) must agree bit for bit on any input.
"""

from __future__ import annotations

import numpy as np
import pytest
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


@pytest.mark.parametrize("n", [ids.MIX_BLOCK - 1, ids.MIX_BLOCK, 2 * ids.MIX_BLOCK + 5])
def test_mix64_of_arrays_of_several_blocks(n: int) -> None:
    values = np.random.default_rng(n).integers(0, MASK, n, dtype=np.uint64, endpoint=True)
    got = ids.mix64(values)
    assert got.shape == values.shape and got.dtype == np.uint64
    bounds = np.arange(ids.MIX_BLOCK, n, ids.MIX_BLOCK)  # first items of later blocks
    edges = np.unique(np.r_[0:n:997, bounds - 1, bounds, n - 1])  # and points between
    assert got[edges].tolist() == [mix64(int(values[i])) for i in edges]
    assert ids.mix64(values.reshape(-1, 1)).reshape(-1).tolist() == got.tolist()


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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=20),
    st.integers(0, 3),
    st.data(),
)
def test_hash_strings_at_hashes_the_strings_at_an_index(
    strings: list[str | None],
    skip: int,
    data,  # type: ignore[no-untyped-def]
) -> None:
    """Read in place: an index with repeats, of an array that starts at an offset."""
    import pyarrow as pa

    arr = pa.array(["x"] * skip + strings, type=pa.string())[skip:]
    index = data.draw(st.lists(st.integers(0, len(strings) - 1), max_size=30))
    got = ids.hash_strings_at(arr, np.array(index, dtype=np.int64))
    assert got.tolist() == [hash_string(strings[i]) for i in index]


_ID = st.integers(-(1 << 63), (1 << 63) - 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_ID, unique=True, max_size=300),
    st.lists(st.one_of(_ID, st.integers(0, 40)), max_size=300),
    st.data(),
)
def test_positions_is_a_dictionary_lookup(table: list[int], others: list[int], data) -> None:  # type: ignore[no-untyped-def]
    # keys: ids of the table (repeated) mixed with ids that may be absent
    picked = data.draw(st.lists(st.sampled_from(table), max_size=300)) if table else []
    keys = picked + others
    where = {v: i for i, v in enumerate(table)}
    got = ids.positions(np.array(keys, dtype=np.int64), np.array(table, dtype=np.int64))
    assert got.dtype == np.int32
    assert got.tolist() == [where.get(k, -1) for k in keys]


def test_positions_probes_past_colliding_ids_and_wraps_around() -> None:
    # x * GOLDEN = k (mod 2^64) puts x in the first slot for small k, and in the last slot
    # for k near 2^64: a cluster of equal homes at each end of the table
    inverse = pow(GOLDEN, -1, 1 << 64)

    def with_product(k: int) -> int:
        x = (k * inverse) & MASK
        return x - (1 << 64) if x >> 63 else x

    table = [with_product(k) for k in range(1, 17)] + [with_product(-k) for k in range(1, 17)]
    absent = [with_product(k) for k in range(17, 30)] + [with_product(-k) for k in range(17, 30)]
    keys = table[::-1] + absent
    got = ids.positions(np.array(keys, dtype=np.int64), np.array(table, dtype=np.int64))
    assert got.tolist() == list(range(len(table)))[::-1] + [-1] * len(absent)


def test_the_string_hash_kernel_is_built() -> None:
    assert ids._kernel is not None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=20),
    st.lists(st.integers(-25, 25), max_size=30),
    st.sampled_from(["as made", "decreasing", "past the end", "no index"]),
)
def test_string_hashes_equal_numpys(
    strings: list[str | None], index: list[int], damage: str
) -> None:
    """The compiled string hashes against NumPy's (the formula's, above): indices outside
    the table (NumPy reads negative ones from the end) and damaged offsets give NumPy's
    answer, down to the error."""
    from profilelab.model import _arrow

    arr = _arrow.adopt(_arrow.text(strings))
    offsets, data = _arrow.string_buffers(arr)
    if damage == "decreasing" and len(offsets) > 2:
        offsets[1], offsets[2] = offsets[2] + 1, offsets[1]
    elif damage == "past the end":
        offsets[-1] += 5
    arr = _arrow.Array("U", len(strings), [arr.buffers[0], offsets, data])
    at = None if damage == "no index" else np.array(index, dtype=np.int64)

    def outcome(fn):  # type: ignore[no-untyped-def]
        try:
            return fn(arr, at).tolist()
        except Exception as exc:  # NumPy's own errors, compared as they are
            return type(exc), str(exc)

    want = outcome(ids.hash_strings_numpy)
    assert outcome(ids.hash_strings_at) == want
    assert outcome(lambda a, i: ids.hash_strings_at(a, i, dedup=True)) == want
    if damage == "as made" and all(0 <= i < len(strings) for i in index):
        assert want == [hash_string(strings[i]) for i in index]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text("ab.é", max_size=3), st.text("ab", min_size=7, max_size=40)),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 300),
    st.data(),
    st.booleans(),
)
def test_equal_strings_found_first_hash_as_each_alone(
    base: list[str | None],
    copies: int,
    data,  # type: ignore[no-untyped-def]
    kernel: bool,
) -> None:
    """``dedup`` (each distinct string hashed once) gives every string its own hash: a table
    that repeats itself, as a batch's does, with strings that differ in one byte, share 8-byte
    words, or end mid-word, nulls and an index with repeats; by the kernel's hash table, and
    by Arrow's without the kernel."""
    import pyarrow as pa

    strings = [base[(i * 7 + i // len(base)) % len(base)] for i in range(len(base) * copies)]
    arr = pa.array(strings, type=pa.string())
    index = np.array(
        data.draw(st.lists(st.integers(0, len(strings) - 1), max_size=600)), dtype=np.int64
    )
    saved = ids._kernel
    try:
        if not kernel:
            ids._kernel = None
        got = ids.hash_strings_at(arr, index, dedup=True)
        whole = ids.hash_strings_at(arr, None, dedup=True)
    finally:
        ids._kernel = saved
    assert got.tolist() == [hash_string(strings[i]) for i in index]
    assert whole.tolist() == [hash_string(s) for s in strings]
