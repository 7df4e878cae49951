"""Content sniffing helpers shared by the readers: formats are told apart by their bytes."""

from __future__ import annotations


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


def looks_like_otlp_profiles(data: bytes | memoryview) -> bool:
    """True when the bytes start like a binary OTLP ProfilesData / ExportProfilesServiceRequest.

    That message has only field 1 (ResourceProfiles, whose own fields 1..3 are all
    length-delimited) and at most one field 2 (the dictionary, fields 1..7, all
    length-delimited). A pprof Profile differs in its first records: ValueTypes hold varints,
    samples repeat field 2, and the string table (field 6) is always present.
    """
    view = memoryview(data)
    fields = protobuf_fields(view, limit=64)
    if not fields:
        return False
    dictionaries = 0
    content = False
    for field, wire, start, end in fields:
        if wire != 2 or field not in (1, 2):
            return False
        body = view[start:end]
        if field == 1:
            if not _only_length_delimited(body, range(1, 4)):
                return False
            content |= end > start
        else:
            dictionaries += 1
            if dictionaries > 1 or not _only_length_delimited(body, range(1, 8)):
                return False
            content = True
    return content
