"""Vectorized protobuf encoding: many small messages at once, with numpy. The one encoder
of the pprof and OTLP writers (the readers' decoder is :mod:`profilelab.readers._wire`).

A :class:`Blob` holds N encoded records back to back (CSR style: ``data`` bytes and
``offsets`` of length N+1). Writers build each message type field by field, every field
for all records at once, and concatenate the fields record by record with :func:`cat`.
No Python loop runs per record, so encoding a profile with a million samples costs a few
numpy passes (the protobuf runtime would build a million Python message objects). The few
small messages around them (headers, resources) are :func:`field` wrappers around bytes.

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
import pyarrow.compute as pc

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


def from_lengths(data: np.ndarray, lengths: np.ndarray) -> Blob:
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
        return from_lengths(
            np.concatenate([p.data for p in parts]), np.concatenate([p.lengths for p in parts])
        )
    nbytes = np.ones(n, dtype=np.int64)
    for threshold in _THRESHOLDS:
        nbytes += v >= threshold
    width = int(nbytes.max())  # only as many 7-bit groups as the largest value needs
    k = np.arange(width, dtype=_U64)
    groups = ((v[:, None] >> (k * _U64(7))[None, :]) & _U64(0x7F)).astype(np.uint8)
    kk = k[None, :].astype(np.int64)
    groups[kk < (nbytes[:, None] - 1)] |= np.uint8(0x80)
    return from_lengths(groups[kk < nbytes[:, None]], nbytes)


def fixed64s(values: np.ndarray) -> Blob:
    """Each value as one 8-byte little-endian record (int64 as its uint64 bits)."""
    data = np.ascontiguousarray(np.asarray(values).astype("<u8", copy=False)).view(np.uint8)
    return from_lengths(data, np.full(len(values), 8, dtype=np.int64))


def _arrow(blob: Blob) -> pa.LargeBinaryArray:
    """The records as an Arrow large_binary array (zero-copy)."""
    offsets = pa.py_buffer(np.ascontiguousarray(blob.offsets, dtype=np.int64))
    data = pa.py_buffer(np.ascontiguousarray(blob.data, dtype=np.uint8))
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(blob), [None, offsets, data])


def _blob(arr: pa.Array) -> Blob:
    """An Arrow large_binary array's records as a Blob (zero-copy)."""
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return Blob(data[offsets[0] : offsets[-1]], offsets - offsets[0])


_NO_SEPARATOR = pa.scalar(b"", pa.large_binary())


def cat(*blobs: Blob) -> Blob:
    """Record-wise concatenation: record i of the result is record i of each blob in turn.

    Arrow's C++ kernels do the byte copying (an order of magnitude faster than numpy
    index arithmetic per byte)."""
    if len(blobs) == 1:
        return blobs[0]
    if len(blobs[0]) == 0:
        return empty(0)
    return _blob(pc.binary_join_element_wise(*map(_arrow, blobs), _NO_SEPARATOR))


def gather(blob: Blob, index: np.ndarray) -> Blob:
    """The records at ``index`` (repeats allowed), in that order."""
    index = np.asarray(index, dtype=np.int64)
    if len(index) == 0:
        return empty(0)
    return _blob(_arrow(blob).take(pa.array(index)))


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
    return from_lengths(blob.data, lengths)


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


def repeated(field: int, records: Blob) -> bytes:
    """Every record as one occurrence of a repeated message field, empty ones included."""
    return bytes_field(field, records, keep_empty=True).tobytes()


def wrap(number: int, payload: bytes) -> bytes:
    """One length-delimited field around ``payload`` (a small message built in Python)."""
    return varints(np.array([number << 3 | 2, len(payload)], dtype=np.int64)).tobytes() + payload


def join(*blobs: Blob) -> bytes:
    """All records of all blobs, in order, as one byte string (a message's fields)."""
    return b"".join(b.data.tobytes() for b in blobs)
