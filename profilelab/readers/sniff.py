"""Content sniffing: formats are told apart by their bytes, here and nowhere else.

Every built-in format's test lives in this module, which imports only the standard
library: :func:`profilelab.readers.read` tries the tests in order and imports the one
reader module whose format matched (a process that reads pprof never imports the JFR,
trace-event or legacy readers, nor what they import).
"""

from __future__ import annotations

import codecs
import itertools
import re
import struct
from collections.abc import Iterator


def looks_like_jfr(data: bytes | memoryview) -> bool:
    """A Java Flight Recorder recording: its first chunk starts with the magic ``FLR\\0``."""
    return bytes(data[:4]) == b"FLR\x00"


# ---- pprof and OTLP (protobuf) --------------------------------------------------------------


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
    for got in iter_protobuf_fields(data, limit):
        if got is None:
            return None
        out.append(got)
    return out


def iter_protobuf_fields(
    data: bytes | memoryview, limit: int = 16
) -> Iterator[tuple[int, int, int, int] | None]:
    """:func:`protobuf_fields` one field at a time, so a sniff can stop at the first field
    that rules its format out; a final None when the bytes stop looking like protobuf."""
    pos = n = 0
    try:
        while pos < len(data) and n < limit:
            tag, pos = read_varint(data, pos)
            field, wire = tag >> 3, tag & 7
            if field == 0:
                yield None
                return
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
                yield None
                return
            if pos > len(data):
                yield None
                return
            n += 1
            yield field, wire, start, pos
    except ValueError:
        yield None


def looks_like_value_type(data: bytes | memoryview) -> bool:
    """True when ``data`` parses as only small varint fields 1 and 2 (pprof ValueType)."""
    fields = protobuf_fields(data, limit=8)
    return fields is not None and all(f in (1, 2) and w == 0 for f, w, _, _ in fields)


def _only_length_delimited(body: bytes | memoryview, allowed: range) -> bool:
    """The first 16 fields of ``body`` parse and are length-delimited fields of ``allowed``
    (the first that is not decides: a pprof ValueType's first varint rules it out)."""
    return all(
        got is not None and got[0] in allowed and got[1] == 2
        for got in iter_protobuf_fields(body, limit=16)
    )


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
    fields = []
    # Field by field, stopping at the first one this message cannot have: a pprof is ruled
    # out by its first record (a ValueType of varints is no ResourceProfiles), not after
    # walking its samples.
    for got in iter_protobuf_fields(view, limit=64):
        if got is None or got[1] != 2 or not 1 <= got[0] <= 8:
            return False
        if got[0] == 1 and not _only_length_delimited(view[got[2] : got[3]], range(1, 4)):
            return False
        fields.append(got)
    if not fields:
        return False
    resources = [view[s:e] for f, _, s, e in fields if f == 1]
    dictionaries = [view[s:e] for f, _, s, e in fields if f == 2]
    if resources and not _profile_like(resources[0]):
        return False
    if any(f > 2 for f, _, _, _ in fields):  # v1.6 tables: only after real ResourceProfiles
        return any(len(r) for r in resources)
    if len(dictionaries) > 1 or not all(
        _only_length_delimited(d, range(1, 8)) for d in dictionaries
    ):
        return False
    return bool(dictionaries) or any(len(r) for r in resources)


# A JSON object whose first key is one only an OTLP profiles document starts with.
_OTLP_JSON_START = re.compile(
    rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"(?:resourceProfiles|resource_profiles|dictionary)"\s*:'
)


def looks_like_otlp_json(data: bytes) -> bool:
    """An OTLP/JSON profiles document (its first key is one only such a document has)."""
    return _OTLP_JSON_START.match(data[:4096]) is not None


def looks_like_otlp(data: bytes) -> bool:
    """Binary ProfilesData (see :func:`looks_like_otlp_profiles`) or an OTLP/JSON profiles
    document."""
    return looks_like_otlp_json(data) or looks_like_otlp_profiles(data)


def looks_like_pprof(data: bytes) -> bool:
    """pprof starts with a ValueType (sample_type) or a field only Profile has (3..15).

    An OTLP profiles message is protobuf too and may start with an empty record that
    looks like an empty ValueType, so it is ruled out first.
    """
    head = _pprof_head(data)
    return head == _PROFILE_ONLY or (head == _VALUE_TYPE and not looks_like_otlp_profiles(data))


def pprof_start(data: bytes) -> bool:
    """:func:`looks_like_pprof` without ruling OTLP out: the registry of formats
    (:mod:`profilelab.readers`) tries OTLP first, so its pprof test needs no second walk of
    the OTLP fields (a fifth of the sniffing of a pprof input)."""
    return _pprof_head(data) != _NOT_PPROF


_NOT_PPROF, _PROFILE_ONLY, _VALUE_TYPE = 0, 1, 2


def _pprof_head(data: bytes) -> int:
    """How ``data`` starts: not as pprof, with a field only Profile has, or with a
    ValueType (as an OTLP message may too)."""
    fields = protobuf_fields(data, limit=1)
    if not fields:
        return _NOT_PPROF
    field, wire, start, end = fields[0]
    if 3 <= field <= 15:
        return _PROFILE_ONLY
    if field == 1 and wire == 2 and looks_like_value_type(data[start:end]):
        return _VALUE_TYPE
    return _NOT_PPROF


# ---- Python's pstats (marshal) ---------------------------------------------------------------

_MARSHAL_DICT = (0x7B, 0xFB)  # marshal TYPE_DICT, with or without FLAG_REF
_MARSHAL_TUPLE = (0x28, 0x29, 0xA8, 0xA9)  # TYPE_TUPLE / TYPE_SMALL_TUPLE (+ FLAG_REF)
_MARSHAL_NULL = 0x30  # end of a dict: an empty stats dict is "{0"


def looks_like_pstats(data: bytes) -> bool:
    """A marshalled dict whose first key is a tuple (or an empty dict)."""
    return (
        len(data) >= 2
        and data[0] in _MARSHAL_DICT
        and (data[1] in _MARSHAL_TUPLE or (data[1] == _MARSHAL_NULL and len(data) == 2))
    )


# ---- legacy pprof (binary CPU profiles and text heap/contention/thread profiles) ------------

_LEGACY_WORDS = (("<u4", "<5I", 4), (">u4", ">5I", 4), ("<u8", "<5Q", 8), (">u8", ">5Q", 8))
_LEGACY_HEAD = 8192
_A = re.ASCII
HEAP_HEADER = re.compile(
    r"heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] *@ *(heap[_a-z0-9]*)/?(\d*)", _A
)
GROWTH_HEADER = re.compile(r"heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] @ growthz?", _A)
FRAGMENTATION_HEADER = re.compile(
    r"heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] @ fragmentationz?", _A
)
COUNT_START = re.compile(r"(\S+) profile: total \d+", _A)
THREADZ_START = re.compile(r"--- threadz \d+ ---", _A)
THREAD_START = re.compile(r"--- Thread ([0-9A-Fa-f]+) \(name: (.*)/(\d+)\) stack: ---", _A)
CONTENTION_PREFIXES = ("--- contentionz ", "--- mutex:", "--- contention:")


def legacy_cpu_header(data: bytes) -> tuple[str, int, int, int] | None:
    """The header of a legacy binary CPU profile, ``0, 3, 0 (C++/Go) or 1 (Java), period in
    microseconds, 0`` in words of 32 or 64 bits of either endianness: (numpy dtype of the
    words, word size, kind 0=C++/Go 1=Java, period in microseconds), or None."""
    if data[:4] != b"\x00\x00\x00\x00":  # the first word is 0 in every layout
        return None
    return legacy_cpu_header_layouts(data)


def legacy_cpu_header_layouts(data: bytes) -> tuple[str, int, int, int] | None:
    """:func:`legacy_cpu_header` by trying every layout (without its first-word check)."""
    for dtype, layout, size in _LEGACY_WORDS:
        if len(data) < 5 * size:
            continue
        w = struct.unpack(layout, data[: 5 * size])
        if w[0] == 0 and w[1] == 3 and w[2] in (0, 1) and w[3] > 0 and w[4] == 0:
            return dtype, size, int(w[2]), int(w[3])
    return None


def looks_like_legacy(data: bytes) -> bool:
    """A legacy CPU header, or a first line that only a legacy text profile has."""
    if legacy_cpu_header(data) is not None:
        return True
    head = data[:_LEGACY_HEAD]
    if b"\x00" in head:
        return False
    lines = _text_lines(head)
    first = next(lines).rstrip("\r")
    if first.startswith(CONTENTION_PREFIXES) or first.strip() in (
        "--- heapz 1 ---",
        "--- contentionz 1 ---",
    ):
        return True
    if any(rx.search(first) for rx in (HEAP_HEADER, GROWTH_HEADER)):
        return True
    if FRAGMENTATION_HEADER.search(first):
        return True
    header = next(
        (
            ln.rstrip("\r")
            for ln in itertools.chain((first,), lines)
            if ln.strip() and ln.strip()[0] != "#"
        ),
        "",
    )
    return bool(
        COUNT_START.fullmatch(header) or THREADZ_START.search(header) or THREAD_START.search(header)
    )


def _text_lines(head: bytes) -> Iterator[str]:
    """The lines of ``head`` as ``head.decode("utf-8", errors="replace").split("\\n")``
    gives them, each decoded when asked for: a sniff that reads two lines of a binary input
    decodes no more. (A newline byte never occurs inside a UTF-8 sequence, so decoding line
    by line replaces the same bytes.)"""
    start = 0
    while (end := head.find(b"\n", start)) >= 0:
        yield head[start:end].decode("utf-8", errors="replace")
        start = end + 1
    yield head[start:].decode("utf-8", errors="replace")


# ---- text: perf script, folded stacks --------------------------------------------------------

# stackcollapse-perf.pl's patterns (Rust regex syntax), shared with the perf script reader
PERF_HEADER = r"^(\S.+?)\s+(\d+)/*(\d+)?\s+"
PERF_FRAME = r"^\s*(\w+)\s*(.+) \((.*)\)"
_PERF_SNIFF_HEADER = re.compile(PERF_HEADER + r".*:\s*$")
_PERF_SNIFF_FRAME = re.compile(PERF_FRAME)


def looks_like_perf_script(data: bytes) -> bool:
    """Text whose first record line is a header ending in ``event:`` and whose next line
    is a frame (``address symbol (binary)``)."""
    head = data[:8192]
    if b"\x00" in head:
        return False
    records = (ln.rstrip("\r") for ln in _text_lines(head) if ln.strip() and not ln.startswith("#"))
    lines = list(itertools.islice(records, 2))
    return (
        len(lines) >= 2
        and bool(_PERF_SNIFF_HEADER.match(lines[0]))
        and bool(_PERF_SNIFF_FRAME.match(lines[1]))
        and not _PERF_SNIFF_HEADER.match(lines[1])
    )


_FOLDED_LINE = re.compile(r"^[^\x00-\x08\x0b-\x1f]*?[ \t]+\d+[ \t]*$")
_FOLDED_HEAD = 4096
_FOLDED_LINES = 20


def utf8_text(data: bytes) -> bytes:
    """UTF-16 text with its byte-order mark (Windows tools write it) as UTF-8; a UTF-8
    mark is dropped. Other bytes are returned as they are."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return data.decode("utf-16", errors="replace").encode("utf-8")
    return data.removeprefix(codecs.BOM_UTF8)


def looks_like_folded(data: bytes) -> bool:
    """Text whose first stack line and most of the next ones (up to 20 checked) end in
    whitespace and a count. Not every line must match, so that a damaged line gets an
    error naming it rather than "unrecognized format"."""
    head = utf8_text(data[:_FOLDED_HEAD])
    if b"\x00" in head or head.lstrip()[:1] == b"{":
        return False
    lines = _text_lines(head)
    if len(data) > _FOLDED_HEAD:
        lines = _all_but_last(lines)  # the last one may be cut
    records = (ln.rstrip("\r") for ln in lines if ln.strip() and not ln.startswith("#"))
    first = next(records, None)
    if first is None or not _FOLDED_LINE.match(first):  # binary input stops here
        return False
    rest = [bool(_FOLDED_LINE.match(ln)) for ln in itertools.islice(records, _FOLDED_LINES - 1)]
    return 2 * (1 + sum(rest)) >= 1 + len(rest)


def _all_but_last(items: Iterator[str]) -> Iterator[str]:
    prev = next(items, None)
    for item in items:
        yield prev  # type: ignore[misc]
        prev = item


# ---- JSON: speedscope, Chrome trace events, .cpuprofile ---------------------------------------

_SPEEDSCOPE_MARK = b"speedscope.app/file-format-schema.json"


def looks_like_speedscope(data: bytes) -> bool:
    head = data[:4096].lstrip()
    return head[:1] == b"{" and _SPEEDSCOPE_MARK in head


_HEAD_SPACE = re.compile(rb"[ \t\n\r\x0b\x0c]*")  # what bytes.lstrip() strips
_TRACE_HEAD = 1 << 16


def looks_like_trace_event(data: bytes) -> bool:
    """JSON of trace events: an array with a ``"ph"`` key, or an object with
    ``"traceEvents"``, in its first 64 KiB (searched in place, not copied)."""
    first = _HEAD_SPACE.match(data, 0, _TRACE_HEAD).end()  # type: ignore[union-attr]
    start = data[first : first + 1]
    if start == b"[":
        return data.find(b'"ph"', first, _TRACE_HEAD) >= 0
    return start == b"{" and data.find(b'"traceEvents"', first, _TRACE_HEAD) >= 0


def looks_like_cpuprofile(data: bytes) -> bool:
    head = data[:4096].lstrip()
    return head[:1] == b"{" and b'"nodes"' in head and b'"callFrame"' in head
