"""Arrow arrays to and from numpy without copies.

These build arrays from buffers instead of calling ``pa.array``, which both copies and
imports pandas (a tenth of a second) on first use, and they avoid ``pyarrow.compute``
(``Array.take``, ``cast``, ``if_else``, and Polars' own ``from_arrow`` import it: 0.06 s of
CPU, a sixth of ``profilelab top`` on a small profile): :func:`take_strings` gathers with
numpy, :func:`with_nulls` sets a validity bitmap, :func:`series` and :func:`frame` hand
arrays to Polars through the Arrow PyCapsule interface. NumPy arrays go the same way:
Polars' own conversion of a NumPy array imports ``numpy.ma`` (0.01-0.02 s of CPU) and
copies it, where Arrow's buffers are taken as they are.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from profilelab.model.ranges import ranges

#: From this many strings on, :func:`take_strings` uses Arrow's take when it can.
_ARROW_TAKE_MIN = 1024
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIBBLE_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)  # most significant nibble first


def _validity(valid: np.ndarray | None) -> pa.Buffer | None:
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(np.asarray(valid, dtype=bool), bitorder="little"))


def int64(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An int64 array over ``values`` (null where ``valid`` is False)."""
    return numeric(np.asarray(values, dtype=np.int64), valid)


#: The Arrow type of each NumPy dtype that :func:`numeric` shares without a copy.
_TYPES = {
    np.dtype(np.int8): pa.int8(),
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.uint8): pa.uint8(),
    np.dtype(np.uint16): pa.uint16(),
    np.dtype(np.uint32): pa.uint32(),
    np.dtype(np.uint64): pa.uint64(),
    np.dtype(np.float32): pa.float32(),
    np.dtype(np.float64): pa.float64(),
}


def numeric(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A one-dimensional NumPy array of numbers or booleans as an Arrow array over its
    memory (a bitmap for booleans; null where ``valid`` is False)."""
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(
            pa.bool_(), len(values), [_validity(valid), pa.py_buffer(bits)]
        )
    arr = np.ascontiguousarray(values)
    kind = _TYPES[arr.dtype]
    return pa.Array.from_buffers(kind, len(arr), [_validity(valid), pa.py_buffer(arr)])


def with_nulls(arr: pa.Array, valid: np.ndarray) -> pa.Array:
    """``arr`` (which has no nulls) with nulls where ``valid`` is False, sharing its buffers."""
    validity = _validity(valid)
    if validity is None:
        return arr
    buffers = arr.buffers()
    return pa.Array.from_buffers(arr.type, len(arr), [validity, *buffers[1:]], offset=arr.offset)


class _Exported:
    """An Arrow array seen only through ``__arrow_c_array__`` (the PyCapsule interface)."""

    __slots__ = ("array",)

    def __init__(self, array: pa.Array) -> None:
        self.array = array

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        return self.array.__arrow_c_array__(requested_schema)


def series(name: str, arr: pa.Array | np.ndarray) -> pl.Series:
    """A Polars Series of ``arr`` (an Arrow array, or a NumPy array of numbers or booleans),
    without ``pl.from_arrow`` (which imports ``pyarrow.compute``) and without Polars' NumPy
    conversion (which imports ``numpy.ma``)."""
    if isinstance(arr, np.ndarray):
        arr = numeric(arr)
    return pl.Series(_Exported(arr)).alias(name)


def frame(columns: Mapping[str, pl.Series | pa.Array | np.ndarray]) -> pl.DataFrame:
    """A DataFrame of named columns: Polars Series as they are, the others by :func:`series`."""
    return pl.DataFrame(
        [c.alias(n) if isinstance(c, pl.Series) else series(n, c) for n, c in columns.items()]
    )


def take_strings(arr: pa.Array, index: np.ndarray) -> pa.Array:
    """``arr.take(index)`` of a string array: gathered with numpy, or by Arrow's take when
    ``pyarrow.compute`` is imported already (a batch of inputs imports it; its take of
    100k strings is 15 times faster than a numpy index per byte), and not while another
    thread is still importing it. Same strings either way."""
    index = np.asarray(index, dtype=np.int64)
    compute = sys.modules.get("pyarrow.compute")
    # another thread may be importing it right now: use it only once its import is done
    importing = getattr(getattr(compute, "__spec__", None), "_initializing", False)
    if compute is not None and not importing and len(index) >= _ARROW_TAKE_MIN:
        return compute.take(arr, int64(index))
    offsets, data = string_buffers(arr)
    starts = offsets[:-1][index]
    lengths = offsets[1:][index] - starts
    out = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    gathered = data[ranges(starts, lengths)]
    large = int(out[-1]) > np.iinfo(np.int32).max
    kind = pa.large_string() if large else pa.string()
    width = out if large else out.astype(np.int32)
    out_arr = pa.Array.from_buffers(
        kind, len(index), [None, pa.py_buffer(width), pa.py_buffer(gathered)]
    )
    return with_nulls(out_arr, valid(arr)[index]) if arr.null_count else out_arr


def boolean(mask: np.ndarray) -> pa.Array:
    """A boolean array (no nulls) from a numpy bool mask."""
    return numeric(np.asarray(mask, dtype=bool))


def strings(texts: Sequence[str]) -> pa.Array:
    """A small string array from Python strings."""
    encoded = [t.encode() for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), data])


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets of length n+1, uint8 data) of a string or large_string array."""
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    buffers = arr.buffers()
    n = len(arr)
    offsets = np.frombuffer(buffers[1], dtype=width)[arr.offset : arr.offset + n + 1]
    data = buffers[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets.astype(np.int64), raw


def valid(arr: pa.Array) -> np.ndarray:
    """Where ``arr`` is not null, as a numpy bool mask (read from its validity bitmap)."""
    bitmap = arr.buffers()[0]
    if bitmap is None or arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + len(arr)].astype(bool)


def hex16(values: np.ndarray) -> pa.Array:
    """Each uint64 as 16 lower-case hex digits (Python's ``f"{v:016x}"``)."""
    v = np.ascontiguousarray(values, dtype=np.uint64)
    digits = _HEX[((v[:, None] >> _NIBBLE_SHIFTS) & np.uint64(15)).astype(np.intp)]
    large = 16 * (len(v) + 1) > np.iinfo(np.int32).max
    offsets = np.arange(0, 16 * (len(v) + 1), 16, dtype=np.int64 if large else np.int32)
    data = pa.py_buffer(np.ascontiguousarray(digits).reshape(-1))
    kind = pa.large_string() if large else pa.string()
    return pa.Array.from_buffers(kind, len(v), [None, pa.py_buffer(offsets), data])
