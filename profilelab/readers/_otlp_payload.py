"""The decoded form of one OTLP profiles payload, shared by the binary and JSON decoders.

Both decoders fill these structures with the payload's contents, indices unchecked and as
written (0-based positions into the dictionary tables); :mod:`profilelab.readers._otlp_raw`
validates them and turns them into RawProfiles. Variable-length lists are CSR
(``*_offsets`` of length n+1 into a flat array), as in :mod:`profilelab.model.raw`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

# Immutable, so every payload may share them; made from buffers, since pa.array of a
# Python list imports pandas (a quarter of a second).
EMPTY_STRING = pa.StringArray.from_buffers(1, pa.py_buffer(bytes(8)), pa.py_buffer(b""))  # [""]
NO_STRINGS = pa.StringArray.from_buffers(0, pa.py_buffer(bytes(4)), pa.py_buffer(b""))  # []

#: An attribute value: ("str", s), ("int", i), ("bool", b), ("double", f), ("bytes", b),
#: ("strindex", i) (AnyValue.string_value_strindex), ("array", [values]),
#: ("kvlist", [(key, value)]), or None when unset.
AttrValue = tuple[str, Any] | None


def _i64(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=np.int64)


def _u64(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=np.uint64)


def _offsets(n: int = 0) -> np.ndarray:
    return np.zeros(n + 1, dtype=np.int64)


@dataclass
class Attribute:
    """One entry of the dictionary's attribute table (KeyValueAndUnit)."""

    key: int  # string index
    value: AttrValue
    unit: int = 0  # string index, 0 = none


@dataclass
class Dictionary:
    """ProfilesDictionary: the tables shared by every profile of the payload."""

    strings: pa.Array = field(default_factory=lambda: EMPTY_STRING)
    attributes: list[Attribute] = field(default_factory=list)
    mapping_start: np.ndarray = field(default_factory=_u64)
    mapping_limit: np.ndarray = field(default_factory=_u64)
    mapping_offset: np.ndarray = field(default_factory=_u64)
    mapping_file: np.ndarray = field(default_factory=_i64)
    mapping_attr_offsets: np.ndarray = field(default_factory=_offsets)
    mapping_attrs: np.ndarray = field(default_factory=_i64)
    location_mapping: np.ndarray = field(default_factory=_i64)
    location_address: np.ndarray = field(default_factory=_u64)
    location_attr_offsets: np.ndarray = field(default_factory=_offsets)
    location_attrs: np.ndarray = field(default_factory=_i64)
    line_offsets: np.ndarray = field(default_factory=_offsets)
    line_function: np.ndarray = field(default_factory=_i64)
    line_line: np.ndarray = field(default_factory=_i64)
    line_column: np.ndarray = field(default_factory=_i64)
    function_name: np.ndarray = field(default_factory=_i64)
    function_system_name: np.ndarray = field(default_factory=_i64)
    function_file: np.ndarray = field(default_factory=_i64)
    function_start_line: np.ndarray = field(default_factory=_i64)
    link_trace_id: pa.Array = field(default_factory=lambda: NO_STRINGS)
    link_span_id: pa.Array = field(default_factory=lambda: NO_STRINGS)
    stack_offsets: np.ndarray = field(default_factory=_offsets)
    stack_locations: np.ndarray = field(default_factory=_i64)


@dataclass
class Samples:
    """The samples of one profile, as written (before events are expanded)."""

    stack: np.ndarray = field(default_factory=_i64)
    attr_offsets: np.ndarray = field(default_factory=_offsets)
    attrs: np.ndarray = field(default_factory=_i64)
    link: np.ndarray = field(default_factory=_i64)
    value_offsets: np.ndarray = field(default_factory=_offsets)
    values: np.ndarray = field(default_factory=_i64)
    time_offsets: np.ndarray = field(default_factory=_offsets)
    times: np.ndarray = field(default_factory=_i64)

    @property
    def n(self) -> int:
        return len(self.stack)


@dataclass
class ProfileEntry:
    """One Profile with where it sits (resource, scope) and its header fields."""

    resource: int
    scope: int
    position: int  # index within its scope
    sample_type: tuple[int, int] = (0, 0)  # string indices (type, unit)
    period_type: tuple[int, int] = (0, 0)
    period: int = 0
    time_ns: int = 0
    duration_ns: int = 0
    profile_id: str = ""  # lower-case hex, "" when unset
    attributes: list[int] = field(default_factory=list)  # attribute table indices
    comments: list[int] = field(default_factory=list)  # string indices (v1.8 only)
    payload_format: str = ""
    payload: bytes = b""
    samples: Samples = field(default_factory=Samples)


@dataclass
class Scope:
    """An InstrumentationScope: name, version and attributes."""

    name: str = ""
    version: str = ""
    attributes: list[tuple[str, AttrValue]] = field(default_factory=list)


@dataclass
class Payload:
    """A whole ProfilesData / ExportProfilesServiceRequest."""

    version: str  # the schema layout it was read with, e.g. "1.10" or "1.8"
    dictionary: Dictionary
    resources: list[list[tuple[str, AttrValue]]]  # attributes of each resource
    scopes: list[list[Scope]]  # scopes of each resource
    profiles: list[ProfileEntry]


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_strings(raw: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Hex-encode byte strings (concatenated in ``raw``); empty or all-zero ones become null."""
    text = np.empty(2 * len(raw), dtype=np.uint8)
    text[0::2] = _HEX[raw >> 4]
    text[1::2] = _HEX[raw & 15]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(2 * lengths, out=offsets[1:])
    nonzero = np.zeros(len(lengths), dtype=bool)
    filled = lengths > 0
    if filled.any():
        starts = (np.cumsum(lengths) - lengths)[filled]
        nonzero[filled] = np.maximum.reduceat(raw, starts) > 0
    # Arrow's validity bitmap, least significant bit first (pa.array of a NumPy array
    # imports pandas: a quarter of a second of a small OTLP profile's report)
    valid = pa.py_buffer(np.packbits(nonzero, bitorder="little"))
    return pa.StringArray.from_buffers(
        len(lengths), pa.py_buffer(offsets), pa.py_buffer(text), valid, int((~nonzero).sum())
    )


def csr_rows(offsets: np.ndarray, values: np.ndarray, a: int, b: int) -> tuple[np.ndarray, ...]:
    """Rows a..b of a CSR column: (offsets from 0, values); all of it as it is."""
    if a == 0 and b == len(offsets) - 1:  # one profile: a receiver's usual post
        return offsets, values
    return offsets[a : b + 1] - offsets[a], values[offsets[a] : offsets[b]]


#: The OTLP profiles schema versions the readers decode, and the hint their errors give.
SUPPORTED = "v1.8 to v1.11"
OLD_HINT = f"it looks like another OTLP profiles schema version (supported: {SUPPORTED})"
