"""Content sniffing helpers shared by the readers: formats are told apart by their bytes."""

from __future__ import annotations


def looks_like_jfr(data: bytes | memoryview) -> bool:
    """A Java Flight Recorder recording: its first chunk starts with the magic ``FLR\\0``."""
    return bytes(data[:4]) == b"FLR\x00"


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a protobuf varint at ``pos``; return (value, next position). Raises ValueError."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def protobuf_start(data: bytes | memoryview) -> bool:
    """True when ``data`` starts with a plausible protobuf tag: field 1 or more, wire type
    0, 1, 2 or 5 (the head of a message whose first record may run past ``data``)."""
    try:
        tag, _ = read_varint(data, 0)
    except ValueError:
        return False
    return tag >> 3 >= 1 and tag & 7 in (0, 1, 2, 5)


def protobuf_fields(
    data: bytes | memoryview, limit: int = 16
) -> list[tuple[int, int, int, int]] | None:
    """The first ``limit`` top-level fields as (field number, wire type, start, end) of the value.

    None when the bytes do not start like a protobuf message.
    """
    out: list[tuple[int, int, int, int]] = []
    pos = 0
    try:
        while pos < len(data) and len(out) < limit:
            tag, pos = read_varint(data, pos)
            field, wire = tag >> 3, tag & 7
            if field == 0:
                return None
            start = pos
            if wire == 0:
                _, pos = read_varint(data, pos)
            elif wire == 1:
                pos += 8
            elif wire == 2:
                length, pos = read_varint(data, pos)
                start = pos
                pos += length
            elif wire == 5:
                pos += 4
            else:
                return None
            if pos > len(data):
                return None
            out.append((field, wire, start, pos))
    except ValueError:
        return None
    return out


def looks_like_value_type(data: bytes | memoryview) -> bool:
    """True when ``data`` parses as only small varint fields 1 and 2 (pprof ValueType)."""
    fields = protobuf_fields(data, limit=8)
    return fields is not None and all(f in (1, 2) and w == 0 for f, w, _, _ in fields)


def _only_length_delimited(body: bytes | memoryview, allowed: range) -> bool:
    fields = protobuf_fields(body, limit=16)
    return fields is not None and all(f in allowed and w == 2 for f, w, _, _ in fields)


def _first_child(body: bytes | memoryview, field: int) -> memoryview | None:
    """The body of the first length-delimited record ``field`` of a message, if any."""
    fields = protobuf_fields(body, limit=16) or []
    for f, w, start, end in fields:
        if f == field and w == 2:
            return memoryview(body)[start:end]
    return None


def _profile_like(resource_profiles: memoryview) -> bool:
    """The first Profile under a ResourceProfiles starts like a profile, not a span or metric.

    Spans, metrics and log records start with field 1 (trace id, name, time); a Profile's
    field 1 is its ValueType (varint fields only). Deeper differences are left to the reader.
    """
    scope = _first_child(resource_profiles, 2)
    profile = None if scope is None else _first_child(scope, 2)
    if profile is None:
        return True
    fields = protobuf_fields(profile, limit=1)
    if not fields:
        return fields is not None
    field, wire, start, end = fields[0]
    if field != 1:
        return True
    # v1.8 ValueTypes also carry aggregation_temporality (field 3)
    vt = protobuf_fields(profile[start:end], limit=4)
    return wire == 2 and vt is not None and all(f in (1, 2, 3) and w == 0 for f, w, _, _ in vt)


def looks_like_otlp_profiles(data: bytes | memoryview) -> bool:
    """True when the bytes start like a binary OTLP ProfilesData / ExportProfilesServiceRequest.

    That message has field 1 (ResourceProfiles: fields 1..3, all length-delimited, holding
    scopes holding Profiles that start with a ValueType) and at most one field 2 (the
    dictionary: fields 1..7, all length-delimited). v1.6 kept tables in fields 3..8; such a
    payload is accepted here so that the reader can say which version it looks like. A pprof
    Profile differs in its first records: ValueTypes hold varints, samples repeat field 2,
    and its string table (field 6) comes without any ResourceProfiles.
    """
    view = memoryview(data)
    fields = protobuf_fields(view, limit=64)
    if not fields or any(w != 2 or not 1 <= f <= 8 for f, w, _, _ in fields):
        return False
    resources = [view[s:e] for f, _, s, e in fields if f == 1]
    dictionaries = [view[s:e] for f, _, s, e in fields if f == 2]
    if not all(_only_length_delimited(r, range(1, 4)) for r in resources):
        return False
    if resources and not _profile_like(resources[0]):
        return False
    if any(f > 2 for f, _, _, _ in fields):  # v1.6 tables: only after real ResourceProfiles
        return any(len(r) for r in resources)
    if len(dictionaries) > 1 or not all(
        _only_length_delimited(d, range(1, 8)) for d in dictionaries
    ):
        return False
    return bool(dictionaries) or any(len(r) for r in resources)
