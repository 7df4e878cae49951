"""The compiled protobuf record scanner (profilelab._native._wirescan) against the numpy steps
of readers/_wire.py: the same Batch, row for row, for every batch of plain records, and the
numpy steps (same result, same error) for everything else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otlp_helpers import varint

from profilelab.readers import _wire as w

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
COLUMNS = ("msg", "field", "wire", "value", "length")


def test_compiled_kernel_is_built() -> None:
    """setup.py builds it as an optional extension: a silent build failure must show here."""
    assert w._native is not None


def _record(field: int, wire: int, value: int, body: bytes) -> bytes:
    tag = varint(field << 3 | wire)
    if wire == w.VARINT:
        return tag + varint(value)
    if wire == w.LEN:
        return tag + varint(len(body)) + body
    size = 8 if wire == w.FIXED64 else 4
    return tag + (value % (1 << 8 * size)).to_bytes(size, "little")


records = st.lists(
    st.builds(
        _record,
        st.integers(1, 40),
        st.sampled_from([w.VARINT, w.LEN, w.FIXED64, w.FIXED32]),
        st.integers(0, 2**32 - 1) | st.integers(0, 2**64 - 1),
        st.binary(max_size=12),
    ),
    max_size=6,
)
#: a few long messages among short ones: the numpy scanner's loop for the last few
long_records = st.lists(st.just(_record(1, w.VARINT, 300, b"")), min_size=65, max_size=90)
messages = st.lists(records | long_records, max_size=14)


def _both(bodies: list[bytes], depth: int | None = None) -> tuple[object, object]:
    """(compiled, numpy) outcome of scanning ``bodies``: a Batch's columns or the error."""
    outcomes = []
    for native in (w._native, None):
        saved, w._native = w._native, native
        try:
            buf, starts, ends = w.join(list(bodies))
            b = w.scan(buf, starts, ends, "Msg", depth)
            outcomes.append((b.n, [getattr(b, c).dtype.str for c in COLUMNS], _cols(b)))
        except w.WireError as exc:
            outcomes.append(("error", str(exc)))
        finally:
            w._native = saved
    return outcomes[0], outcomes[1]


def _cols(b: w.Batch) -> list[list[int]]:
    return [getattr(b, c).tolist() for c in COLUMNS]


@FUZZ
@given(messages)
def test_plain_records_scan_as_the_numpy_steps_do(msgs: list[list[bytes]]) -> None:
    compiled, steps = _both([b"".join(m) for m in msgs])
    assert compiled == steps


@FUZZ
@given(messages, st.data())
def test_damaged_records_scan_or_fail_as_the_numpy_steps_do(
    msgs: list[list[bytes]], data: st.DataObject
) -> None:
    bodies = [b"".join(m) for m in msgs] or [b""]
    k = data.draw(st.integers(0, len(bodies) - 1))
    body = bytearray(bodies[k])
    action = data.draw(st.sampled_from(["cut", "flip", "append"]))
    if action == "cut" and body:
        del body[data.draw(st.integers(0, len(body) - 1)) :]
    elif action == "flip" and body:
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    else:
        body += data.draw(st.binary(min_size=1, max_size=6))
    bodies[k] = bytes(body)
    compiled, steps = _both(bodies)
    assert compiled == steps


@pytest.mark.parametrize(
    "body",
    [
        b"\x0b\x08\x01\x0c",  # a group (field 1) holding a varint
        b"\x0e\x01",  # wire type 6
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # a 10-byte varint: bits past 64
        b"\x80\x80\x80\x80\x10\x01",  # a tag wider than 32 bits
        b"\x00\x01",  # field number 0
        b"\x12\x05ab",  # a body running past the end
    ],
)
def test_edge_cases_scan_as_the_numpy_steps_do(body: bytes) -> None:
    compiled, steps = _both([b"\x08\x01", body])
    assert compiled == steps
    compiled, steps = _both([b"\x08\x01", body], depth=1)
    assert compiled == steps


def _packed_both(regions: list[bytes]) -> tuple[object, object]:
    """(compiled, numpy) outcome of reading the packed varints of ``regions``."""
    outcomes = []
    for native in (w._native, None):
        saved, w._native = w._native, native
        try:
            buf, starts, ends = w.join(list(regions))
            counts, values = w.varints_in_regions(buf, starts, ends - starts)
            outcomes.append((counts.dtype.str, values.dtype.str, counts.tolist(), values.tolist()))
        except w.WireError as exc:
            outcomes.append(("error", str(exc)))
        finally:
            w._native = saved
    return outcomes[0], outcomes[1]


packed = st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 300), max_size=8).map(
    lambda xs: b"".join(varint(x) for x in xs)
)


@FUZZ
@given(st.lists(packed, max_size=10), st.data())
def test_packed_varints_read_as_the_numpy_reader_does(
    regions: list[bytes], data: st.DataObject
) -> None:
    compiled, steps = _packed_both(regions)
    assert compiled == steps
    if regions and data.draw(st.booleans()):  # damaged: cut, or a run of continuation bytes
        k = data.draw(st.integers(0, len(regions) - 1))
        regions[k] += data.draw(st.sampled_from([b"\x80", b"\xff" * 11 + b"\x01", b"\x81\x01"]))
        compiled, steps = _packed_both(regions)
        assert compiled == steps


def _field_both(bodies: list[bytes], field: int, expected: dict[int, tuple[int, ...]]) -> object:
    """(compiled, numpy) outcome of reading ``field`` of one scanned batch: the first record
    ``expected`` refuses, its scalar, its bodies, its last body, its repeated values."""
    buf, starts, ends = w.join(list(bodies))
    batch = w.scan(buf, starts, ends, "Msg")
    outcomes = []
    for native in (w._native, None):
        saved, w._native = w._native, native
        got: list[object] = []
        try:
            got.append(batch.unexpected(expected))
            s = batch.scalar(field)
            got.append((s.dtype.str, s.tolist()))
            got.append([c.tolist() for c in batch.bodies(field)])
            start, length = batch.last_body(field)
            got.append((start.dtype.str, length.dtype.str, start.tolist(), length.tolist()))
            for fixed in (False, True):
                try:
                    off, values = batch.repeated(field, fixed=fixed)
                    got.append((off.dtype.str, values.dtype.str, off.tolist(), values.tolist()))
                except w.WireError as exc:
                    got.append(("error", str(exc)))
        finally:
            w._native = saved
        outcomes.append(got)
    return outcomes[0], outcomes[1]


layouts = st.dictionaries(
    st.integers(1, 40),
    st.lists(st.sampled_from([w.VARINT, w.LEN, w.FIXED64, w.FIXED32]), min_size=1).map(tuple),
    max_size=6,
)
#: packed fields of one number: varints, fixed64 runs, or bodies of any length
packed_records = st.lists(
    st.builds(_record, st.just(3), st.just(w.LEN), st.just(0), packed | st.binary(max_size=24))
    | st.builds(
        _record,
        st.just(3),
        st.sampled_from([w.VARINT, w.FIXED64]),
        st.integers(0, 2**64 - 1),
        st.just(b""),
    ),
    max_size=5,
)


@FUZZ
@given(st.lists(records | packed_records, max_size=10), st.integers(1, 40), layouts)
def test_fields_read_as_the_numpy_steps_do(
    msgs: list[list[bytes]], field: int, expected: dict[int, tuple[int, ...]]
) -> None:
    """Batch.scalar / .bodies / .last_body / .repeated / .unexpected in C give the numpy
    steps' arrays and errors."""
    bodies = [b"".join(m) for m in msgs]
    compiled, steps = _field_both(bodies, field, expected)
    assert compiled == steps
    compiled, steps = _field_both(bodies, 3, expected)
    assert compiled == steps


@FUZZ
@given(st.lists(st.binary(max_size=20), max_size=12))
def test_bodies_join_as_numpy_joins_them(bodies: list[bytes]) -> None:
    """The compiled join gives the numpy join's padded buffer and bounds."""
    outcomes = []
    for native in (w._native, None):
        saved, w._native = w._native, native
        try:
            buf, starts, ends = w.join(list(bodies))
        finally:
            w._native = saved
        outcomes.append([(a.dtype.str, a.tolist()) for a in (buf, starts, ends)])
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0][1] == list(b"".join(bodies) + bytes(w._PAD))
