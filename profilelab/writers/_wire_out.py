"""Vectorized protobuf wire encoding: N records of one message type at once, with numpy.

A :class:`Segments` is N byte strings stored back to back (``data`` plus per-row
``lengths``). Fields are built as Segments (a tag, a varint, a length-delimited body, or
nothing where a row leaves the field unset) and rows are joined field by field with
:func:`concat_rows`; the cost is a few numpy passes per field, not per record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

U64 = np.uint64
VARINT, FIXED64, LEN = 0, 1, 2


@dataclass
class Segments:
    """N byte strings: row i is ``data[offsets[i]:offsets[i + 1]]``."""

    data: np.ndarray  # uint8
    lengths: np.ndarray  # int64

    @property
    def n(self) -> int:
        return len(self.lengths)

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.lengths) - self.lengths

    def tobytes(self) -> bytes:
        return self.data.tobytes()


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.cumsum(lengths) - lengths
    return np.repeat(starts - offs, lengths) + np.arange(total, dtype=np.int64)


def empty(n: int) -> Segments:
    return Segments(np.zeros(0, dtype=np.uint8), np.zeros(n, dtype=np.int64))


def varints(values: np.ndarray, present: np.ndarray | None = None) -> Segments:
    """Each value as a varint (signed integers as 64-bit two's complement); absent rows empty."""
    v = np.asarray(values)
    v = v.view(U64) if v.dtype == np.int64 else v.astype(U64)
    nbytes = np.ones(len(v), dtype=np.int64)
    for k in range(1, 10):
        nbytes += v >= U64(1) << U64(7 * k)
    if present is not None:
        nbytes = np.where(present, nbytes, 0)
    out = np.zeros(int(nbytes.sum()), dtype=np.uint8)
    start = np.cumsum(nbytes) - nbytes
    for k in range(10):
        rows = np.flatnonzero(nbytes > k)
        if len(rows) == 0:
            break
        byte = (v[rows] >> U64(7 * k)) & U64(0x7F)
        more = (nbytes[rows] > k + 1).astype(U64) << U64(7)
        out[start[rows] + k] = (byte | more).astype(np.uint8)
    return Segments(out, nbytes)


def tag_bytes(field: int, wire: int) -> bytes:
    return varints(np.array([(field << 3) | wire], dtype=np.int64)).tobytes()


def constant(payload: bytes, present: np.ndarray) -> Segments:
    """The same bytes in every present row."""
    raw = np.frombuffer(payload, dtype=np.uint8)
    count = int(present.sum())
    return Segments(np.tile(raw, count), np.where(present, len(raw), 0).astype(np.int64))


def concat_rows(*parts: Segments) -> Segments:
    """Row i of the result is row i of every part, joined in order."""
    n = parts[0].n
    lengths = np.zeros(n, dtype=np.int64)
    for p in parts:
        lengths += p.lengths
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    cursor = np.cumsum(lengths) - lengths
    for p in parts:
        out[_ranges(cursor, p.lengths)] = p.data
        cursor = cursor + p.lengths
    return Segments(out, lengths)


def varint_field(field: int, values: np.ndarray, present: np.ndarray | None = None) -> Segments:
    """A varint field; proto3 leaves zero values out (``present`` defaults to ``values != 0``)."""
    present = np.asarray(values) != 0 if present is None else present
    return concat_rows(constant(tag_bytes(field, VARINT), present), varints(values, present))


def len_field(field: int, body: Segments, present: np.ndarray | None = None) -> Segments:
    """A length-delimited field wrapping each row of ``body`` (left out where not present)."""
    present = body.lengths > 0 if present is None else present
    kept = _keep(body, present)
    return concat_rows(
        constant(tag_bytes(field, LEN), present), varints(body.lengths, present), kept
    )


def _keep(seg: Segments, present: np.ndarray) -> Segments:
    if present.all():
        return seg
    lengths = np.where(present, seg.lengths, 0)
    return Segments(seg.data[_ranges(seg.starts[present], seg.lengths[present])], lengths)


def packed_varints(offsets: np.ndarray, values: np.ndarray) -> Segments:
    """Each row's values (CSR) as a packed varint body."""
    enc = varints(values)
    csum = np.concatenate(([0], np.cumsum(enc.lengths)))
    return Segments(enc.data, (csum[offsets[1:]] - csum[offsets[:-1]]).astype(np.int64))


def packed_fixed64(offsets: np.ndarray, values: np.ndarray) -> Segments:
    data = np.ascontiguousarray(np.asarray(values).astype("<u8")).view(np.uint8)
    return Segments(data, 8 * np.diff(offsets).astype(np.int64))


def strings(values: pa.Array) -> Segments:
    """UTF-8 bytes of each string (null as empty)."""
    arr = values.cast(pa.large_string()).fill_null("")
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return Segments(data[offsets[0] : offsets[-1]].copy(), np.diff(offsets).astype(np.int64))


def field_bytes(field: int, payload: bytes) -> bytes:
    """One length-delimited field (for the few small messages assembled in Python)."""
    return (
        tag_bytes(field, LEN)
        + varints(np.array([len(payload)], dtype=np.int64)).tobytes()
        + payload
    )


def repeated(field: int, body: Segments) -> bytes:
    """Every row of ``body`` as one record of a repeated length-delimited field (empty rows too)."""
    return len_field(field, body, np.ones(body.n, dtype=bool)).tobytes()
