"""The pprof decode without a compiler: the compiled kernel's output, computed with numpy.

:func:`decode` returns the same dict as :func:`profilelab._native._pprof.decode` (flat
arrays, the first id or value-count problem as ``error``), so :mod:`profilelab.readers.
_pprof_native` turns either into the same RawProfile with the same checks and words. No
Python loop runs per sample or per location:

- the C protobuf runtime splits the Profile into its records (a shadow message whose
  message fields are ``repeated bytes``, so nothing below the top level is parsed there);
- :mod:`profilelab.readers._wire` decodes all records of one message type at once, with
  upb's wire rules and unknown groups skipped as the compiled kernel does
  (``_native/pprof_wire.h``);
- ids are resolved with sorted arrays and equal stacks numbered by an exact group-by.

Wire errors raise :class:`WireError`, described in this decoder's own words; id and
value-count problems are reported in the compiled kernel's order and words.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from google.protobuf.message import DecodeError

from profilelab.readers import _wire as w
from profilelab.readers._pprof_common import reserved_id_message
from profilelab.readers._stacks import distinct_sequences

WireError = w.WireError

_LEN_FIELDS = (1, 2, 3, 4, 5, 6, 11)  # sample_type, sample, mapping, location, function,
# string_table, period_type: split into records here, decoded as batches below
_SCALARS = {7: "drop_frames", 8: "keep_frames", 9: "time_nanos", 10: "duration_nanos"}
_SCALARS |= {12: "period", 14: "default_sample_type", 15: "doc_url"}
_Profile = w.shadow_class(
    "PprofProfile",
    {f: (w.BYTES, w.REPEATED) for f in _LEN_FIELDS}
    | {f: (w.INT64, w.OPTIONAL) for f in _SCALARS}
    | {13: (w.INT64, w.REPEATED)},  # comment
)

Fields = dict[int, tuple[int, ...]]  # field number -> the wire types it is read with
V: tuple[int, ...] = (w.VARINT,)
L: tuple[int, ...] = (w.LEN,)
_VALUE_TYPE: Fields = {1: V, 2: V}
_MAPPING: Fields = {f: V for f in range(1, 11)}
_FUNCTION: Fields = {f: V for f in range(1, 6)}
_LOCATION: Fields = {1: V, 2: V, 3: V, 4: L, 5: V}
_LINE: Fields = {1: V, 2: V, 3: V}
_SAMPLE: Fields = {1: V + L, 2: V + L, 3: L}
_LABEL: Fields = {1: V, 2: V, 3: V, 4: V}

_I64, _U64 = np.int64, np.uint64


def decode(data: bytes) -> dict[str, Any]:
    """A raw (not gzipped) pprof message as flat arrays; see the module docstring."""
    try:
        msg = _Profile.FromString(data)
    except (DecodeError, RecursionError) as exc:
        raise WireError(f"Profile: {exc}") from None
    out: dict[str, Any] = {key: getattr(msg, f"f{f}") for f, key in _SCALARS.items()}
    out["comments"] = np.array(msg.f13, dtype=_I64)
    out.update(_strings(list(msg.f6)))
    vt = _batch(list(msg.f1), "ValueType", 1, _VALUE_TYPE)
    out["sample_types"] = np.column_stack([vt.scalar(1), vt.scalar(2)]).astype(_I64).ravel()
    period = _batch(list(msg.f11), "period_type", 1, _VALUE_TYPE)
    out["period_type"] = (_merged(period, 1), _merged(period, 2))
    mapping_id = _mappings(_batch(list(msg.f3), "Mapping", 1, _MAPPING), out)
    function_id = _functions(_batch(list(msg.f5), "Function", 1, _FUNCTION), out)
    location = _batch(list(msg.f4), "Location", 1, _LOCATION)
    location_id = location.scalar(1)
    line_owner, starts, ends = location.bodies(4)
    line = w.scan(location.buf, starts, ends, "Line", depth=2).only(_LINE)
    samples = _batch(list(msg.f2), "Sample", 1, _SAMPLE)
    label_owner, starts, ends = samples.bodies(3)
    label = w.scan(samples.buf, starts, ends, "Label", depth=2).only(_LABEL)
    value_offsets, values = samples.repeated(2)  # wire errors first: they win over the rest
    stack_offsets, stack_ids = samples.repeated(1)
    out["n_samples"] = samples.n

    error = _ids(mapping_id, "mapping") or _ids(function_id, "function")
    if error is None:
        error = _locations(location, location_id, line, line_owner, mapping_id, function_id, out)
    error = error or _ids(location_id, "location")
    if error is None:
        n_types = len(out["sample_types"]) // 2
        positions = _lookup(location_id, stack_ids)
        error = _sample_error(value_offsets, stack_offsets, stack_ids, positions, n_types)
    out["error"] = error
    if error is None:
        out["values"] = values.view(_I64)
        sample_stack, offsets, locations = distinct_sequences(stack_offsets, positions)
        out.update(sample_stack=sample_stack, stack_offsets=offsets, stack_locations=locations)
        out["label_offsets"] = _offsets(label_owner, samples.n)
        for f, key in enumerate(("label_key", "label_str", "label_num", "label_unit"), 1):
            out[key] = label.scalar(f).view(_I64)
    return out


def _batch(bodies: list[bytes], what: str, depth: int, fields: Fields) -> w.Batch:
    buf, starts, ends = w.join(bodies)
    return w.scan(buf, starts, ends, what, depth=depth).only(fields)


def _merged(b: w.Batch, field: int) -> int:
    """A field of a singular message written several times: occurrences merge, the last
    value wins."""
    rows = b.rows(field)
    if len(rows) == 0:
        return 0
    last = rows[np.lexsort((rows, b.msg[rows]))[-1]]
    return int(b.value[last].astype(_U64).view(_I64))


def _strings(bodies: list[bytes]) -> dict[str, Any]:
    """The string table as Arrow string buffers; invalid UTF-8 is repaired as Python's
    ``bytes.decode(errors="replace")`` does. An empty table becomes [""]."""
    if not bodies:
        bodies = [b""]
    buf, starts, ends = w.join(bodies)
    offsets = np.append(starts, ends[-1]).astype(_I64)
    raw = pa.Array.from_buffers(
        pa.large_binary(), len(bodies), [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
    )
    try:
        text = raw.cast(pa.large_string())
    except pa.ArrowInvalid:  # a string table, not samples: repaired one string at a time
        text = pa.array([b.decode("utf-8", errors="replace") for b in bodies], pa.large_string())
    large = len(text) and text.buffers()[2] is not None and text.buffers()[2].size > 0x7FFFFFFF
    if not large:
        text = text.cast(pa.string())
    _, offsets_buf, data_buf = text.buffers()
    return {  # as the compiled kernel returns them: buffers whose len() is their size
        "strings_large": bool(large),
        "strings_offsets": offsets_buf,
        "strings_data": data_buf if data_buf is not None else pa.py_buffer(b""),
    }


def _mappings(m: w.Batch, out: dict[str, Any]) -> np.ndarray:
    for f, key in enumerate(("start", "limit", "offset"), 2):
        out[f"mapping_{key}"] = m.scalar(f)
    out["mapping_file"] = m.scalar(5).view(_I64)
    out["mapping_build_id"] = m.scalar(6).view(_I64)
    for f, key in enumerate(("functions", "filenames", "line_numbers", "inline_frames"), 7):
        out[f"mapping_has_{key}"] = m.scalar(f) != 0
    return m.scalar(1)


def _functions(f: w.Batch, out: dict[str, Any]) -> np.ndarray:
    for field, key in enumerate(("name", "system_name", "file", "start_line"), 2):
        out[f"function_{key}"] = f.scalar(field).view(_I64)
    return f.scalar(1)


def _ids(ids: np.ndarray, what: str) -> str | None:
    """Ids must be non-zero and distinct; the first offender in message order is named."""
    bad = ids == 0
    first = np.unique(ids, return_index=True)[1]
    repeated = np.ones(len(ids), dtype=bool)
    repeated[first] = False
    bad |= repeated
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    if ids[i] == 0:
        return reserved_id_message(what)
    return f"duplicate {what} id {int(ids[i])}"


def _lookup(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The position of each wanted id among ``ids`` (distinct, none 0), -1 where absent (id
    0 too): a direct table when the ids are dense, as they usually are, else a binary search."""
    if len(ids) == 0:
        return np.full(len(wanted), -1, dtype=_I64)
    top = int(ids.max())
    if top <= 4 * len(ids) + 1024:
        table = np.full(top + 2, -1, dtype=_I64)
        table[ids] = np.arange(len(ids), dtype=_I64)
        table[0] = -1
        return table[np.minimum(wanted, _U64(top + 1))]
    order = np.argsort(ids, kind="stable")
    keys = ids[order]
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found = (keys[at] == wanted) & (wanted != 0)
    return np.where(found, order[at], -1).astype(_I64)


def _offsets(owner: np.ndarray, n: int) -> np.ndarray:
    offsets = np.zeros(n + 1, dtype=_I64)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    return offsets


def _locations(
    location: w.Batch,
    location_id: np.ndarray,
    line: w.Batch,
    line_owner: np.ndarray,
    mapping_id: np.ndarray,
    function_id: np.ndarray,
    out: dict[str, Any],
) -> str | None:
    """Mapping and function ids become positions (-1: none); the first unknown one, by
    location and then line, is the error."""
    mapping = location.scalar(2)
    function = line.scalar(1)
    m_pos, f_pos = _lookup(mapping_id, mapping), _lookup(function_id, function)
    bad_m = (mapping != 0) & (m_pos < 0)
    bad_f = (function != 0) & (f_pos < 0)
    bad = bad_m | (np.bincount(line_owner[bad_f], minlength=location.n) > 0)
    if bad.any():
        i = int(np.argmax(bad))
        what, unknown = "mapping", int(mapping[i])
        if not bad_m[i]:
            what, unknown = "function", int(function[np.flatnonzero(bad_f & (line_owner == i))[0]])
        return f"location {int(location_id[i])} refers to unknown {what} {unknown}"
    out["location_mapping"] = m_pos
    out["location_address"] = location.scalar(3)
    out["location_folded"] = location.scalar(5) != 0
    out["line_offsets"] = _offsets(line_owner, location.n)
    out["line_function"] = f_pos
    out["line_line"] = line.scalar(2).view(_I64)
    out["line_column"] = line.scalar(3).view(_I64)
    return None


def _sample_error(
    value_offsets: np.ndarray,
    stack_offsets: np.ndarray,
    stack_ids: np.ndarray,
    positions: np.ndarray,
    n_types: int,
) -> str | None:
    """The first sample with the wrong number of values or an unknown location (position
    -1)."""
    n_values = np.diff(value_offsets)
    unknown = np.zeros(len(positions) + 1, dtype=_I64)
    np.cumsum(positions < 0, out=unknown[1:])
    bad = (n_values != n_types) | (unknown[stack_offsets[1:]] > unknown[stack_offsets[:-1]])
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    if n_values[i] != n_types:
        return f"sample {i} has {int(n_values[i])} values for {n_types} sample types"
    lo, hi = int(stack_offsets[i]), int(stack_offsets[i + 1])
    first = lo + int(np.argmax(positions[lo:hi] < 0))
    return f"sample {i} refers to unknown location {int(stack_ids[first])}"
