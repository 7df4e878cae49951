"""The format sniffs' shortcuts decide as the plain tests they replace (kept here as the
reference): the legacy header's first-word check, the trace-event test searching in place,
the early exit of a length-delimited message test, and the registry's pprof test that
leaves OTLP to the OTLP test tried before it."""

from __future__ import annotations

import struct

from hypothesis import example, given, settings
from hypothesis import strategies as st

from profilelab import readers
from profilelab.readers import sniff
from tests.malformed_corpus import seeds
from tests.test_formats_fuzz import damaged


def _trace_event_reference(data: bytes) -> bool:
    head = data[: 1 << 16].lstrip()
    if head[:1] == b"[":
        return b'"ph"' in head
    return head[:1] == b"{" and b'"traceEvents"' in head


def _only_length_delimited_reference(body: bytes, allowed: range) -> bool:
    fields = sniff.protobuf_fields(body, limit=16)
    return fields is not None and all(f in allowed and w == 2 for f, w, _, _ in fields)


def _pprof_reference(data: bytes) -> bool:
    fields = sniff.protobuf_fields(data, limit=1)
    if not fields:
        return False
    field, wire, start, end = fields[0]
    if 3 <= field <= 15:
        return True
    return (
        field == 1
        and wire == 2
        and sniff.looks_like_value_type(data[start:end])
        and not sniff.looks_like_otlp_profiles(data)
    )


def _format_reference(data: bytes) -> str | None:
    """The first format of the registry whose plain test accepts ``data``."""
    readers._load_builtin_formats()
    plain = {"pprof": _pprof_reference, "trace-event": _trace_event_reference}
    return next((f.name for f in readers.FORMATS if plain.get(f.name, f.sniff)(data)), None)


WORDS = st.sampled_from([0, 1, 3, 0xFFFFFFFF, 2**63 + 3, 100])
HEADERS = st.builds(
    lambda layout, words, tail: (
        struct.pack(layout, *[w % (1 << (8 * struct.calcsize(layout) // 5)) for w in words]) + tail
    ),
    st.sampled_from([w[1] for w in sniff._LEGACY_WORDS]),
    st.lists(WORDS, min_size=5, max_size=5),
    st.binary(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(HEADERS, st.binary(max_size=48), HEADERS.map(lambda b: b[: len(b) // 2])))
@example(struct.pack("<5I", 0, 3, 0, 100, 0))
@example(struct.pack(">5Q", 0, 3, 1, 10_000, 0) + b"tail")
def test_the_legacy_header_is_found_as_by_trying_every_layout(data: bytes) -> None:
    want = sniff.legacy_cpu_header_layouts(data)
    assert sniff.legacy_cpu_header(data) == want


TOKENS = st.sampled_from(
    [
        b" ",
        b"\t",
        b"\n",
        b"\r",
        b"\x0b",
        b"\x0c",
        b"\x00",
        b"[",
        b"{",
        b'"ph"',
        b'"traceEvents"',
        b"x",
        b'"p',
        b'h"',
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, max_size=12).map(b"".join))
@example(b" " * (1 << 16) + b'["ph"]')
@example(b" " * ((1 << 16) - 1) + b'{"traceEvents"')
@example(b"[" + b" " * ((1 << 16) - 4) + b'"ph"')
@example(b"{" + b"x" * ((1 << 16) - 14) + b'"traceEvents"')
def test_trace_events_are_told_as_by_stripping_a_copy(data: bytes) -> None:
    assert sniff.looks_like_trace_event(data) == _trace_event_reference(data)


PROTOBUFISH = st.lists(
    st.one_of(
        st.binary(max_size=3),
        st.sampled_from(
            [b"\x0a\x00", b"\x12\x02ab", b"\x08\x01", b"\x1a\x01", b"\x22\x05", b"\x80"]
        ),
    ),
    max_size=20,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(PROTOBUFISH, st.sampled_from([range(1, 4), range(1, 8)]))
def test_a_length_delimited_message_is_told_as_by_parsing_all_its_fields(
    body: bytes, allowed: range
) -> None:
    got = sniff._only_length_delimited(body, allowed)
    assert got == _only_length_delimited_reference(body, allowed)


_SEEDS = [data for _, data in seeds().values()]


@settings(max_examples=300, deadline=None)
@given(st.one_of(damaged(_SEEDS), PROTOBUFISH, st.binary(max_size=64)))
# a field only pprof has first, then an OTLP ResourceProfiles: pprof, and OTLP too
@example(b"\x1a\x00" + b"\x0a\x02\x0a\x00")
def test_the_registry_picks_the_format_the_plain_tests_pick(data: bytes) -> None:
    readers._load_builtin_formats()
    found = readers._format_of(data)
    assert (found.name if found else None) == _format_reference(data)
    assert sniff.looks_like_pprof(data) == _pprof_reference(data)


def test_every_seed_is_told_as_the_plain_tests_tell_it() -> None:
    for data in _SEEDS:
        found = readers._format_of(data)
        assert (found.name if found else None) == _format_reference(data)
