"""Arrow arrays over NumPy buffers, handed to Polars without pyarrow.

The model's tables are built from NumPy arrays: numbers as they are, strings as offsets
and bytes, nulls as validity bitmaps, lists as offsets over a child. :class:`Array` holds
such buffers in Arrow's layout and gives them to Polars through the Arrow PyCapsule
interface (:mod:`profilelab.model._cdata`), so neither side copies them and no pyarrow is
imported: loading Arrow's C++ library was a fifth of ``import polars`` on the command
line, and a small profile's report never needs it. Polars' own NumPy conversion is not
used either: it imports ``numpy.ma`` (0.01-0.02 s of CPU) and copies.

Readers of other formats may hand pyarrow arrays over (a RawProfile's string table, its
trace ids); every function here takes them too (read through their buffers, without
importing pyarrow: :func:`adopt`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from profilelab.model import _cdata
from profilelab.model.ranges import ranges

#: From this many strings on, :func:`take_strings` uses Arrow's take when it can.
_ARROW_TAKE_MIN = 1024
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIBBLE_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)  # most significant nibble first
_I32_MAX = np.iinfo(np.int32).max


class Array:
    """One Arrow array: its format (the C data interface's), length, buffers (NumPy arrays
    or None, in Arrow's order: validity first) and named children."""

    __slots__ = ("buffers", "children", "format", "length", "null_count", "offset")

    def __init__(
        self,
        format: str,
        length: int,
        buffers: Sequence[np.ndarray | None],
        children: Sequence[tuple[str, Array]] = (),
        *,
        offset: int = 0,
        null_count: int | None = None,
    ) -> None:
        self.format = format
        self.length = length
        self.buffers = list(buffers)
        self.children = list(children)
        self.offset = offset
        validity = self.buffers[0] if self.buffers else None
        if null_count is None:
            null_count = 0 if validity is None else length - _count_bits(validity, offset, length)
        self.null_count = null_count

    def __len__(self) -> int:
        return self.length

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        return _cdata.export(self)

    def to_pylist(self) -> list[str | None]:
        """The strings of a string array (for the few that Python code reads)."""
        offsets, data = string_buffers(self)
        texts = data.tobytes()
        ok = valid(self).tolist()
        return [
            texts[a:b].decode() if v else None
            for a, b, v in zip(offsets[:-1].tolist(), offsets[1:].tolist(), ok, strict=True)
        ]


def _count_bits(bitmap: np.ndarray, offset: int, length: int) -> int:
    bits = np.unpackbits(bitmap.view(np.uint8), bitorder="little")
    return int(np.count_nonzero(bits[offset : offset + length]))


#: Arrow's format of each NumPy dtype that :func:`numeric` shares without a copy.
_FORMATS = {
    np.dtype(np.int8): "c",
    np.dtype(np.int16): "s",
    np.dtype(np.int32): "i",
    np.dtype(np.int64): "l",
    np.dtype(np.uint8): "C",
    np.dtype(np.uint16): "S",
    np.dtype(np.uint32): "I",
    np.dtype(np.uint64): "L",
    np.dtype(np.float32): "f",
    np.dtype(np.float64): "g",
}
#: pyarrow's names of the types :func:`adopt` reads, and their formats.
_PYARROW_FORMATS = {"string": "u", "large_string": "U", "int64": "l"}


def _validity(valid: np.ndarray | None) -> np.ndarray | None:
    if valid is None or valid.all():
        return None
    return np.packbits(np.asarray(valid, dtype=bool), bitorder="little")


def int64(values: np.ndarray, valid: np.ndarray | None = None) -> Array:
    """An int64 array over ``values`` (null where ``valid`` is False)."""
    return numeric(np.asarray(values, dtype=np.int64), valid)


def numeric(values: np.ndarray, valid: np.ndarray | None = None) -> Array:
    """A one-dimensional NumPy array of numbers or booleans as an Arrow array over its
    memory (a bitmap for booleans; null where ``valid`` is False)."""
    if values.dtype == np.bool_:
        return Array("b", len(values), [_validity(valid), np.packbits(values, bitorder="little")])
    arr = np.ascontiguousarray(values)
    return Array(_FORMATS[arr.dtype], len(arr), [_validity(valid), arr])


def boolean(mask: np.ndarray) -> Array:
    """A boolean array (no nulls) from a numpy bool mask."""
    return numeric(np.asarray(mask, dtype=bool))


def nulls(n: int, format: str = "u") -> Array:
    """``n`` nulls of one type: strings (``"u"``, the default) or int64 (``"l"``)."""
    validity = np.zeros((n + 7) // 8, dtype=np.uint8) if n else None
    if format == "u":
        return Array(
            "u", n, [validity, np.zeros(n + 1, np.int32), np.zeros(0, np.uint8)], null_count=n
        )
    return Array("l", n, [validity, np.zeros(n, np.int64)], null_count=n)


def adopt(arr: Any) -> Array:
    """``arr`` as an :class:`Array`: as it is, or a pyarrow array of strings or int64 read
    through its buffers (no copy, and no pyarrow import here)."""
    if isinstance(arr, Array):
        return arr
    fmt = _PYARROW_FORMATS[str(arr.type)]
    buffers = [None if b is None else np.frombuffer(b, dtype=np.uint8) for b in arr.buffers()]
    return Array(fmt, len(arr), buffers, offset=arr.offset, null_count=arr.null_count)


def with_nulls(arr: Any, valid: np.ndarray) -> Array:
    """``arr`` (which has no nulls) with nulls where ``valid`` is False, sharing its buffers."""
    arr = adopt(arr)
    validity = _validity(valid)
    if validity is None:
        return arr
    return Array(arr.format, arr.length, [validity, *arr.buffers[1:]], offset=arr.offset)


def large_list(offsets: np.ndarray, values: Array) -> Array:
    """A list array (int64 offsets) over ``values``."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    return Array("+L", len(offsets) - 1, [None, offsets], [("item", values)])


def lists(offsets: np.ndarray, values: Array) -> Array:
    """A list array (int32 offsets) over ``values``."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int32)
    return Array("+l", len(offsets) - 1, [None, offsets], [("item", values)])


def struct(fields: Mapping[str, Array]) -> Array:
    """A struct array of equally long fields (no nulls of its own)."""
    n = len(next(iter(fields.values())))
    return Array("+s", n, [None], list(fields.items()))


class _Exported:
    """A pyarrow array seen only through ``__arrow_c_array__`` (Polars would convert a
    pyarrow array with ``pl.from_arrow``, which imports ``pyarrow.compute``)."""

    __slots__ = ("array",)

    def __init__(self, array: Any) -> None:
        self.array = array

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        return self.array.__arrow_c_array__(requested_schema)  # type: ignore[no-any-return]


def series(name: str, arr: Any) -> pl.Series:
    """A Polars Series of ``arr`` (an :class:`Array`, a pyarrow array, or a NumPy array of
    numbers or booleans), sharing its buffers where Polars' layout allows."""
    if isinstance(arr, np.ndarray):
        arr = numeric(arr)
    elif not isinstance(arr, Array):
        arr = _Exported(arr)
    with _cdata.consuming():
        return pl.Series(arr).alias(name)


def frame(columns: Mapping[str, Any]) -> pl.DataFrame:
    """A DataFrame of named columns: Polars Series as they are, the others by :func:`series`."""
    return pl.DataFrame(
        [c.alias(n) if isinstance(c, pl.Series) else series(n, c) for n, c in columns.items()]
    )


def string_array(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None = None) -> Array:
    """A string array of int64 ``offsets`` (from 0) into ``data``; int32 offsets (Arrow's
    ``string``) unless the text needs more."""
    large = int(offsets[-1]) > _I32_MAX
    width = offsets if large else offsets.astype(np.int32)
    return Array("U" if large else "u", len(offsets) - 1, [_validity(valid), width, data])


def to_pyarrow(arr: Array) -> Any:
    """``arr`` as a pyarrow array (same buffers), for the few steps that need Arrow's
    kernels: they import pyarrow themselves."""
    import pyarrow as pa  # only where Arrow's kernels are used

    with _cdata.consuming():
        return pa.array(arr)


def take_strings(arr: Any, index: np.ndarray) -> Array:
    """``arr.take(index)`` of a string array: gathered with numpy, or by Arrow's take when
    ``pyarrow.compute`` is imported already (a batch of inputs imports it; its take of
    100k strings is 15 times faster than a numpy index per byte), and not while another
    thread is still importing it. Same strings either way."""
    index = np.asarray(index, dtype=np.int64)
    compute = sys.modules.get("pyarrow.compute")
    # another thread may be importing it right now: use it only once its import is done
    importing = getattr(getattr(compute, "__spec__", None), "_initializing", False)
    if compute is not None and not importing and len(index) >= _ARROW_TAKE_MIN:
        return adopt(compute.take(to_pyarrow(adopt(arr)), to_pyarrow(int64(index))))
    offsets, data = string_buffers(arr)
    starts = offsets[:-1][index]
    lengths = offsets[1:][index] - starts
    out = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    gathered = data[ranges(starts, lengths)]
    has_nulls = adopt(arr).null_count
    return string_array(out, gathered, valid(arr)[index] if has_nulls else None)


def strings(texts: Sequence[str]) -> Array:
    """A small string array from Python strings."""
    encoded = [t.encode() for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return string_array(offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8))


def text(values: Sequence[str | None]) -> Array:
    """A small string array of Python values (None -> null; others as ``str``)."""
    arr = strings(["" if v is None else str(v) for v in values])
    return with_nulls(arr, np.array([v is not None for v in values], dtype=bool))


def concat_strings(arrays: Sequence[Any]) -> Array:
    """The string arrays one after another (their nulls kept)."""
    parts = [string_buffers(a) for a in arrays]
    used = [data[off[0] : off[-1]] for off, data in parts]
    starts = np.cumsum([0, *map(len, used)])
    offsets = np.concatenate(
        [np.zeros(1, dtype=np.int64)]
        + [off[1:] - off[0] + start for (off, _), start in zip(parts, starts[:-1], strict=True)]
    )
    data = np.concatenate(used) if used else np.zeros(0, np.uint8)
    has_nulls = any(adopt(a).null_count for a in arrays)
    mask = np.concatenate([valid(a) for a in arrays]) if has_nulls else None
    return string_array(offsets, data, mask)


def string_buffers(arr: Any) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets of length n+1, uint8 data) of a string or large_string array."""
    arr = adopt(arr)
    width = np.int64 if arr.format == "U" else np.int32
    n = arr.length
    offsets = arr.buffers[1].view(width)[arr.offset : arr.offset + n + 1]
    data = arr.buffers[2]
    raw = data.view(np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets.astype(np.int64), raw


def string_at(arr: Any, index: int) -> str | None:
    """The string at ``index`` (None where it is null).

    Reads two offsets and one validity bit, not the whole array: a pprof reader looks up
    a dozen header strings per input this way (with :func:`string_reader`)."""
    return string_reader(arr)(index)


def string_reader(arr: Any) -> Callable[[int], str | None]:
    """:func:`string_at` of ``arr`` as a function of the index, its buffers found once
    for many lookups (a fifth of the cost of each lookup: 0.6 instead of 2 us)."""
    arr = adopt(arr)
    n, first = arr.length, arr.offset
    validity = arr.buffers[0] if arr.null_count else None
    offsets = arr.buffers[1].view(np.int64 if arr.format == "U" else np.int32)
    data = arr.buffers[2]
    chars = memoryview(data.view(np.uint8) if data is not None else b"")  # None: all empty

    def at(index: int) -> str | None:
        if not -n <= index < n:
            raise IndexError(f"string index {index} out of range for {n} strings")
        i = first + (index + n if index < 0 else index)
        if validity is not None and not _bit(validity, i):
            return None
        return str(chars[offsets[i] : offsets[i + 1]], "utf-8")

    return at


def _bit(bitmap: np.ndarray, at: int) -> bool:
    """Bit ``at`` of a validity bitmap (Arrow's order: least significant bit first)."""
    return bool((int(bitmap.view(np.uint8)[at >> 3]) >> (at & 7)) & 1)


def valid(arr: Any) -> np.ndarray:
    """Where ``arr`` is not null, as a numpy bool mask (read from its validity bitmap)."""
    arr = adopt(arr)
    bitmap = arr.buffers[0]
    if bitmap is None or arr.null_count == 0:
        return np.ones(arr.length, dtype=bool)
    bits = np.unpackbits(bitmap.view(np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + arr.length].astype(bool)


def hex16(values: np.ndarray) -> Array:
    """Each uint64 as 16 lower-case hex digits (Python's ``f"{v:016x}"``)."""
    v = np.ascontiguousarray(values, dtype=np.uint64)
    digits = _HEX[((v[:, None] >> _NIBBLE_SHIFTS) & np.uint64(15)).astype(np.intp)]
    offsets = np.arange(0, 16 * (len(v) + 1), 16, dtype=np.int64)
    return string_array(offsets, np.ascontiguousarray(digits).reshape(-1))
