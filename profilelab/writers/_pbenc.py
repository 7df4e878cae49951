"""Vectorized protobuf encoding: many small messages at once, with numpy.

A :class:`Blob` holds N encoded records back to back (CSR style: ``data`` bytes and
``offsets`` of length N+1). Writers build each message type field by field, every field
for all records at once, and concatenate the fields record by record with :func:`cat`.
No Python loop runs per record, so encoding a profile with a million samples costs a few
numpy passes (the protobuf runtime would build a million Python message objects).

Encoding follows the protobuf wire format (https://protobuf.dev/programming-guides/encoding/):
a field is a varint tag ``field << 3 | wire_type`` then a varint (wire type 0) or a
varint length and the payload (wire type 2). Negative int64 values take ten bytes
(two's complement as uint64). proto3 scalars equal to zero are omitted, as every
protobuf encoder does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

_U64 = np.uint64
_THRESHOLDS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=_U64)


@dataclass(frozen=True)
class Blob:
    """N encoded records: record i is ``data[offsets[i]:offsets[i + 1]]``."""

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64, length N + 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def tobytes(self) -> bytes:
        return self.data.tobytes()


def empty(n: int) -> Blob:
    """N empty records."""
    return Blob(np.zeros(0, np.uint8), np.zeros(n + 1, np.int64))


def _from_lengths(data: np.ndarray, lengths: np.ndarray) -> Blob:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Blob(data, offsets)


_CHUNK = 1 << 20


def varints(values: np.ndarray) -> Blob:
    """Each value as one varint record (int64 values are encoded as their uint64 bits)."""
    v = np.ascontiguousarray(values).astype(np.int64, copy=False).view(_U64)
    n = len(v)
    if n == 0:
        return empty(0)
    if n > _CHUNK:  # bound the (n, 10) temporaries
        parts = [varints(v[i : i + _CHUNK]) for i in range(0, n, _CHUNK)]
        return _from_lengths(
            np.concatenate([p.data for p in parts]), np.concatenate([p.lengths for p in parts])
        )
    nbytes = 1 + (v[:, None] >= _THRESHOLDS[None, :]).sum(axis=1)
    k = np.arange(10, dtype=_U64)
    groups = ((v[:, None] >> (k * _U64(7))[None, :]) & _U64(0x7F)).astype(np.uint8)
    more = k[None, :].astype(np.int64) < (nbytes[:, None] - 1)
    groups |= np.where(more, np.uint8(0x80), np.uint8(0))
    keep = k[None, :].astype(np.int64) < nbytes[:, None]
    return _from_lengths(groups[keep], nbytes.astype(np.int64))


def cat(*blobs: Blob) -> Blob:
    """Record-wise concatenation: record i of the result is record i of each blob in turn."""
    n = len(blobs[0])
    lengths = [b.lengths for b in blobs]
    total = np.sum(lengths, axis=0) if n else np.zeros(0, np.int64)
    out = _from_lengths(np.empty(int(total.sum()) if n else 0, np.uint8), total)
    start = out.offsets[:-1].copy()
    for b, ln in zip(blobs, lengths, strict=True):
        if len(b.data):
            pos = np.repeat(start - b.offsets[:-1], ln) + np.arange(len(b.data), dtype=np.int64)
            out.data[pos] = b.data
        start += ln
    return out


def gather(blob: Blob, index: np.ndarray) -> Blob:
    """The records at ``index`` (repeats allowed), in that order."""
    index = np.asarray(index, dtype=np.int64)
    lengths = blob.lengths[index]
    out_offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_offsets[1:])
    pos = np.repeat(blob.offsets[:-1][index] - out_offsets[:-1], lengths) + np.arange(
        int(out_offsets[-1]), dtype=np.int64
    )
    return Blob(blob.data[pos], out_offsets)


def group(blob: Blob, owner_offsets: np.ndarray) -> Blob:
    """Join consecutive records into one per owner (``owner_offsets``: CSR over records)."""
    offsets = blob.offsets[np.asarray(owner_offsets, dtype=np.int64)]
    if len(offsets) == 0:
        return empty(0)
    return Blob(blob.data[offsets[0] : offsets[-1]], offsets - offsets[0])


def _tag(field: int, wire: int, n: int) -> Blob:
    tag = varints(np.array([field << 3 | wire], dtype=np.int64))
    return gather(tag, np.zeros(n, dtype=np.int64))


def spread(blob: Blob, present: np.ndarray) -> Blob:
    """Records of ``blob`` placed at the True positions of ``present``; others are empty."""
    lengths = np.zeros(len(present), dtype=np.int64)
    lengths[present] = blob.lengths
    return _from_lengths(blob.data, lengths)


def uint_field(field: int, values: np.ndarray, *, keep_zero: bool = False) -> Blob:
    """A varint field per record; empty where the value is 0 (unless ``keep_zero``)."""
    values = np.asarray(values)
    if keep_zero:
        return cat(_tag(field, 0, len(values)), varints(values))
    present = values != 0
    body = cat(_tag(field, 0, int(present.sum())), varints(values[present]))
    return spread(body, present)


def bytes_field(field: int, payload: Blob, *, keep_empty: bool = False) -> Blob:
    """A length-delimited field per record wrapping ``payload``; empty payloads omitted."""
    lengths = payload.lengths
    body = cat(_tag(field, 2, len(payload)), varints(lengths), payload)
    if keep_empty:
        return body
    present = lengths > 0
    return spread(gather(body, np.nonzero(present)[0]), present)


def packed(field: int, values: np.ndarray, offsets: np.ndarray) -> Blob:
    """A packed repeated varint field per record (values CSR by ``offsets``)."""
    return bytes_field(field, group(varints(values), offsets))


def strings_blob(strings: pa.Array) -> Blob:
    """The UTF-8 bytes of each string of an Arrow string array, one record each."""
    arr = strings.cast(pa.large_string())
    if arr.null_count:
        arr = arr.fill_null("")
    _, offsets_buf, data_buf = arr.buffers()
    n = len(arr)
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    data = data[offsets[0] : offsets[-1]]
    return Blob(np.ascontiguousarray(data), offsets - offsets[0])


def join(*blobs: Blob) -> bytes:
    """All records of all blobs, in order, as one byte string (a message's fields)."""
    return b"".join(b.data.tobytes() for b in blobs)
