"""The pprof decode: a kernel's arrays wrapped into a RawProfile.

:mod:`profilelab._native._pprof` does the heavy part in C (wire format, id resolution,
exact deduplication of location sequences) and returns owned buffers;
:mod:`profilelab.readers._pprof_wire` returns the same dict computed with numpy, for
installs without a compiler. This module wraps either with ``np.frombuffer`` /
``model._arrow.Array`` (no copies) and runs the string-index checks, so both decoders
report the same problem in the same words, in the order of the test oracle
(``tests/pprof_reference.py``, the protobuf runtime).
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from profilelab.errors import FormatError
from profilelab.model import _arrow
from profilelab.model.raw import RawProfile
from profilelab.readers._pprof_common import Header, Strings, apply_header, check_first_string

_kernel: ModuleType | None
try:
    from profilelab._native import _pprof as _kernel
except ImportError:  # not built (no C compiler at install time): the numpy decoder is used
    _kernel = None

_I64 = np.dtype(np.int64)
_U64 = np.dtype(np.uint64)
_BOOL = np.dtype(np.bool_)


def available() -> bool:
    """Whether the compiled decoder was built and imports."""
    return _kernel is not None


def decode(data: bytes, name: str, *, compiled: bool = True, threads: int = 0) -> RawProfile:
    """Decode a raw pprof message (not gzipped) with the compiled kernel, or with the numpy
    one (``compiled=False``). ``threads`` is the compiled kernel's: 0 decodes the samples
    of a big message on two threads, 1 or 2 forces that many (the result is the same)."""
    kernel: Any = _kernel
    if not compiled:
        from profilelab.readers import _pprof_wire as kernel  # imported when used: protobuf
    elif kernel is None:
        raise RuntimeError("profilelab._native._pprof is not built")
    try:
        out = kernel.decode(data, threads=threads) if compiled else kernel.decode(data)
    except kernel.WireError as exc:
        raise FormatError(f"{name}: not a pprof profile (protobuf decode failed: {exc})") from None
    table = _strings(out)
    check_first_string(table, name)
    s = Strings(table, name)
    s.all_in_range = out["error"] is None and _indices_in_range(out, s.n)
    header = SimpleNamespace()  # the fields, checked in oracle order, then one RawProfile:
    apply_header(header, _header(out), s, out["n_samples"])  # its 29 default arrays unmade
    arrays = _arrays(out, _MAPPINGS, s) | _arrays(out, _FUNCTIONS, s)
    if out["error"] is not None:  # ids and value counts, found by the kernel, in oracle order
        raise FormatError(f"{name}: {out['error']}")
    arrays |= _arrays(out, _LOCATIONS, s) | _samples(out, s, len(header.sample_types))
    return RawProfile(source=name, format="pprof", strings=table, **vars(header), **arrays)


def _indices_in_range(out: dict[str, Any], n: int) -> bool:
    """Whether every string index of ``out`` is in range: below ``n`` read as unsigned
    (negative ones are past any table); when one is not, the checks of each array, in the
    oracle's order, name the first bad one. (Only without a kernel error: the numpy kernel
    gives no sample arrays then.) The compiled kernel gives the largest index
    (``string_index_max``); else :func:`indices_in_range_each` looks."""
    top = out.get("string_index_max")
    return indices_in_range_each(out, n) if top is None else top < n


def indices_in_range_each(out: dict[str, Any], n: int) -> bool:
    """:func:`_indices_in_range` in one reduction per array (the arrays are not joined
    first: a big profile's label indices are 14 MB to copy)."""
    arrays = (np.frombuffer(out[key], dtype=_U64) for key in _STRING_INDICES)
    return all(not len(a) or int(a.max()) < n for a in arrays)


def _arr(out: dict[str, Any], key: str, dtype: np.dtype) -> np.ndarray:
    return np.frombuffer(out[key], dtype=dtype)


def _strings(out: dict[str, Any]) -> _arrow.Array:
    large = out["strings_large"]
    offsets = np.frombuffer(out["strings_offsets"], dtype=np.int64 if large else np.int32)
    data = np.frombuffer(out["strings_data"], dtype=np.uint8)
    return _arrow.Array("U" if large else "u", len(offsets) - 1, [None, offsets, data])


def _header(out: dict[str, Any]) -> Header:
    pairs = _arr(out, "sample_types", _I64).tolist()  # (type, unit) string indices
    return Header(
        sample_types=list(zip(pairs[0::2], pairs[1::2], strict=True)),
        default_sample_type=out["default_sample_type"],
        period_type=out["period_type"],
        period=out["period"],
        time_nanos=out["time_nanos"],
        duration_nanos=out["duration_nanos"],
        drop_frames=out["drop_frames"],
        keep_frames=out["keep_frames"],
        comments=_arr(out, "comments", _I64).tolist(),
        doc_url=out["doc_url"],
    )


#: The arrays of each part of the message: (key, dtype, the name of its string indices in
#: an error, or None when they are not string indices), in the oracle's order of checks.
_MAPPINGS = (
    ("mapping_start", _U64, None),
    ("mapping_limit", _U64, None),
    ("mapping_offset", _U64, None),
    ("mapping_file", _I64, "mapping file"),
    ("mapping_build_id", _I64, "mapping build id"),
    ("mapping_has_functions", _BOOL, None),
    ("mapping_has_filenames", _BOOL, None),
    ("mapping_has_line_numbers", _BOOL, None),
    ("mapping_has_inline_frames", _BOOL, None),
)
_FUNCTIONS = (
    ("function_name", _I64, "function name"),
    ("function_system_name", _I64, "function system name"),
    ("function_file", _I64, "function file"),
    ("function_start_line", _I64, None),
)
_LOCATIONS = (
    ("location_mapping", _I64, None),
    ("location_address", _U64, None),
    ("location_folded", _BOOL, None),
    ("line_offsets", _I64, None),
    ("line_function", _I64, None),
    ("line_line", _I64, None),
    ("line_column", _I64, None),
)
_SAMPLES = (
    ("sample_stack", _I64, None),
    ("stack_offsets", _I64, None),
    ("stack_locations", _I64, None),
    ("label_offsets", _I64, None),
    ("label_key", _I64, "label key"),
    ("label_str", _I64, "label value"),
    ("label_num", _I64, None),
    ("label_unit", _I64, "label unit"),
)


#: The arrays of string indices, which :func:`_indices_in_range` checks at once.
_STRING_INDICES = tuple(
    key for part in (_MAPPINGS, _FUNCTIONS, _SAMPLES) for key, _, what in part if what is not None
)


def _arrays(
    out: dict[str, Any], fields: tuple[tuple[str, np.dtype, str | None], ...], s: Strings
) -> dict[str, Any]:
    """The RawProfile fields ``fields`` of ``out``, string indices checked in order."""
    got = {}
    for key, dtype, what in fields:
        arr = _arr(out, key, dtype)
        got[key] = arr if what is None else s.check_all(arr, what)
    return got


def _samples(out: dict[str, Any], s: Strings, n_types: int) -> dict[str, Any]:
    values = _arr(out, "values", _I64).reshape(out["n_samples"], n_types)
    return {"values": values, **_arrays(out, _SAMPLES, s)}
