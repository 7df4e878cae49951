"""The compiled OTLP/JSON samples reader (profilelab._native._otlpjson) against the Python one:
the same Payload for every document it reads, the Python reader (same result, same error) for
every document it does not; and link ids read in one pass as they are one by one."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profilelab.readers import _otlp_json
from profilelab.readers._wire import WireError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def test_compiled_kernel_is_built() -> None:
    """setup.py builds it as an optional extension: a silent build failure must show here."""
    assert _otlp_json._kernel is not None


def document(
    *profiles: list[dict[str, Any]] | None,
    snake: bool = False,
    stacks: list[list[Any]] = [[], [0]],  # noqa: B006 (never changed)
    locations: list[dict[str, Any]] | None = None,
    links: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A small OTLP/JSON document with one Profile per argument (None: no samples key), and
    the location and link tables given (their keys as given)."""
    key = _otlp_json._Keys(snake)
    entries = [{} if s is None else {"samples": s} for s in profiles]
    scope = {"scope": {"name": "t"}, "profiles": entries}
    dictionary: dict[str, Any] = {
        key("stringTable"): ["", "cpu"],
        key("stackTable"): [{key("locationIndices"): x} if x else {} for x in stacks],
    }
    if locations is not None:
        dictionary[key("locationTable")] = locations
    if links is not None:
        dictionary[key("linkTable")] = links
    return {key("resourceProfiles"): [{key("scopeProfiles"): [scope]}], "dictionary": dictionary}


def same(a: Any, b: Any) -> bool:
    """Deep equality of decoded payloads (numpy and Arrow arrays compared by value)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype
    if isinstance(a, pa.Array):
        return a.equals(b)
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


def outcome(data: bytes, compiled: bool) -> Any:
    try:
        return _otlp_json.decode(data, compiled=compiled)
    except WireError as exc:
        return ("error", str(exc))


def check(data: bytes) -> Any:
    """Both readers agree on ``data``; returns the compiled reader's outcome."""
    fast, slow = outcome(data, True), outcome(data, False)
    assert same(fast, slow), (fast, slow)
    return fast


SAMPLES = [
    {"stackIndex": 1, "values": ["7", 3, "-2"]},
    {"stackIndex": "1", "attributeIndices": [1, "0"], "linkIndex": 0},
    {},
    {"values": [], "timestampsUnixNano": ["18446744073709551615", 0, 1500]},
    {"stackIndex": 0, "values": [-9223372036854775808, "9223372036854775807"]},
]


def test_samples_of_every_shape_are_read_by_the_kernel() -> None:
    data = json.dumps(document(SAMPLES, None, [], SAMPLES[:1]), indent=2).encode()
    cut = _otlp_json._cut(data)
    assert cut is not None and cut.tables.stacks is not None
    got = check(data)
    assert got.dictionary.stack_offsets.tolist() == [0, 0, 1]
    s = got.profiles[0].samples
    assert s.stack.tolist() == [1, 1, 0, 0, 0]
    assert s.value_offsets.tolist() == [0, 3, 3, 3, 3, 5]
    assert s.values.tolist()[:3] == [7, 3, -2]
    assert s.times.tolist() == [-1, 0, 1500]  # uint64 kept as its two's complement
    assert [e.samples.n for e in got.profiles] == [5, 0, 0, 1]


def test_snake_case_and_v18_names_are_read_by_the_kernel() -> None:
    snake = [{"stack_index": 1, "values": [2], "attribute_indices": [0], "link_index": 0}]
    data = json.dumps(document(snake, snake=True)).encode()
    assert _otlp_json._cut(data) is not None
    assert check(data).profiles[0].samples.values.tolist() == [2]
    doc = document([{"stackIndex": 1, "values": ["4"]}])
    prof = doc["resourceProfiles"][0]["scopeProfiles"][0]["profiles"][0]
    prof["sample"] = prof.pop("samples")
    data = json.dumps(doc).encode()
    assert _otlp_json._cut(data) is not None
    assert check(data).version == "1.8"


@pytest.mark.parametrize(
    "sample",
    [
        '{"stackIndex": 1.0}',
        '{"values": ["1e3"]}',
        '{"values": [1E3]}',
        '{"stackIndex": null}',
        '{"values": null}',
        '{"values": [null]}',
        '{"stackIndex": true}',
        '{"stackIndex": "007"}',
        '{"stackIndex": " 7"}',
        '{"stackIndex": ""}',
        '{"st\\u0061ckIndex": 1}',
        '{"stackIndex": 1, "stackIndex": 2}',
        '{"stackIndex": 1, "futureField": {"a": [1]}}',
        '{"locationIndex": 1}',
        '{"stack_index": 1}',
        '{"values": [9223372036854775808]}',
        '{"values": [-9223372036854775809]}',
        '{"timestampsUnixNano": [18446744073709551616]}',
        '{"timestampsUnixNano": ["-1"]}',
        '{"values": [1,]}',
        "[1]",
        '{"values": [NaN]}',
        '{"values": [Infinity]}',
    ],
)
def test_samples_the_kernel_does_not_read_go_to_the_python_reader(sample: str) -> None:
    doc = json.dumps(document([{"stackIndex": 1}, {"stackIndex": 0}]))
    data = doc.replace('{"stackIndex": 0}', sample).encode()
    assert _otlp_json._cut(data) is None
    check(data)


@pytest.mark.parametrize(
    "stack",
    [
        '{"locationIndices": [1.5]}',
        '{"locationIndices": null}',
        '{"locationIndices": [0], "future": 1}',
        '{"locationIndices": [0], "locationIndices": [0]}',
        '{"location_indices": [0]}',
    ],
)
def test_stacks_the_kernel_does_not_read_go_to_the_python_reader(stack: str) -> None:
    doc = json.dumps(document([{"stackIndex": 1}], stacks=[[], [0], [7]]))
    data = doc.replace('{"locationIndices": [7]}', stack).encode()
    assert _otlp_json._cut(data) is None
    check(data)


@pytest.mark.parametrize(
    "change",
    [
        ('"stackTable"', '"stack_table": [], "stackTable"'),  # both spellings
        ('"dictionary"', '"dictionary": {}, "dictionary"'),  # the dictionary twice
        ('"stackTable": [', '"stackTable": null, "x": ['),  # no stack table
        ('"stackTable": [', '"stackTable": {"a": 1}, "x": ['),  # not a list
    ],
)
def test_stack_tables_not_cut_are_read_as_before(change: tuple[str, str]) -> None:
    data = json.dumps(document([{"stackIndex": 1}])).replace(*change, 1).encode()
    cut = _otlp_json._cut(data)
    assert cut is None or cut.tables.stacks is None
    check(data)


def test_a_stack_table_spelled_unlike_the_document_is_left_to_the_python_reader() -> None:
    doc = document([{"stack_index": 1}], snake=True)
    doc["dictionary"]["stackTable"] = doc["dictionary"].pop("stack_table")  # ignored
    data = json.dumps(doc).encode()
    cut = _otlp_json._cut(data)
    assert cut is not None and cut.tables.stacks is None
    assert len(check(data).dictionary.stack_offsets) == 1


NESTED = '{"resourceProfiles": [{"scopeProfiles": [{"profiles": [%s]}]}]}'


@pytest.mark.parametrize(
    "text",
    [
        '{"resourceProfiles": [], "resourceProfiles": []}',
        '{"resourceProfiles": [], "resource_profiles": []}',
        '{"resourceProfiles": [{"scopeProfiles": [], "scopeProfiles": []}]}',
        NESTED % "1",
        NESTED % '{"samples": [], "sample": []}',
        NESTED % '{"samples": [{}]}' + " x",
        (NESTED % '{"samples": [{}]}')[:-1],
        "[]",
    ],
)
def test_documents_the_walk_does_not_follow_go_to_the_python_reader(text: str) -> None:
    assert _otlp_json._kernel is not None and _otlp_json._kernel.locate(text.encode()) is None
    check(text.encode())


def test_errors_outside_the_samples_name_their_place_in_the_whole_document() -> None:
    good = json.dumps(document(SAMPLES), indent=1)
    bad = good.replace('"cpu"', "NaN").encode()
    assert _otlp_json._cut(bad) is not None  # the samples read, the rest refused
    got = check(bad)
    assert got[0] == "error" and "NaN" in got[1]
    bad = (good[:-2] + ",}").encode()  # a trailing comma after the samples, on the last line
    got, lines = check(bad), bad.count(b"\n") + 1
    assert got[0] == "error" and f"line {lines} " in got[1]
    bad = good.replace('"scope": {', '"scope": [{').encode()
    assert check(bad)[0] == "error"


INT = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1).map(str))
U64 = st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1).map(str))
SAMPLE = st.fixed_dictionaries(
    {},
    optional={
        "stackIndex": INT,
        "linkIndex": INT,
        "attributeIndices": st.lists(INT, max_size=3),
        "values": st.lists(INT, max_size=3),
        "timestampsUnixNano": st.lists(U64, max_size=3),
    },
)


@FUZZ
@given(
    st.lists(st.lists(SAMPLE, max_size=6), min_size=1, max_size=3),
    st.lists(st.lists(INT, max_size=4), max_size=4),
    st.sampled_from([None, 1]),
)
def test_kernel_matches_the_python_reader_on_any_samples(
    profiles: list[list[dict[str, Any]]], stacks: list[list[Any]], indent: int | None
) -> None:
    data = json.dumps(document(*profiles, stacks=stacks), indent=indent).encode()
    assert _otlp_json._cut(data) is not None
    check(data)


@FUZZ
@given(st.data())
def test_damaged_samples_get_the_python_readers_result_or_error(data: st.DataObject) -> None:
    check(damaged(document(SAMPLES[:3], SAMPLES[3:]), b'"samples"', data))


def damaged(doc: dict[str, Any], after: bytes, data: st.DataObject) -> bytes:
    """``doc`` as JSON with one to three bytes replaced or deleted after ``after``."""
    text = bytearray(json.dumps(doc).encode())
    start = text.index(after)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(start, len(text) - 1))
        if data.draw(st.booleans()):
            text[at] = data.draw(st.sampled_from(b'{}[],:"-01e. \\anfA'))
        else:
            del text[at]
    return bytes(text)


ID = st.one_of(
    st.binary(min_size=16, max_size=16).map(bytes.hex),
    st.binary(min_size=16, max_size=16).map(lambda b: b.hex().upper()),
    st.just("00" * 16),
    st.just(""),
    st.none(),
    st.binary(min_size=16, max_size=16).map(lambda b: base64.b64encode(b).decode()),
    st.text("0123456789abcdef ", min_size=32, max_size=32),
)


@FUZZ
@given(st.lists(ID, max_size=5))
def test_link_ids_in_one_pass_are_read_as_one_by_one(ids: list[str | None]) -> None:
    def one_by_one() -> Any:
        return pa.array([_otlp_json._id(x, 16, "traceId") or None for x in ids], pa.string())

    def at_once() -> Any:
        return _otlp_json._ids(ids, 16, "traceId")

    got = []
    for read in (one_by_one, at_once):
        try:
            got.append(read())
        except WireError as exc:
            got.append(str(exc))
    assert same(*got), got


LOCATIONS = [
    {},
    {"mappingIndex": 1, "address": "18446744073709551615", "attributeIndices": [0, "1"]},
    {"lines": [{"functionIndex": 1, "line": "12", "column": 3}, {}]},
    {"line": [{"functionIndex": "2"}], "address": 4096},  # v1.8's name for the lines
    {"lines": [], "mappingIndex": "0"},
]
LINKS = [
    {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"},
    {"traceId": "0AF7651916CD43DD8448EB211C80319C", "spanId": "B7AD6B7169203331"},
    {"traceId": "00" * 16, "spanId": "00" * 8},
    {"traceId": "", "spanId": ""},
    {},
    {"spanId": "0102030405060708"},
]


def test_location_and_link_tables_of_every_shape_are_read_by_the_kernel() -> None:
    data = json.dumps(document(SAMPLES, locations=LOCATIONS, links=LINKS), indent=2).encode()
    cut = _otlp_json._cut(data)
    assert cut is not None
    assert cut.tables.locations is not None and cut.tables.links is not None
    d = check(data).dictionary
    assert d.location_address.tolist() == [0, 2**64 - 1, 0, 4096, 0]
    assert d.line_offsets.tolist() == [0, 0, 0, 2, 3, 3]
    assert d.line_function.tolist() == [1, 0, 2] and d.line_line.tolist() == [12, 0, 0]
    assert d.link_trace_id.to_pylist() == ["0af7651916cd43dd8448eb211c80319c"] * 2 + [None] * 4
    assert d.link_span_id.to_pylist()[-1] == "0102030405060708"
    snake = json.dumps(
        document(
            [{"stack_index": 1, "values": [2]}],
            snake=True,
            locations=[{"mapping_index": 1, "lines": [{"function_index": 3}]}],
            links=[{"trace_id": "11" * 16, "span_id": "22" * 8}],
        )
    ).encode()
    cut = _otlp_json._cut(snake)
    assert cut is not None and cut.tables.locations is not None and cut.tables.links is not None
    assert check(snake).dictionary.line_function.tolist() == [3]


@pytest.mark.parametrize(
    ("location", "link"),
    [
        ('{"mappingIndex": 1.0}', None),
        ('{"address": "-1"}', None),
        ('{"address": 18446744073709551616}', None),
        ('{"attributeIndices": null}', None),
        ('{"lines": null}', None),
        ('{"lines": [{"functionIndex": 1}], "line": []}', None),
        ('{"lines": [{"functionIndex": 1, "inlined": true}]}', None),
        ('{"isFolded": false}', None),
        ('{"m\\u0061ppingIndex": 1}', None),
        (None, '{"traceId": "CvdlGRbNQ92ESOshHIAxnA=="}'),  # base64
        (None, '{"traceId": "0af7651916cd43dd8448eb211c80319"}'),  # a digit short
        (None, '{"traceId": "0af7651916cd43dd8448eb211c80319z"}'),
        (None, '{"spanId": null}'),
        (None, '{"spanId": "b7ad 6b7169203331"}'),
        (None, '{"spanId": "b7ad6b716920333\\u0031"}'),
        (None, '{"spanId": 7}'),
        (None, '{"flags": 1}'),
    ],
)
def test_location_and_link_entries_the_kernel_does_not_read_go_to_the_python_reader(
    location: str | None, link: str | None
) -> None:
    """The table is left to the JSON parser and the Python reader, which reads it (the same
    Payload) or refuses it (the same error); the samples and stacks are still the kernel's."""
    doc = json.dumps(document(SAMPLES, locations=[{"mappingIndex": 7}], links=LINKS[:1]))
    if location is not None:
        doc = doc.replace('{"mappingIndex": 7}', location)
    if link is not None:
        doc = doc.replace(json.dumps(LINKS[0]), link)
    data = doc.encode()
    cut = _otlp_json._cut(data)
    assert cut is not None and cut.tables.stacks is not None
    assert (cut.tables.locations is None) == (location is not None)
    assert (cut.tables.links is None) == (link is not None)
    check(data)


LOCATION = st.fixed_dictionaries(
    {},
    optional={
        "mappingIndex": INT,
        "address": U64,
        "attributeIndices": st.lists(INT, max_size=3),
        "lines": st.lists(
            st.fixed_dictionaries({}, optional={"functionIndex": INT, "line": INT, "column": INT}),
            max_size=3,
        ),
    },
)
LINK = st.fixed_dictionaries(
    {},
    optional={
        "traceId": st.one_of(st.binary(min_size=16, max_size=16).map(bytes.hex), st.just("")),
        "spanId": st.one_of(st.binary(min_size=8, max_size=8).map(bytes.hex), st.just("")),
    },
)


@FUZZ
@given(st.lists(LOCATION, max_size=6), st.lists(LINK, max_size=6), st.sampled_from([None, 1]))
def test_kernel_matches_the_python_reader_on_any_location_and_link_tables(
    locations: list[dict[str, Any]], links: list[dict[str, Any]], indent: int | None
) -> None:
    data = json.dumps(
        document(SAMPLES[:1], locations=locations, links=links), indent=indent
    ).encode()
    cut = _otlp_json._cut(data)
    assert cut is not None and cut.tables.locations is not None and cut.tables.links is not None
    check(data)


@FUZZ
@given(st.data())
def test_damaged_location_and_link_tables_get_the_python_readers_result_or_error(
    data: st.DataObject,
) -> None:
    doc = document(SAMPLES[:1], locations=LOCATIONS, links=LINKS)
    check(damaged(doc, b'"locationTable"', data))


@pytest.mark.parametrize(
    "rel",
    [
        "elastic-ottl-playground@3179348d/testdata/profiles.json",  # shipped: 1.9+
        "elastic-ottl-playground/testdata/profiles.json",  # v1.8: locations' "line"
        "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile.pb.json",
    ],
)
def test_real_documents_have_their_tables_read_by_the_kernel(corpus: Any, rel: str) -> None:
    """Real OTLP/JSON exports: the kernel reads their stack and location tables (and link
    tables where they have one), and the Payload is the Python reader's, the version too."""
    data = (corpus / rel).read_bytes()
    cut = _otlp_json._cut(data)
    assert cut is not None
    assert cut.tables.stacks is not None and cut.tables.locations is not None
    assert (cut.tables.links is not None) == (b'"linkTable"' in data)
    check(data)
