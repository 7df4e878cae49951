"""Binary OTLP profiles (ProfilesData / ExportProfilesServiceRequest) into a Payload.

The schema changed incompatibly at almost every release, and an old payload decoded with
new field numbers is silently wrong (a v1.8 Sample's ``values`` land in v1.10's
``attribute_indices``). So the decoder reads the wire records itself and checks every
field number and wire type against the layout it settles on:

* v1.10 / v1.11 (current): Sample = stack_index 1, attribute_indices 2, link_index 3,
  values 4, timestamps 5; Profile = ..., profile_id 7, ..., attribute_indices 11.
* v1.9: Sample = stack_index 1, values 2, attribute_indices 3, link_index 4, timestamps 5.
* v1.8: v1.9's Sample; Profile also has comment_strindices 7 (ids and payload move one
  up: profile_id 8, ..., attribute_indices 12); ValueType has aggregation_temporality 3.

Evidence comes from wire types that only one layout allows (a length-delimited Sample
field 3 is v1.8/v1.9 packed attribute indices; a varint field 3 is v1.10's link index),
then from index ranges. Anything else (v1.7 and older, other messages) fails with a
message that names the field and says the payload looks like another schema version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.profiles.v1development import profiles_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from profilelab.model import _arrow
from profilelab.readers import _otlp_native
from profilelab.readers import _wire as w
from profilelab.readers._otlp_payload import (
    EMPTY_STRING,
    OLD_HINT,
    Attribute,
    AttrValue,
    Dictionary,
    Payload,
    ProfileEntry,
    Samples,
    Scope,
    csr_rows,
    hex_strings,
)
from profilelab.readers._wire import FIXED64, LEN, VARINT, Records, WireError

# Profile fields per layout: length-delimited fields, and scalar fields with their wire types.
_PROFILE_V19: tuple[set[int], dict[int, tuple[int, ...]]] = (
    {1, 2, 5, 7, 9, 10, 11},
    {3: (FIXED64,), 4: (VARINT,), 6: (VARINT,), 8: (VARINT,), 11: (VARINT,)},
)
_PROFILE_V18: tuple[set[int], dict[int, tuple[int, ...]]] = (
    {1, 2, 5, 7, 8, 10, 11, 12},
    {3: (FIXED64,), 4: (VARINT,), 6: (VARINT,), 7: (VARINT,), 9: (VARINT,), 12: (VARINT,)},
)
_SAMPLE_V110: dict[int, tuple[int, ...]] = {
    1: (VARINT,),
    2: (VARINT, LEN),
    3: (VARINT,),
    4: (VARINT, LEN),
    5: (FIXED64, LEN),
}
_SAMPLE_V18: dict[int, tuple[int, ...]] = {
    1: (VARINT,),
    2: (VARINT, LEN),
    3: (VARINT, LEN),
    4: (VARINT,),
    5: (FIXED64, LEN),
}


class SchemaError(WireError):
    """The payload does not fit the supported schema versions."""


def decode(data: bytes) -> Payload:
    """Decode a binary payload; raises WireError/SchemaError when malformed or unsupported.

    The compiled walker (:mod:`profilelab.readers._otlp_native`) reads what it can; the rest,
    errors included, goes through the NumPy walker (:func:`walk`)."""
    got = _otlp_native.decode(data)
    return got if got is not None else walk(data)


def walk(data: bytes) -> Payload:
    """The NumPy walker: the reference for the compiled one, and its fallback."""
    top = w.split(data, "ProfilesData")
    _only(top, {1, 2}, {}, "ProfilesData", "(v1.6 kept the tables on ProfilesData)")
    dictionary = _dictionary(top.one(2) or b"")
    strings = dictionary.strings.to_pylist()
    resources, scopes, headers = _resources(top.lengthy.get(1, []), strings)
    profile_layout = _profile_layout(headers)
    entries, bodies, owners = _profiles(headers, profile_layout, strings)
    samples, sample_layout = _samples(bodies, profile_layout, len(dictionary.attributes))
    if profile_layout == "1.8" and sample_layout == "1.10":
        raise SchemaError(f"Profile fields are v1.8 but Sample fields are v1.10; {OLD_HINT}")
    _distribute(entries, samples, owners, sample_layout)
    version = _version(profile_layout, sample_layout)
    return Payload(version, dictionary, resources, scopes, entries)


def _version(profile_layout: str, sample_layout: str) -> str:
    """The schema version(s) the payload fits: "1.8", "1.9", "1.8/1.9" or "1.10" (= 1.11)."""
    if sample_layout == "1.10":
        return "1.10"
    return {"1.8": "1.8", "1.9": "1.9"}.get(profile_layout, "1.8/1.9")


def _only(
    rec: Records, lengthy: set[int], scalars: dict[int, tuple[int, ...]], what: str, hint: str = ""
) -> None:
    """Raise SchemaError for a field number / wire type the layout does not have."""
    for f in rec.lengthy:
        if f not in lengthy:
            raise _unexpected(what, f, LEN, hint)
    for f, wire, _ in rec.scalars:
        if wire not in scalars.get(f, ()):
            raise _unexpected(what, f, wire, hint)


def _unexpected(what: str, field: int, wire: int, hint: str = "") -> SchemaError:
    text = f"{what} has an unexpected field {field} (wire type {wire}); {OLD_HINT}"
    return SchemaError(f"{text} {hint}" if hint else text)


# ---- dictionary ------------------------------------------------------------------------------


def _dictionary(data: bytes) -> Dictionary:
    rec = w.split(data, "ProfilesDictionary")
    _only(rec, {1, 2, 3, 4, 5, 6, 7}, {}, "ProfilesDictionary")
    d = Dictionary()
    d.strings = _strings(rec.lengthy.get(5, []))
    _mappings(d, rec.lengthy.get(1, []))
    _locations(d, rec.lengthy.get(2, []))
    _functions(d, rec.lengthy.get(3, []))
    _links(d, rec.lengthy.get(4, []))
    d.attributes = [_attribute(b, i) for i, b in enumerate(rec.lengthy.get(6, []))]
    stacks = _batch(
        rec.lengthy.get(7, []), "Stack", {1: (VARINT, LEN)}, "(v1.7 had attribute_units here)"
    )
    d.stack_offsets, locs = stacks.repeated(1)
    d.stack_locations = _signed32(locs)
    return d


def _batch(
    bodies: list[bytes], what: str, expected: dict[int, tuple[int, ...]], hint: str = ""
) -> w.Batch:
    buf, starts, ends = w.join(bodies)
    batch = w.scan(buf, starts, ends, what)
    _expect(batch, expected, what, hint)
    return batch


def _expect(
    batch: w.Batch, expected: dict[int, tuple[int, ...]], what: str, hint: str = ""
) -> None:
    bad = batch.unexpected(expected)
    if bad is not None:
        raise _unexpected(what, bad[0], bad[1], hint)


def _signed32(values: np.ndarray) -> np.ndarray:
    """int32 fields: negative numbers arrive as 64-bit two's complement."""
    return values.view(np.int64)


def _strings(bodies: list[bytes]) -> pa.Array:
    # from buffers: pa.array of a Python list imports pandas (a quarter of a second)
    if not bodies:
        return EMPTY_STRING
    offsets = np.zeros(len(bodies) + 1, dtype=np.int64)
    np.cumsum(np.array([len(b) for b in bodies], dtype=np.int64), out=offsets[1:])
    table = _arrow.string_array(offsets, np.frombuffer(b"".join(bodies), dtype=np.uint8))
    text = _arrow.to_pyarrow(table)
    try:
        text.validate(full=True)  # the UTF-8
    except pa.ArrowInvalid:  # invalid UTF-8: repair, as Go's pprof tolerates it
        return _arrow.to_pyarrow(
            _arrow.strings([b.decode("utf-8", errors="replace") for b in bodies])
        )
    return text


def _mappings(d: Dictionary, bodies: list[bytes]) -> None:
    b = _batch(
        bodies,
        "Mapping",
        {1: (VARINT,), 2: (VARINT,), 3: (VARINT,), 4: (VARINT,), 5: (VARINT, LEN)},
        "(v1.7 mappings had has_* flags)",
    )
    d.mapping_start, d.mapping_limit, d.mapping_offset = b.scalar(1), b.scalar(2), b.scalar(3)
    d.mapping_file = _signed32(b.scalar(4))
    d.mapping_attr_offsets, attrs = b.repeated(5)
    d.mapping_attrs = _signed32(attrs)


def _locations(d: Dictionary, bodies: list[bytes]) -> None:
    b = _batch(
        bodies,
        "Location",
        {1: (VARINT,), 2: (VARINT,), 3: (LEN,), 4: (VARINT, LEN)},
        "(v1.7 locations had is_folded)",
    )
    d.location_mapping = _signed32(b.scalar(1))
    d.location_address = b.scalar(2)
    d.location_attr_offsets, attrs = b.repeated(4)
    d.location_attrs = _signed32(attrs)
    owner, starts, ends = b.bodies(3)
    lines = w.scan(b.buf, starts, ends, "Line")
    _expect(lines, {1: (VARINT,), 2: (VARINT,), 3: (VARINT,)}, "Line")
    d.line_function = _signed32(lines.scalar(1))
    d.line_line = lines.scalar(2).view(np.int64)
    d.line_column = lines.scalar(3).view(np.int64)
    d.line_offsets = np.zeros(b.n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=b.n), out=d.line_offsets[1:])


def _functions(d: Dictionary, bodies: list[bytes]) -> None:
    b = _batch(bodies, "Function", {1: (VARINT,), 2: (VARINT,), 3: (VARINT,), 4: (VARINT,)})
    d.function_name, d.function_system_name = _signed32(b.scalar(1)), _signed32(b.scalar(2))
    d.function_file = _signed32(b.scalar(3))
    d.function_start_line = b.scalar(4).view(np.int64)


def _links(d: Dictionary, bodies: list[bytes]) -> None:
    b = _batch(bodies, "Link", {1: (LEN,), 2: (LEN,)})
    d.link_trace_id = _hex_ids(b, 1)
    d.link_span_id = _hex_ids(b, 2)


def _hex_ids(b: w.Batch, field: int) -> pa.Array:
    """Id bytes as lower-case hex strings; empty or all-zero ids (invalid in OTLP) are null."""
    start, length = b.last_body(field)
    length = np.where(start >= 0, length, 0)
    if not length.any():  # the usual links table: its zero entry alone
        return pa.nulls(b.n, pa.string())
    raw = w.gather(b.buf, np.maximum(start, 0), length)
    return hex_strings(raw, length)


def _attribute(data: bytes, index: int) -> Attribute:
    msg = profiles_pb2.KeyValueAndUnit()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RecursionError) as exc:
        raise WireError(f"attribute {index}: protobuf decode failed ({exc})") from None
    if len(UnknownFieldSet(msg)):
        raise SchemaError(
            f"attribute {index} is not a KeyValueAndUnit; {OLD_HINT} (v1.7 used KeyValue)"
        )
    return Attribute(
        msg.key_strindex, any_value(msg.value) if msg.HasField("value") else None, msg.unit_strindex
    )


def any_value(v: common_pb2.AnyValue) -> AttrValue:
    """An AnyValue message as an AttrValue."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return ("str", v.string_value)
    if kind == "bool_value":
        return ("bool", v.bool_value)
    if kind == "int_value":
        return ("int", v.int_value)
    if kind == "double_value":
        return ("double", v.double_value)
    if kind == "bytes_value":
        return ("bytes", v.bytes_value)
    if kind == "string_value_strindex":
        return ("strindex", v.string_value_strindex)
    if kind == "array_value":
        return ("array", [any_value(x) for x in v.array_value.values])
    return ("kvlist", [(kv.key, any_value(kv.value)) for kv in v.kvlist_value.values])


def key_values(kvs: list[common_pb2.KeyValue], strings: list[str]) -> list[tuple[str, AttrValue]]:
    """Resource / scope attributes; keys may reference the dictionary (KeyValue.key_strindex)."""
    out = []
    for kv in kvs:
        key = kv.key
        if not key and kv.key_strindex:
            if not 0 <= kv.key_strindex < len(strings):
                raise WireError(f"attribute key string index {kv.key_strindex} out of range")
            key = strings[kv.key_strindex]
        out.append((key, any_value(kv.value) if kv.HasField("value") else None))
    return out


# ---- resources, scopes, profiles -------------------------------------------------------------


@dataclass
class _Header:
    resource: int
    scope: int
    position: int
    rec: Records


def _resources(
    bodies: list[bytes], strings: list[str]
) -> tuple[list[list[tuple[str, AttrValue]]], list[list[Scope]], list[_Header]]:
    resources, scopes, headers = [], [], []
    for r, body in enumerate(bodies):
        rec = w.split(body, f"ResourceProfiles {r}")
        _only(rec, {1, 2, 3}, {}, f"ResourceProfiles {r}")
        res = _parse(resource_pb2.Resource, rec.one(1) or b"", f"resource {r}")
        resources.append(key_values(list(res.attributes), strings))
        scope_list = []
        for s, sbody in enumerate(rec.lengthy.get(2, [])):
            srec = w.split(sbody, f"ScopeProfiles {r}/{s}")
            _only(srec, {1, 2, 3}, {}, f"ScopeProfiles {r}/{s}")
            sc = _parse(common_pb2.InstrumentationScope, srec.one(1) or b"", f"scope {r}/{s}")
            scope_list.append(Scope(sc.name, sc.version, key_values(list(sc.attributes), strings)))
            for p, pbody in enumerate(srec.lengthy.get(2, [])):
                headers.append(_Header(r, s, p, w.split(pbody, f"Profile {r}/{s}/{p}")))
        scopes.append(scope_list)
    return resources, scopes, headers


def _parse(cls: Any, data: bytes, what: str) -> Any:
    try:
        return cls.FromString(data)
    except (DecodeError, RecursionError) as exc:
        raise WireError(f"{what}: protobuf decode failed ({exc})") from None


def _profile_layout(headers: list[_Header]) -> str:
    """'1.8', '1.9' (v1.9 and later) or '?' (no evidence, read as v1.9), from the Profile
    fields whose wire type only one layout allows."""
    old = new = False
    for h in headers:
        wires = {(f, wire) for f, wire, _ in h.rec.scalars}
        old |= 12 in h.rec.lengthy or 8 in h.rec.lengthy or (9, VARINT) in wires
        old |= any(f == 12 for f, _ in wires)
        new |= 9 in h.rec.lengthy or (8, VARINT) in wires
        old |= _has_temporality(h.rec)
    if old and new:
        raise SchemaError(f"Profile messages mix the v1.8 and v1.9+ layouts; {OLD_HINT}")
    return "1.8" if old else "1.9" if new else "?"


def _has_temporality(rec: Records) -> bool:
    """v1.8 ValueType carries aggregation_temporality (field 3), later ones do not."""
    for f in (1, 5):
        for body in rec.lengthy.get(f, []):
            vt = w.split(body, "ValueType")
            if any(x == 3 for x, _, _ in vt.scalars):
                return True
    return False


def _profiles(
    headers: list[_Header], layout: str, strings: list[str]
) -> tuple[list[ProfileEntry], list[bytes], np.ndarray]:
    lengthy, scalars = _PROFILE_V18 if layout == "1.8" else _PROFILE_V19
    entries, bodies, owners = [], [], []
    for i, h in enumerate(headers):
        what = f"Profile {h.resource}/{h.scope}/{h.position}"
        _only(h.rec, lengthy, scalars, what)
        e = ProfileEntry(h.resource, h.scope, h.position)
        e.sample_type = _value_type(h.rec.one(1), what)
        e.period_type = _value_type(h.rec.one(5), what)
        e.time_ns = _int64(h.rec.last(3))  # 64-bit columns: kept as two's complement
        e.duration_ns = _int64(h.rec.last(4))
        e.period = _int64(h.rec.last(6))
        shift = 1 if layout == "1.8" else 0
        pid = h.rec.one(7 + shift)
        e.profile_id = pid.hex() if pid and any(pid) else ""
        e.payload_format = (h.rec.one(9 + shift) or b"").decode("utf-8", errors="replace")
        e.payload = h.rec.one(10 + shift) or b""
        e.attributes = _packed_int32(h.rec, 11 + shift, what)
        if layout == "1.8":
            e.comments = _packed_int32(h.rec, 7, what)
        samples = h.rec.lengthy.get(2, [])
        bodies.extend(samples)
        owners.append(np.full(len(samples), i, dtype=np.int64))
        entries.append(e)
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    return entries, bodies, owner


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _value_type(body: bytes | None, what: str) -> tuple[int, int]:
    if not body:
        return (0, 0)
    rec = w.split(body, f"{what} ValueType")
    _only(rec, set(), {1: (VARINT,), 2: (VARINT,), 3: (VARINT,)}, f"{what} ValueType")
    return (_int64(rec.last(1)), _int64(rec.last(2)))


def _packed_int32(rec: Records, field: int, what: str) -> list[int]:
    out = [_int64(v) for f, _, v in rec.scalars if f == field and isinstance(v, int)]
    for body in rec.lengthy.get(field, []):
        buf = w.as_buffer(body)
        _, values = w.varints_in_regions(buf, np.array([0]), np.array([len(body)]))
        out.extend(values.view(np.int64).tolist())
    return out


# ---- samples ---------------------------------------------------------------------------------


def _samples(bodies: list[bytes], profile_layout: str, n_attributes: int) -> tuple[w.Batch, str]:
    buf, starts, ends = w.join(bodies)
    batch = w.scan(buf, starts, ends, "Sample")
    layout = _sample_layout(batch, profile_layout, n_attributes)
    _expect(batch, _SAMPLE_V110 if layout == "1.10" else _SAMPLE_V18, "Sample")
    return batch, layout


def _sample_layout(batch: w.Batch, profile_layout: str, n_attributes: int) -> str:
    """'1.10' or '1.8' (= v1.9's Sample) from wire types, then from index ranges.

    A packed field 3 can only be v1.8/v1.9 attribute indices and a packed field 4 only v1.10
    values. A varint field 3 is most likely v1.10's link index and a varint field 4 v1.8's,
    unless a sample repeats it (then it is an unpacked repeated field of the other layout).
    """
    old, new = batch.has(3, LEN), batch.has(4, LEN)
    if old and new:
        raise SchemaError(f"Sample records mix the v1.8/v1.9 and v1.10 layouts; {OLD_HINT}")
    if old or new:
        return "1.8" if old else "1.10"
    weak_old, weak_new = batch.has(4, VARINT), batch.has(3, VARINT)
    if weak_old and weak_new:
        if _repeats(batch, 4):
            return "1.10"
        if _repeats(batch, 3):
            return "1.8"
        raise SchemaError(f"Sample records mix the v1.8/v1.9 and v1.10 layouts; {OLD_HINT}")
    if weak_old or weak_new:
        return "1.8" if weak_old else "1.10"
    if profile_layout == "1.8":
        return "1.8"
    # Only fields 1, 2, 5: field 2 is v1.10 attribute indices or v1.9 values. A v1.10 sample
    # needs values or timestamps, and attribute indices must be in range.
    with_2 = np.zeros(batch.n, dtype=bool)
    with_2[batch.msg[batch.rows(2)]] = True
    with_5 = np.zeros(batch.n, dtype=bool)
    with_5[batch.msg[batch.rows(5)]] = True
    if (with_2 & ~with_5).any():
        return "1.8"
    _, attrs = batch.repeated(2)
    if len(attrs) and int(attrs.max()) >= n_attributes:
        return "1.8"
    return "1.10"


def _repeats(batch: w.Batch, field: int) -> bool:
    """Some message has the varint field more than once."""
    rows = batch.rows(field, VARINT)
    return len(rows) > 1 and np.bincount(batch.msg[rows]).max() > 1


def _distribute(
    entries: list[ProfileEntry], batch: w.Batch, owner: np.ndarray, layout: str
) -> None:
    """Cut the payload-wide sample columns into each profile's Samples."""
    f_attr, f_link, f_value = (2, 3, 4) if layout == "1.10" else (3, 4, 2)
    stack = _signed32(batch.scalar(1))
    link = _signed32(batch.scalar(f_link))
    attr_off, attrs = batch.repeated(f_attr)
    value_off, values = batch.repeated(f_value)
    time_off, times = batch.repeated(5, fixed=True)
    bounds = np.searchsorted(owner, np.arange(len(entries) + 1)).tolist()
    for i, e in enumerate(entries):
        a, b = bounds[i], bounds[i + 1]
        a_off, a_val = csr_rows(attr_off, attrs, a, b)
        v_off, v_val = csr_rows(value_off, values, a, b)
        t_off, t_val = csr_rows(time_off, times, a, b)
        e.samples = Samples(
            stack=stack[a:b],
            attr_offsets=a_off,
            attrs=_signed32(a_val),
            link=link[a:b],
            value_offsets=v_off,
            values=v_val.view(np.int64),
            time_offsets=t_off,
            times=t_val.view(np.int64),
        )
