"""OTLP schema versions (read v1.8 to v1.11, refuse older ones clearly), sniffing against pprof
and other OTLP signals, and malformed payloads: one FormatError naming the input each."""

from __future__ import annotations

import json
import os

import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.profiles.v1development import profiles_pb2 as P

import profilelab
from profilelab.readers import _otlp_native, _otlp_tables, _wire, otlp, sniff
from profilelab.readers._input import open_input
from profilelab.readers.sniff import looks_like_otlp, looks_like_pprof
from tests.otlp_helpers import dictionary, fixed64, fld, packed, request, sid, with_profile

DICT = dictionary().SerializeToString()
scan_loop = _wire._scan_loop
VT = fld(1, sid("cpu")) + fld(2, sid("nanoseconds"))


def version(data: bytes) -> str:
    return otlp.decode(open_input(data)).version


def values(data: bytes) -> list[tuple[int, str | None]]:
    p = profilelab.load(data)
    p.check()
    labels = p.samples.join(p.labels, on="label_set_id", how="left").sort("sample_index")
    return labels.select("value", "str").rows()


def old_sample(stack: int, vals: list[int], attrs: list[int] = (), link: int = 0) -> bytes:  # type: ignore[assignment]
    """A v1.8/v1.9 Sample: stack 1, values 2, attributes 3, link 4."""
    out = fld(1, stack) + packed(2, vals)
    out += packed(3, attrs) if attrs else b""
    return out + (fld(4, link) if link else b"")


def test_v19_sample_layout_is_detected_from_wire_types() -> None:
    profile = fld(1, VT) + fld(2, old_sample(1, [7], [1])) + fld(2, old_sample(2, [3], [1]))
    # dropped_attributes_count is field 8 from v1.9 on (v1.8: field 9)
    data = with_profile(DICT, profile + fixed64(3, 1_000) + fld(8, 1))
    assert version(data) == "1.9"
    assert values(data) == [(7, "t1"), (3, "t1")]


def test_v110_payload_with_the_same_content() -> None:
    msg = request(
        [
            P.Sample(stack_index=1, values=[7], attribute_indices=[1]),
            P.Sample(stack_index=2, values=[3], attribute_indices=[1]),
        ]
    )
    data = msg.SerializeToString()
    assert version(data) == "1.10"
    assert values(data) == [(7, "t1"), (3, "t1")]


def test_v19_values_only_samples_are_not_mistaken_for_attributes() -> None:
    # Fields 1 and 2 only: v1.10 would read [1] as attribute indices and find no values.
    profile = fld(1, VT) + fld(2, old_sample(1, [1])) + fld(2, old_sample(2, [2]))
    data = with_profile(DICT, profile)
    assert version(data) == "1.8/1.9"  # nothing in the Profile tells v1.8 from v1.9 here
    assert values(data) == [(1, None), (2, None)]


def test_v110_attributes_with_timestamps_only() -> None:
    data = request(
        [P.Sample(stack_index=1, attribute_indices=[1], timestamps_unix_nano=[5, 6])]
    ).SerializeToString()
    assert version(data) == "1.10"
    assert values(data) == [(1, "t1"), (1, "t1")]


def test_v18_profile_layout_with_comments() -> None:
    vt18 = VT + fld(3, 1)  # aggregation_temporality
    profile = fld(1, vt18) + fld(2, old_sample(1, [5])) + packed(7, [sid("main")]) + packed(12, [1])
    data = with_profile(DICT, profile)
    assert version(data) == "1.8"
    p = profilelab.load(data)
    assert p.profiles["comments"][0].to_list() == ["main"]
    assert {"key": "thread.name", "value": "t1"} in p.profiles["labels"][0].to_list()


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        # v1.7: attribute_table holds KeyValue (a string key in field 1)
        (with_profile(fld(6, fld(1, b"key")) + fld(5, b""), fld(1, VT)), "v1.7"),
        # v1.6: the tables live on ProfilesData itself (field 6 = string_table)
        (fld(1, fld(2, fld(2, fld(1, VT)))) + fld(6, b"") + fld(6, b"cpu"), "v1.6"),
        # v1.4/v1.5: Profile carries its own tables (field 10 = string_table)
        (with_profile(DICT, fld(1, VT) + fld(10, b"") + fld(13, VT)), ""),
        # v1.7 Sample: locations_start_index/length and unpacked uint64 timestamps in field 6
        (with_profile(DICT, fld(1, VT) + fld(2, fld(1, 0) + fld(2, 3) + packed(6, [5]))), ""),
    ],
    ids=["v1.7-dictionary", "v1.6-tables", "v1.5-profile", "v1.7-sample"],
)
def test_older_schemas_fail_with_a_version_message(data: bytes, hint: str) -> None:
    with pytest.raises(profilelab.FormatError, match="another OTLP profiles schema version") as err:
        profilelab.load(data, name="old.otlp")
    assert str(err.value).startswith("old.otlp: ") and hint in str(err.value)


def test_json_older_names_fail_with_a_version_message() -> None:
    doc = {
        "resourceProfiles": [
            {
                "scopeProfiles": [
                    {"profiles": [{"sampleType": [{"type": 1}], "locationIndices": [1]}]}
                ]
            }
        ]
    }
    with pytest.raises(profilelab.FormatError, match=r"v1.7 or older.*schema version"):
        profilelab.load(json.dumps(doc).encode())


def test_mixed_sample_layouts_are_refused() -> None:
    # a packed field 3 only exists in v1.8/v1.9, a packed field 4 only in v1.10
    profile = fld(1, VT) + fld(2, old_sample(1, [5], [1])) + fld(2, fld(1, 1) + packed(4, [3]))
    with pytest.raises(profilelab.FormatError, match=r"mix the v1.8/v1.9 and v1.10 layouts"):
        profilelab.load(with_profile(DICT, profile))


# ---- sniffing ------------------------------------------------------------------------------------


def test_sniffing_tells_otlp_from_pprof(corpus) -> None:  # type: ignore[no-untyped-def]
    pprof_bytes = open_input(corpus / "google-pprof/internal/report/testdata/sample.cpu").data
    otlp_bytes = request([P.Sample(stack_index=1, values=[1])]).SerializeToString()
    assert looks_like_pprof(pprof_bytes) and not looks_like_otlp(pprof_bytes)
    assert looks_like_otlp(otlp_bytes) and not looks_like_pprof(otlp_bytes)
    # an OTLP payload that starts with an empty ResourceProfiles (looks like an empty ValueType)
    empty_first = fld(1, b"") + otlp_bytes
    assert looks_like_otlp(empty_first) and not looks_like_pprof(empty_first)
    # a pprof whose first sample type is empty (type and unit 0)
    pprof_empty_type = fld(1, b"") + fld(2, packed(1, [1]) + packed(2, [5])) + fld(6, b"")
    assert looks_like_pprof(pprof_empty_type) and not looks_like_otlp(pprof_empty_type)


def test_sniffing_a_pprof_stops_at_its_first_record(monkeypatch: pytest.MonkeyPatch) -> None:
    # a pprof of 5,000 samples: ruling OTLP out must not walk its samples (up to 64 fields)
    body = fld(1, fld(1, 1) + fld(2, 2))
    data = body + fld(2, packed(1, [1]) + packed(2, [5])) * 5_000 + fld(6, b"")
    calls = 0
    real = sniff.read_varint

    def counting(data: bytes | memoryview, pos: int) -> tuple[int, int]:
        nonlocal calls
        calls += 1
        return real(data, pos)

    monkeypatch.setattr(sniff, "read_varint", counting)
    assert not looks_like_otlp(data) and looks_like_pprof(data)
    assert calls < 40


def test_other_otlp_signals_are_not_profiles() -> None:
    req = trace_service_pb2.ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add(name="GET /")
    span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
    metrics = metrics_service_pb2.ExportMetricsServiceRequest()
    metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="http.server.duration")
    for msg in (req, metrics):
        assert not looks_like_otlp(msg.SerializeToString())
        with pytest.raises(profilelab.FormatError, match="unrecognized format"):
            profilelab.load(msg.SerializeToString(), name="signal.bin")


# ---- malformed payloads --------------------------------------------------------------------------


def _good() -> P.ProfilesData:
    return request([P.Sample(stack_index=1, values=[1], attribute_indices=[1], link_index=1)])


def _broken(change: str) -> bytes:
    msg = _good()
    d = msg.dictionary
    samples = msg.resource_profiles[0].scope_profiles[0].profiles[0].samples
    if change == "stack":
        samples[0].stack_index = 99
    elif change == "negative":
        samples[0].stack_index = -1
    elif change == "attribute":
        samples[0].attribute_indices[0] = 50
    elif change == "link":
        samples[0].link_index = 7
    elif change == "location":
        d.stack_table[1].location_indices[0] = 40
    elif change == "function":
        d.location_table[1].lines[0].function_index = 9
    elif change == "mapping":
        d.location_table[1].mapping_index = 5
    elif change == "string":
        d.function_table[1].name_strindex = 1000
    elif change == "strings":  # two bad string indices: the first column checked is named
        d.function_table[1].system_name_strindex = 2000
        d.mapping_table[1].filename_strindex = 3000
    elif change == "system":
        d.function_table[1].system_name_strindex = 2000
    elif change == "mapping attribute":
        d.mapping_table[1].attribute_indices.append(60)
    elif change == "string0":
        d.string_table[0] = "x"
    elif change == "unit":
        d.attribute_table[2].unit_strindex = 77
    return msg.SerializeToString()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("stack", "sample 0: invalid stack index 99"),
        ("negative", "sample 0: invalid stack index -1"),
        ("attribute", "sample 0: invalid attribute index 50"),
        ("link", "sample 0: invalid link index 7"),
        ("location", "stack location index 40 out of range"),
        ("function", "line function index 9 out of range"),
        ("mapping", "location mapping index 5 out of range"),
        ("string", "function name string index 1000 out of range"),
        ("strings", "mapping file string index 3000 out of range"),
        ("system", "function system name string index 2000 out of range"),
        ("mapping attribute", "mapping attribute index 60 out of range"),
        ("string0", "string table must start with the empty string"),
        ("unit", "attribute unit string index 77 out of range"),
    ],
)
def test_bad_indices(change: str, message: str) -> None:
    with pytest.raises(profilelab.FormatError, match=message) as err:
        profilelab.load(_broken(change), name="bad.otlp")
    assert str(err.value).startswith("bad.otlp: ")


def test_truncated_payloads() -> None:
    data = _good().SerializeToString()
    for cut in (len(data) - 1, len(data) // 2, 12):
        with pytest.raises(profilelab.FormatError, match=r"cut.otlp: "):
            profilelab.load(data[:cut], name="cut.otlp")


def test_garbage_and_empty() -> None:
    with pytest.raises(profilelab.FormatError, match="junk: unrecognized format"):
        profilelab.load(b"\xff\xfe garbage \x00" * 10, name="junk")
    # an empty ResourceProfiles alone is not recognized as OTLP; an empty dictionary is an
    # empty (valid) payload
    assert not looks_like_otlp(fld(1, b""))
    assert len(profilelab.load(fld(2, b""))) == 0


def test_huge_and_recursive_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    d = dictionary()
    d.stack_table.add(location_indices=[3, 2, 1] * 10)  # deep recursion is fine
    p = profilelab.load(request([P.Sample(stack_index=3, values=[1])], d).SerializeToString())
    assert p.stacks["depth"].to_list() == [30]
    monkeypatch.setattr(_otlp_tables, "MAX_STACK_DEPTH", 20)
    with pytest.raises(profilelab.FormatError, match=r"stack 3 has 30 locations .limit 20."):
        profilelab.load(request([P.Sample(stack_index=3, values=[1])], d).SerializeToString())


def test_deeply_nested_attribute_values() -> None:
    value = fld(1, b"x")  # AnyValue{string_value}
    for _ in range(300):
        value = fld(5, fld(1, value))  # AnyValue{array_value{values: [value]}}
    attribute = fld(1, sid("leaf")) + fld(2, value)
    profile = fld(1, VT) + fld(2, fld(1, 1) + packed(2, [3]) + packed(4, [1]))
    data = with_profile(DICT + fld(6, attribute), profile)
    with pytest.raises(profilelab.FormatError, match=r"deep.otlp: .*attribute 3"):
        profilelab.load(data, name="deep.otlp")


SAMPLE_3 = {"samples": [{"stackIndex": 3}]}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"resourceProfiles": [', "not valid JSON"),
        ('{"resourceProfiles": 5}', "'resourceProfiles' must be a list"),
        ('{"dictionary": {"linkTable": [{"traceId": "zz"}]}}', "neither hex nor base64"),
        (
            '{"dictionary": {"stackTable": [{"locationIndices": ["x"]}]}}',
            "expected lists of integers",
        ),
        (
            json.dumps({"resourceProfiles": [{"scopeProfiles": [{"profiles": [SAMPLE_3]}]}]}),
            "invalid stack index 3",
        ),
    ],
)
def test_bad_json(doc: str, message: str) -> None:
    with pytest.raises(profilelab.FormatError, match=message) as err:
        profilelab.load(doc.encode(), name="bad.json")
    assert str(err.value).startswith("bad.json: ")


def test_unpacked_and_split_repeated_fields() -> None:
    # v1.10 Sample: attribute indices as one unpacked record plus one packed record, values
    # unpacked, link as a varint (field 3): parsers must accept every encoding of a repeated
    # scalar, in order.
    sample = fld(1, 1) + fld(2, 1) + packed(2, [2]) + fld(3, 1) + fld(4, 5) + fld(4, 6)
    p = profilelab.load(
        with_profile(DICT, fld(1, VT) + fld(2, sample) + fld(2, fld(1, 2) + packed(4, [9])))
    )
    rows = p.samples.sort("sample_index").select("value", "span_id").rows()
    assert rows == [(5, "08090a0b0c0d0e0f"), (6, "08090a0b0c0d0e0f"), (9, None)]
    first = p.samples.sort("sample_index")["label_set_id"][0]
    assert sorted(p.labels.filter(label_set_id=first)["key"]) == ["size", "thread.name"]


def test_long_messages_with_many_records(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stack of 300 unpacked location indices: the vectorized scan hands the last few long
    # messages to a plain loop; the result must be the same as for a packed stack.
    d = dictionary()
    del d.stack_table[:]
    stacks = (
        fld(7, b"")
        + fld(7, packed(1, [3, 2, 1] * 100))
        + fld(7, b"".join(fld(1, x) for x in [3, 2, 1] * 100))
    )
    dict_bytes = d.SerializeToString() + stacks
    samples = fld(2, fld(1, 1) + packed(4, [1])) + fld(2, fld(1, 2) + packed(4, [1]))
    loops = []
    monkeypatch.setattr(_otlp_native, "_kernel", None)  # the NumPy walker (C walker: below)
    monkeypatch.setattr(_wire, "_native", None)  # its numpy steps (the C scanner: below)
    monkeypatch.setattr(_wire, "_scan_loop", lambda *a: loops.append(1) or scan_loop(*a))
    p = profilelab.load(with_profile(dict_bytes, fld(1, VT) + samples))
    assert loops  # the plain loop did run
    assert p.stacks.height == 1 and p.stacks["depth"][0] == 300  # both decode to one stack
    assert p.samples["stack_id"].n_unique() == 1
    monkeypatch.undo()
    assert profilelab.load(with_profile(dict_bytes, fld(1, VT) + samples)).samples.equals(p.samples)
