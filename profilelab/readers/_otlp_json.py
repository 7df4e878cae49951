"""OTLP/JSON profiles into a Payload.

OTLP/JSON is *not* proto3 JSON (OTLP specification, "JSON Protobuf Encoding"): trace and
span ids are hex strings, not base64 (``json_format`` would decode them wrongly); enums are
integers; keys are lowerCamelCase; 64-bit integers may be strings or numbers; unknown keys
are ignored. Keys are read in lowerCamelCase, or snake_case when the document uses it
throughout (as some tools write). Profile ids are accepted in hex (as pdata writes them)
or base64; other bytes (``bytesValue``, ``originalPayload``) are base64.

The samples and the stack table, most of a big document, are read by the compiled kernel
:mod:`profilelab._native._otlpjson` straight into columns when it was built: it finds each
Profile's samples array and the dictionary's stack table, reads them, and the rest of the
document (with those arrays left empty) goes to the JSON parser. A document the kernel
does not read exactly as this module does (see its source) is read here as a whole, with
the same result or the same error.

Field names tell v1.8 (``sample``, ``line``, ``commentStrindices``,
``aggregationTemporality``) from v1.9+ (``samples``, ``lines``); the JSON Sample is the same
in both, so v1.8 documents are read. Names of v1.7 and older fail with a clear message.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from itertools import chain
from operator import methodcaller
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.errors import FormatError
from profilelab.model import _arrow
from profilelab.readers import _json
from profilelab.readers._otlp_binary import hex_strings
from profilelab.readers._otlp_payload import (
    OLD_HINT,
    Attribute,
    AttrValue,
    Dictionary,
    Payload,
    ProfileEntry,
    Samples,
    Scope,
)
from profilelab.readers._wire import WireError

_kernel: ModuleType | None
try:
    from profilelab._native import _otlpjson as _kernel
except ImportError:  # not built (no C compiler at install time): samples are read here
    _kernel = None

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")

# Names that only layouts older than v1.8 have, per object kind.
_OLD_TOP = {"mappingTable", "locationTable", "functionTable", "stringTable", "attributeTable"}
_OLD_PROFILE = {"locationIndices", "defaultSampleTypeIndex", "timeNanos", "stringTable"}
_OLD_SAMPLE = {"locationsStartIndex", "locationsLength", "locationIndex", "value", "label"}


class _Keys:
    """Field-name spelling of one document (lowerCamelCase, or snake_case throughout)."""

    def __init__(self, snake: bool) -> None:
        self.snake = snake
        self._cache: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if not self.snake:
            return name
        got = self._cache.get(name)
        if got is None:
            got = self._cache[name] = _SNAKE.sub("_", name).lower()
        return got


def decode(data: bytes, *, compiled: bool = True) -> Payload:
    """Decode an OTLP/JSON document; raises WireError (ValueError) when malformed.

    ``compiled=False`` reads the samples here too, as without the compiled kernel."""
    with _json.paused_gc():  # a big document is millions of small objects, without cycles
        cut = _cut(data) if compiled and _kernel is not None else None
        if cut is not None:
            try:
                return _decode(cut.text, cut)
            except WireError:
                pass  # read again as a whole below: the error names the place in ``data``
        return _decode(data, None)


@dataclass
class _Tables:
    """The dictionary's tables the kernel read (None: left to the JSON parser)."""

    stacks: tuple[np.ndarray, np.ndarray] | None = None  # (offsets, location indices)
    locations: tuple[Any, ...] | None = None  # the kernel's columns (:func:`_set_locations`)
    links: tuple[Any, ...] | None = None  # the kernel's columns (:func:`_set_links`)

    @property
    def old_lines_at(self) -> int:
        """The first location that names its lines "line" (v1.8; -1: none, or the kernel
        did not read the locations): the kernel reports it beside the lines' columns."""
        return -1 if self.locations is None else int(self.locations[3][2])


@dataclass
class _Cut:
    """A document with the arrays the kernel read emptied, and what they held."""

    text: bytes
    samples: list[Samples | None]  # per Profile in document order; None: it had no array
    tables: _Tables


def _cut(data: bytes) -> _Cut | None:
    """The samples arrays and the stack table read by the kernel, and the location and link
    tables when it reads them, the rest left to the JSON parser; None when the kernel does
    not read the samples or the stack table."""
    assert _kernel is not None
    found = _kernel.locate(data)
    if found is None:
        return None
    snake, regions, ((stack_start, stack_end), locations, links) = found
    k = _Keys(snake)
    sample_fields = (
        (k("stackIndex"), 0),
        (k("attributeIndices"), 1),
        (k("linkIndex"), 0),
        ("values", 1),
        (k("timestampsUnixNano"), 2),
    )
    emptied: list[tuple[int, int]] = []
    samples: list[Samples | None] = []
    for start, end in regions:
        if start < 0:
            samples.append(None)
            continue
        got = _kernel.objects(data, start, end, sample_fields)
        if got is None:
            return None
        stack, (attr_off, attrs), link, (val_off, vals), (time_off, times) = got
        columns = (stack, attr_off, attrs, link, val_off, vals, time_off, times)  # field order
        samples.append(Samples(*map(_int64s_of, columns)))
        emptied.append((start, end))
    tables = _Tables()
    if stack_start >= 0:
        got = _kernel.objects(data, stack_start, stack_end, ((k("locationIndices"), 1),))
        if got is None:
            return None
        tables.stacks = (_int64s_of(got[0][0]), _int64s_of(got[0][1]))
        emptied.append((stack_start, stack_end))
    # the location and link tables, when the kernel reads them (else the JSON parser does)
    if locations[0] >= 0:
        lines = tuple((k(name), kind) for name, kind in _LINE_FIELDS)
        tables.locations = _kernel.objects(
            data,
            *locations,
            (
                (k("mappingIndex"), 0),
                (k("address"), 5),
                (k("attributeIndices"), 1),
                (k("lines"), 4, (k("line"), lines)),
            ),
        )
        if tables.locations is not None:
            emptied.append(locations)
    if links[0] >= 0:
        tables.links = _kernel.objects(data, *links, ((k("traceId"), 3, 16), (k("spanId"), 3, 8)))
        if tables.links is not None:
            emptied.append(links)
    parts, pos = [], 0
    for start, end in sorted(emptied):
        parts += [data[pos:start], b"[]"]
        pos = end
    parts.append(data[pos:])
    return _Cut(b"".join(parts), samples, tables)


#: A Location's lines: v1.8 calls the field "line", later versions "lines".
_LINE_FIELDS = (("functionIndex", 0), ("line", 0), ("column", 0))


def _set_locations(out: Dictionary, got: tuple[Any, ...]) -> None:
    """``out``'s location table from the kernel's columns (as :func:`_locations` reads it)."""
    mapping, address, (attr_off, attrs), (line_off, (function, line, column), _) = got
    out.location_mapping = _int64s_of(mapping)
    out.location_address = _int64s_of(address).view(np.uint64)
    out.location_attr_offsets, out.location_attrs = _int64s_of(attr_off), _int64s_of(attrs)
    out.line_offsets = _int64s_of(line_off)
    out.line_function, out.line_line = _int64s_of(function), _int64s_of(line)
    out.line_column = _int64s_of(column)


def _set_links(out: Dictionary, got: tuple[Any, ...]) -> None:
    """``out``'s link ids from the kernel's columns (ids of full size in hex, or empty)."""
    (trace_len, trace), (span_len, span) = got
    out.link_trace_id = hex_strings(np.frombuffer(trace, np.uint8), _int64s_of(trace_len))
    out.link_span_id = hex_strings(np.frombuffer(span, np.uint8), _int64s_of(span_len))


def _int64s_of(column: bytes) -> np.ndarray:
    return np.frombuffer(column, dtype=np.int64)


def _decode(data: bytes, cut: _Cut | None) -> Payload:
    """The Payload of ``data``; with ``cut``, what the kernel read (emptied in ``data``)."""
    try:
        doc = _json.loads(data, "OTLP/JSON document")
    except FormatError as exc:
        raise WireError(str(exc)) from None
    if not isinstance(doc, dict):
        raise WireError("an OTLP/JSON document must be an object")
    k = _Keys("resource_profiles" in doc and "resourceProfiles" not in doc)
    _reject_old(doc, k)
    read = _Tables() if cut is None else cut.tables
    # JSON names are the same in 1.9 and 1.10
    version = "1.8" if _is_v18(doc, k, read) else "1.9+"
    dictionary = _dictionary(_obj(doc, k("dictionary")), k, read)
    strings = dictionary.strings.to_pylist()
    resources, scopes = [], []
    entries: list[ProfileEntry] = []
    for r, rp in enumerate(_objs(doc, k("resourceProfiles"))):
        resources.append(_key_values(_list(_obj(rp, k("resource")), k("attributes")), k, strings))
        scope_list = []
        for s, sp in enumerate(_objs(rp, k("scopeProfiles"))):
            sc = _obj(sp, k("scope"))
            attrs = _key_values(_list(sc, k("attributes")), k, strings)
            scope_list.append(Scope(str(sc.get("name", "")), str(sc.get("version", "")), attrs))
            for p, prof in enumerate(_objs(sp, k("profiles"))):
                if cut is not None and len(entries) >= len(cut.samples):
                    raise WireError("more profiles than the compiled reader found")
                done = None if cut is None else cut.samples[len(entries)]
                entries.append(_profile(prof, r, s, p, k, done))
        scopes.append(scope_list)
    if cut is not None and len(entries) != len(cut.samples):
        raise WireError("fewer profiles than the compiled reader found")
    return Payload(version, dictionary, resources, scopes, entries)


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    if not isinstance(parent, dict):
        raise WireError(f"expected an object holding {key!r}, not {type(parent).__name__}")
    got = parent.get(key)
    if got is None:
        return {}
    if not isinstance(got, dict):
        raise WireError(f"{key!r} must be an object, not {type(got).__name__}")
    return got


def _objs(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """A list of messages (JSON objects); WireError names the list holding anything else."""
    got = _list(parent, key)
    if not set(map(type, got)) <= {dict}:  # (one pass in C; JSON objects are plain dicts)
        for item in got:
            if not isinstance(item, dict):
                raise WireError(f"{key!r} must hold objects, not {type(item).__name__}")
    return got


def _list(parent: dict[str, Any], key: str) -> list[Any]:
    if not isinstance(parent, dict):
        raise WireError(f"expected an object holding {key!r}, not {type(parent).__name__}")
    got = parent.get(key)
    if got is None:
        return []
    if not isinstance(got, list):
        raise WireError(f"{key!r} must be a list, not {type(got).__name__}")
    return got


# ---- version detection -----------------------------------------------------------------------


def _first_profiles(doc: dict[str, Any], k: _Keys) -> list[dict[str, Any]]:
    out = []
    for rp in _objs(doc, k("resourceProfiles")):
        for sp in _objs(rp, k("scopeProfiles")):
            for prof in _objs(sp, k("profiles")):
                if isinstance(prof, dict):
                    out.append(prof)
    return out


def _reject_old(doc: dict[str, Any], k: _Keys) -> None:
    old = {k(x) for x in _OLD_TOP} & set(doc)
    if old:
        raise WireError(f"top-level {sorted(old)[0]!r} (v1.6 layout); {OLD_HINT}")
    if k("attributeUnits") in _obj(doc, k("dictionary")):
        raise WireError(f"dictionary 'attributeUnits' (v1.7 layout); {OLD_HINT}")
    for sp in (
        sp for rp in _objs(doc, k("resourceProfiles")) for sp in _objs(rp, k("scopeProfiles"))
    ):
        for prof in _objs(sp, k("profiles")):
            if k("profile") in prof:
                raise WireError(f"a ProfileContainer 'profile' key (v1.3 layout); {OLD_HINT}")
            old = {k(x) for x in _OLD_PROFILE} & set(prof)
            if old or isinstance(prof.get(k("sampleType")), list):
                what = sorted(old)[0] if old else "sampleType list"
                raise WireError(f"Profile {what!r} (v1.7 or older); {OLD_HINT}")
            for smp in (prof.get(k("samples")) or prof.get(k("sample")) or [])[:1]:
                old = {k(x) for x in _OLD_SAMPLE} & set(smp)
                if old:
                    raise WireError(f"Sample {sorted(old)[0]!r} (v1.7 or older); {OLD_HINT}")


def _is_v18(doc: dict[str, Any], k: _Keys, read: _Tables) -> bool:
    """``read``: the tables the kernel read (their marks of v1.8 are kept there)."""
    for prof in _first_profiles(doc, k):
        if k("sample") in prof or k("commentStrindices") in prof:
            return True
        for vt in (prof.get(k("sampleType")), prof.get(k("periodType"))):
            if isinstance(vt, dict) and k("aggregationTemporality") in vt:
                return True
    if read.locations is not None:
        return 0 <= read.old_lines_at < 64
    locations = _objs(_obj(doc, k("dictionary")), k("locationTable"))
    return any(isinstance(x, dict) and k("line") in x for x in locations[:64])


# ---- scalars ---------------------------------------------------------------------------------


def _int(x: Any, what: str) -> int:
    """A 64-bit integer (number or string); unsigned ones above 2**63 wrap, as on the wire."""
    if isinstance(x, bool) or x is None:
        raise WireError(f"{what}: expected an integer, got {x!r}")
    try:
        v = int(x)
    except (TypeError, ValueError, OverflowError):
        raise WireError(f"{what}: expected an integer, got {x!r:.40}") from None
    if not -(1 << 63) <= v < 1 << 64:
        raise WireError(f"{what}: {v} does not fit in 64 bits")
    return v - (1 << 64) if v >= 1 << 63 else v


def _ints(items: list[Any], key: str, what: str) -> np.ndarray:
    try:
        return _int64s(list(map(methodcaller("get", key, 0), items)))
    except (TypeError, ValueError, AttributeError, OverflowError):
        raise WireError(f"{what}.{key}: expected integers") from None


def _int64s(values: list[Any]) -> np.ndarray:
    """``values`` (JSON numbers or decimal strings) as int64, converted in one numpy pass;
    TypeError for anything that is not one integer each (a list, an object, null)."""
    out = np.array(values, dtype=np.int64)
    if out.ndim != 1 or len(out) != len(values):
        raise TypeError("expected one integer per item")
    return out


def _u64s(items: list[Any], key: str, what: str) -> np.ndarray:
    try:
        return np.array([int(x.get(key, 0)) for x in items], dtype=object).astype(np.uint64)
    except (TypeError, ValueError, AttributeError, OverflowError):
        raise WireError(f"{what}.{key}: expected unsigned 64-bit integers") from None


def _csr(
    items: list[Any], key: str, what: str, unsigned: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A repeated integer field of every item, as (offsets, flat values)."""
    try:
        lists = list(map(methodcaller("get", key, ()), items))
        try:
            lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        except TypeError:  # null is the empty list too (rare: repaired one by one)
            lists = [x or () for x in lists]
            lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        flat = list(chain.from_iterable(lists))
        values = (
            np.array([int(v) for v in flat], dtype=object).astype(np.uint64).view(np.int64)
            if unsigned
            else _int64s(flat)
        )
    except (TypeError, ValueError, AttributeError, OverflowError):
        raise WireError(f"{what}.{key}: expected lists of integers") from None
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets, values.astype(np.int64)


def _id(text: Any, size: int, what: str) -> str:
    """An id as lower-case hex (OTLP/JSON: hex; base64 from proto3-JSON writers also read)."""
    if not text:
        return ""
    if not isinstance(text, str):
        raise WireError(f"{what}: expected a hex string, got {text!r}")
    raw = None
    if len(text) == 2 * size:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise WireError(f"{what}: {text!r} is neither hex nor base64") from None
    return raw.hex() if any(raw) else ""


def _bytes(text: Any, what: str) -> bytes:
    if not text:
        return b""
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise WireError(f"{what}: not base64") from None


def any_value(v: Any, k: _Keys) -> AttrValue:
    """An OTLP/JSON AnyValue object as an AttrValue."""
    if not isinstance(v, dict) or not v:
        return None
    if k("stringValue") in v:
        return ("str", str(v[k("stringValue")]))
    if k("intValue") in v:
        return ("int", _int(v[k("intValue")], "intValue"))
    if k("boolValue") in v:
        return ("bool", bool(v[k("boolValue")]))
    if k("doubleValue") in v:
        return ("double", float(v[k("doubleValue")]))
    if k("bytesValue") in v:
        return ("bytes", _bytes(v[k("bytesValue")], "bytesValue"))
    if k("stringValueStrindex") in v:
        return ("strindex", _int(v[k("stringValueStrindex")], "stringValueStrindex"))
    if k("arrayValue") in v:
        return ("array", [any_value(x, k) for x in _list(v[k("arrayValue")] or {}, k("values"))])
    if k("kvlistValue") in v:
        items = _objs(v[k("kvlistValue")] or {}, k("values"))
        return ("kvlist", [(str(x.get("key", "")), any_value(x.get(k("value")), k)) for x in items])
    return None


def _key_values(items: list[Any], k: _Keys, strings: list[str]) -> list[tuple[str, AttrValue]]:
    out = []
    for kv in items:
        key = str(kv.get("key") or "")
        if not key and kv.get(k("keyStrindex")):
            i = _int(kv[k("keyStrindex")], "keyStrindex")
            if not 0 <= i < len(strings):
                raise WireError(f"attribute key string index {i} out of range")
            key = strings[i]
        out.append((key, any_value(kv.get(k("value")), k)))
    return out


# ---- dictionary ------------------------------------------------------------------------------


def _dictionary(d: dict[str, Any], k: _Keys, read: _Tables) -> Dictionary:
    """The dictionary; ``read``: the tables the kernel read (emptied in ``d``)."""
    out = Dictionary()
    strings = _list(d, k("stringTable"))
    if strings:
        if not all(isinstance(s, str) for s in strings):
            raise WireError("stringTable must hold strings")
        # from its buffers: pa.array of a Python list imports pandas (a quarter of a second)
        out.strings = _arrow.to_pyarrow(_arrow.strings(strings))
    _mappings(out, _objs(d, k("mappingTable")), k)
    if read.locations is None:
        _locations(out, _objs(d, k("locationTable")), k)
    else:  # (emptied in ``d``)
        _set_locations(out, read.locations)
    fns = _objs(d, k("functionTable"))
    out.function_name = _ints(fns, k("nameStrindex"), "Function")
    out.function_system_name = _ints(fns, k("systemNameStrindex"), "Function")
    out.function_file = _ints(fns, k("filenameStrindex"), "Function")
    out.function_start_line = _ints(fns, k("startLine"), "Function")
    if read.links is None:
        links = _objs(d, k("linkTable"))
        out.link_trace_id = _ids(list(map(methodcaller("get", k("traceId")), links)), 16, "traceId")
        out.link_span_id = _ids(list(map(methodcaller("get", k("spanId")), links)), 8, "spanId")
    else:  # (emptied in ``d``)
        _set_links(out, read.links)
    out.attributes = [
        Attribute(
            _int(a.get(k("keyStrindex"), 0), "keyStrindex"),
            any_value(a.get(k("value")), k),
            _int(a.get(k("unitStrindex"), 0), "unitStrindex"),
        )
        for a in _objs(d, k("attributeTable"))
    ]
    table = _objs(d, k("stackTable"))
    out.stack_offsets, out.stack_locations = read.stacks or _csr(
        table, k("locationIndices"), "Stack"
    )
    return out


def _ids(texts: list[Any], size: int, what: str) -> pa.Array:
    """Ids as lower-case hex, null when empty or all zero (as :func:`_id` reads each one); a
    table of hex ids of the full size, the usual one, is decoded in one pass."""
    if texts and set(map(type, texts)) == {str} and set(map(len, texts)) == {2 * size}:
        try:
            raw = bytes.fromhex("".join(texts))
        except ValueError:
            raw = b""
        if len(raw) == size * len(texts):  # (so no white space, which fromhex skips)
            sizes = np.full(len(texts), size, dtype=np.int64)
            return hex_strings(np.frombuffer(raw, dtype=np.uint8), sizes)
    return _arrow.to_pyarrow(_arrow.text([_id(x, size, what) or None for x in texts]))


def _mappings(out: Dictionary, maps: list[Any], k: _Keys) -> None:
    out.mapping_start = _u64s(maps, k("memoryStart"), "Mapping")
    out.mapping_limit = _u64s(maps, k("memoryLimit"), "Mapping")
    out.mapping_offset = _u64s(maps, k("fileOffset"), "Mapping")
    out.mapping_file = _ints(maps, k("filenameStrindex"), "Mapping")
    out.mapping_attr_offsets, out.mapping_attrs = _csr(maps, k("attributeIndices"), "Mapping")


def _locations(out: Dictionary, locs: list[Any], k: _Keys) -> None:
    out.location_mapping = _ints(locs, k("mappingIndex"), "Location")
    out.location_address = _u64s(locs, k("address"), "Location")
    out.location_attr_offsets, out.location_attrs = _csr(locs, k("attributeIndices"), "Location")
    # v1.8 calls the field "line"; a document of either version is read with both names
    new, old = k("lines"), k("line")
    per_loc = [x.get(new) or x.get(old) or () for x in locs]
    lines = list(chain.from_iterable(per_loc))
    out.line_offsets = np.zeros(len(locs) + 1, dtype=np.int64)
    np.cumsum(
        np.fromiter(map(len, per_loc), dtype=np.int64, count=len(locs)), out=out.line_offsets[1:]
    )
    out.line_function = _ints(lines, k("functionIndex"), "Line")
    out.line_line = _ints(lines, "line", "Line")
    out.line_column = _ints(lines, "column", "Line")


# ---- profiles --------------------------------------------------------------------------------


def _value_type(v: Any, k: _Keys) -> tuple[int, int]:
    if not isinstance(v, dict):
        return (0, 0)
    return (
        _int(v.get(k("typeStrindex"), 0), "typeStrindex"),
        _int(v.get(k("unitStrindex"), 0), "unitStrindex"),
    )


def _profile(
    prof: dict[str, Any], r: int, s: int, p: int, k: _Keys, read: Samples | None
) -> ProfileEntry:
    what = f"Profile {r}/{s}/{p}"
    e = ProfileEntry(r, s, p)
    e.sample_type = _value_type(prof.get(k("sampleType")), k)
    e.period_type = _value_type(prof.get(k("periodType")), k)
    e.period = _int(prof.get(k("period"), 0), f"{what} period")
    e.time_ns = _int(prof.get(k("timeUnixNano"), 0), f"{what} timeUnixNano")
    e.duration_ns = _int(prof.get(k("durationNano"), 0), f"{what} durationNano")
    e.profile_id = _id(prof.get(k("profileId")), 16, f"{what} profileId")
    e.attributes = [_int(x, "attributeIndices") for x in _list(prof, k("attributeIndices"))]
    e.comments = [_int(x, "commentStrindices") for x in _list(prof, k("commentStrindices"))]
    e.payload_format = str(prof.get(k("originalPayloadFormat")) or "")
    e.payload = _bytes(prof.get(k("originalPayload")), f"{what} originalPayload")
    samples = _objs(prof, k("samples")) or _objs(prof, k("sample"))  # v1.8: "sample"
    e.samples = read if read is not None else _samples(samples, k, what)
    return e


def _samples(items: list[dict[str, Any]], k: _Keys, what: str) -> Samples:
    out = Samples()
    # The keys any sample has (one pass in C): a field no sample has is not looked up in
    # each (most profiles have no links, timestamps or attributes).
    keys = set(chain.from_iterable(items))
    n, where = len(items), f"{what} Sample"

    def ints(key: str) -> np.ndarray:
        return _ints(items, key, where) if key in keys else np.zeros(n, dtype=np.int64)

    def csr(key: str, unsigned: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if key in keys:
            return _csr(items, key, where, unsigned)
        return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)

    out.stack = ints(k("stackIndex"))
    out.link = ints(k("linkIndex"))
    out.attr_offsets, out.attrs = csr(k("attributeIndices"))
    out.value_offsets, out.values = csr("values")
    out.time_offsets, out.times = csr(k("timestampsUnixNano"), unsigned=True)
    return out
