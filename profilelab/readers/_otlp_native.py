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

# The kernel's integer columns, in its order (enum col of _otlpwire.c), and their dtypes.
_DICTIONARY = (
    ("mapping_start", np.uint64),
    ("mapping_limit", np.uint64),
    ("mapping_offset", np.uint64),
    ("mapping_file", np.int64),
    ("mapping_attr_offsets", np.int64),
    ("mapping_attrs", np.int64),
    ("location_mapping", np.int64),
    ("location_address", np.uint64),
    ("location_attr_offsets", np.int64),
    ("location_attrs", np.int64),
    ("line_offsets", np.int64),
    ("line_function", np.int64),
    ("line_line", np.int64),
    ("line_column", np.int64),
    ("function_name", np.int64),
    ("function_system_name", np.int64),
    ("function_file", np.int64),
    ("function_start_line", np.int64),
    ("stack_offsets", np.int64),
    ("stack_locations", np.int64),
)
_N_COLUMNS = len(_DICTIONARY) + 10  # + link id lengths (2) + sample columns (8)


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
    parts, at = [], 0
    for n in lengths:
        parts.append(at)
        at += n
    parts.append(at)

    def column(k: int, signed: bool = True) -> np.ndarray:
        return (i if signed else u)[parts[k] : parts[k + 1]]

    d = Dictionary()
    for k, (name, dtype) in enumerate(_DICTIONARY):
        setattr(d, name, column(k, dtype is np.int64))
    if strings is not None:
        n = len(string_offsets) // 4 - 1
        d.strings = pa.StringArray.from_buffers(
            n, pa.py_buffer(string_offsets), pa.py_buffer(strings)
        )
    k = len(_DICTIONARY)
    d.link_trace_id = _ids(trace_raw, column(k))
    d.link_span_id = _ids(span_raw, column(k + 1))
    d.attributes = [Attribute(*a) for a in attributes]
    samples = [column(k) for k in range(k + 2, _N_COLUMNS)]
    entries = [_entry(p, samples) for p in profiles]
    scope_lists = [[Scope(*sc) for sc in per_resource] for per_resource in scopes]
    return Payload(version, d, resources, scope_lists, entries)


def _ids(raw: bytes, lengths: np.ndarray) -> pa.Array:
    """Id bytes as hex strings, as _otlp_binary._hex_ids makes them."""
    if not lengths.any():
        return pa.nulls(len(lengths), pa.string())
    return hex_strings(np.frombuffer(raw, dtype=np.uint8), lengths)


def _entry(p: tuple[Any, ...], samples: list[np.ndarray]) -> ProfileEntry:
    (res, scope, pos, st_type, st_unit, pt_type, pt_unit, time_ns, duration, period) = p[:10]
    pid, payload_format, payload, attributes, a, b = p[10:]
    e = ProfileEntry(res, scope, pos)
    e.sample_type, e.period_type = (st_type, st_unit), (pt_type, pt_unit)
    e.time_ns, e.duration_ns, e.period = time_ns, duration, period
    e.profile_id = pid.hex() if pid and any(pid) else ""
    e.payload_format, e.payload, e.attributes = payload_format, payload, attributes
    stack, link, attr_off, attrs, value_off, values, time_off, times = samples
    a_off, a_val = csr_rows(attr_off, attrs, a, b)
    v_off, v_val = csr_rows(value_off, values, a, b)
    t_off, t_val = csr_rows(time_off, times, a, b)
    e.samples = Samples(stack[a:b], a_off, a_val, link[a:b], v_off, v_val, t_off, t_val)
    return e
