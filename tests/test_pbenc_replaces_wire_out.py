"""The OTLP writer's encoder (_wire_out) and the pprof writer's (_pbenc) write the same
bytes for every construct the OTLP writer uses, so the OTLP writer can move to _pbenc."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from profilelab.writers import _pbenc as pb
from profilelab.writers import _wire_out as o

ints = hnp.arrays(np.int64, st.integers(0, 30), elements=st.integers(-(2**63), 2**63 - 1))
small = hnp.arrays(np.int64, st.integers(0, 30), elements=st.integers(0, 300))
fields = st.integers(1, 2**29 - 1)


def same(old: o.Segments, new: pb.Blob) -> None:
    assert np.array_equal(old.lengths, new.lengths)
    assert old.tobytes() == new.tobytes()


def csr(draw: st.DrawFn, n: int) -> tuple[np.ndarray, np.ndarray]:
    counts = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    offsets = np.cumsum([0, *counts]).astype(np.int64)
    values = draw(hnp.arrays(np.int64, int(offsets[-1]), elements=st.integers(-(2**63), 2**63 - 1)))
    return offsets, values


@settings(max_examples=300, deadline=None)
@given(ints, fields)
def test_varints_and_varint_fields(values: np.ndarray, field: int) -> None:
    same(o.varints(values), pb.varints(values))
    same(o.varints(values.view(np.uint64)), pb.varints(values.view(np.uint64)))
    same(o.varint_field(field, values), pb.uint_field(field, values))
    same(
        o.concat_rows(o.varint_field(1, values), o.varint_field(2, values)),
        pb.cat(pb.uint_field(1, values), pb.uint_field(2, values)),
    )


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(0, 12), fields)
def test_packed_fields(data: st.DataObject, n: int, field: int) -> None:
    offsets, values = csr(data.draw, n)
    same(o.len_field(field, o.packed_varints(offsets, values)), pb.packed(field, values, offsets))
    one = data.draw(hnp.arrays(np.int64, n, elements=st.integers(-(2**63), 2**63 - 1)))
    every = np.ones(n, dtype=bool)
    same(
        o.len_field(field, o.packed_varints(np.arange(n + 1), one), every),
        pb.bytes_field(field, pb.varints(one), keep_empty=True),
    )
    valid = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    valid_off = np.concatenate(([0], np.cumsum(valid))).astype(np.int64)
    same(
        o.len_field(field, o.packed_fixed64(valid_off, one[valid]), valid),
        pb.bytes_field(field, pb.group(pb.fixed64s(one[valid]), valid_off)),
    )


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(0, 10))
def test_nested_records_and_repeated_fields(data: st.DataObject, n_loc: int) -> None:
    offsets, _ = csr(data.draw, n_loc)
    n_lines = int(offsets[-1])
    a = data.draw(hnp.arrays(np.int64, n_lines, elements=st.integers(0, 2**40)))
    b = data.draw(hnp.arrays(np.int64, n_lines, elements=st.integers(-5, 5)))
    old_lines = o.len_field(
        3, o.concat_rows(o.varint_field(1, a), o.varint_field(2, b)), np.ones(n_lines, bool)
    )
    csum = np.concatenate(([0], np.cumsum(old_lines.lengths)))
    old = o.Segments(old_lines.data, csum[offsets[1:]] - csum[offsets[:-1]])
    new = pb.group(
        pb.bytes_field(3, pb.cat(pb.uint_field(1, a), pb.uint_field(2, b)), keep_empty=True),
        offsets,
    )
    same(old, new)
    assert o.repeated(7, old) == pb.repeated(7, new)
    payload = data.draw(st.binary(max_size=300))
    assert o.field_bytes(5, payload) == pb.wrap(5, payload)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=20), st.integers(0, 6))
def test_strings_and_fixed_width_ids(texts: list[str | None], n: int) -> None:
    arr = pa.array(texts, type=pa.string())
    same(o.strings(arr), pb.strings_blob(arr))
    ids = np.frombuffer(bytes(range(16)) * n, dtype=np.uint8)
    every = np.ones(n, dtype=bool)
    same(
        o.len_field(1, o.Segments(ids.copy(), np.full(n, 16, dtype=np.int64)), every),
        pb.bytes_field(1, pb.from_lengths(ids.copy(), np.full(n, 16, np.int64)), keep_empty=True),
    )
