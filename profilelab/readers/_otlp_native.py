"""Binary OTLP profiles through the compiled walker: its parts assembled into a Payload.

:mod:`profilelab._native._otlpwire` walks a whole request in one call and returns the
integer columns in one buffer, the string table as Arrow buffers and the attribute values
as Python objects. This module slices and wraps them (no copies) into exactly the Payload
that the NumPy walker (:mod:`profilelab.readers._otlp_binary`) builds. The kernel returns
None for anything it does not read plainly (malformed data, another schema layout, invalid
UTF-8, ...); :func:`decode` does too, and the caller runs the NumPy walker, which reads the
payload or raises its error. tests/test_otlp_native.py holds the two to the same result.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.readers._otlp_payload import (
    EMPTY_STRING,
    Attribute,
    Dictionary,
    Payload,
    ProfileEntry,
    Samples,
    Scope,
    csr_rows,
    hex_strings,
)

_kernel: ModuleType | None
try:
    from profilelab._native import _otlpwire as _kernel
except ImportError:  # not built (no C compiler at install time): the NumPy walker only
    _kernel = None

_U64 = np.uint64
#: The kernel's integer columns in its order (enum col of _otlpwire.c) with their dtypes:
#: the dictionary's, the links' id lengths, then the payload's sample columns.
_DICTIONARY: dict[str, Any] = {
    "mapping_start": _U64,
    "mapping_limit": _U64,
    "mapping_offset": _U64,
    "mapping_file": np.int64,
    "mapping_attr_offsets": np.int64,
    "mapping_attrs": np.int64,
    "location_mapping": np.int64,
    "location_address": _U64,
    "location_attr_offsets": np.int64,
    "location_attrs": np.int64,
    "line_offsets": np.int64,
    "line_function": np.int64,
    "line_line": np.int64,
    "line_column": np.int64,
    "function_name": np.int64,
    "function_system_name": np.int64,
    "function_file": np.int64,
    "function_start_line": np.int64,
    "stack_offsets": np.int64,
    "stack_locations": np.int64,
}
_REST = (
    *("trace_id_length", "span_id_length"),
    *("stack", "link", "attr_offsets", "attrs", "value_offsets", "values"),
    *("time_offsets", "times"),
)
_COLUMNS = [*_DICTIONARY.items(), *((name, np.int64) for name in _REST)]


def available() -> bool:
    """Whether the compiled walker was built and imports."""
    return _kernel is not None


def decode(data: bytes) -> Payload | None:
    """The payload, or None when the compiled walker is absent or leaves it to NumPy."""
    if _kernel is None:
        return None
    got = _kernel.decode(data)
    if got is None:
        return None
    version, cols, lengths, strings, string_offsets = got[:5]
    trace_raw, span_raw, attributes, resources, scopes, profiles = got[5:]
    u = np.frombuffer(cols, dtype=np.uint64)
    i = u.view(np.int64)
    columns, at = [], 0
    for (_, dtype), n in zip(_COLUMNS, lengths, strict=True):
        columns.append((u if dtype is _U64 else i)[at : at + n])
        at += n
    fields = dict(zip(_DICTIONARY, columns, strict=False))
    k = len(_DICTIONARY)
    d = Dictionary(
        strings=_strings(strings, string_offsets),
        attributes=[Attribute(*a) for a in attributes],
        link_trace_id=_ids(trace_raw, columns[k]),
        link_span_id=_ids(span_raw, columns[k + 1]),
        **fields,
    )
    samples = columns[k + 2 :]
    entries = [_entry(p, samples) for p in profiles]
    scope_lists = [[Scope(*sc) for sc in per_resource] for per_resource in scopes]
    return Payload(version, d, resources, scope_lists, entries)


def _strings(data: bytes | None, offsets: bytearray | None) -> pa.Array:
    if data is None or offsets is None:  # no table: the one empty string
        return EMPTY_STRING
    n = len(offsets) // 4 - 1
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _ids(raw: bytes, lengths: np.ndarray) -> pa.Array:
    """Id bytes as hex strings, as _otlp_binary._hex_ids makes them."""
    if not np.count_nonzero(lengths):  # the usual links table: its zero entry alone
        return pa.nulls(len(lengths), pa.string())
    return hex_strings(np.frombuffer(raw, dtype=np.uint8), lengths)


def _entry(p: tuple[Any, ...], samples: list[np.ndarray]) -> ProfileEntry:
    (res, scope, pos, st_type, st_unit, pt_type, pt_unit, time_ns, duration, period) = p[:10]
    pid, payload_format, payload, attributes, a, b = p[10:]
    stack, link, attr_off, attrs, value_off, values, time_off, times = samples
    a_off, a_val = csr_rows(attr_off, attrs, a, b)
    v_off, v_val = csr_rows(value_off, values, a, b)
    t_off, t_val = csr_rows(time_off, times, a, b)
    return ProfileEntry(  # every field given: no default arrays made to be replaced
        res,
        scope,
        pos,
        sample_type=(st_type, st_unit),
        period_type=(pt_type, pt_unit),
        period=period,
        time_ns=time_ns,
        duration_ns=duration,
        profile_id=pid.hex() if pid and any(pid) else "",
        attributes=attributes,
        comments=[],  # v1.8 only: the compiled walker leaves v1.8 Profiles to NumPy
        payload_format=payload_format,
        payload=payload,
        samples=Samples(stack[a:b], a_off, a_val, link[a:b], v_off, v_val, t_off, t_val),
    )


def used(n: int, refs: np.ndarray, drop_zero: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """_otlp_raw._used in C (one call instead of five NumPy steps); None without it."""
    if _kernel is None:
        return None
    got = _kernel.used(n, np.ascontiguousarray(refs, dtype=np.int64), drop_zero)
    if got is None:
        return None
    return np.frombuffer(got[0], dtype=np.int64), np.frombuffer(got[1], dtype=np.int64)


def rows(offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """_otlp_raw._rows in C (one call instead of a dozen NumPy steps); None without it."""
    if _kernel is None:
        return None
    got = _kernel.rows(
        np.ascontiguousarray(offsets, dtype=np.int64), np.ascontiguousarray(keep, dtype=np.int64)
    )
    if got is None:
        return None
    return np.frombuffer(got[0], dtype=np.int64), np.frombuffer(got[1], dtype=np.int64)
