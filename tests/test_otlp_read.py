"""OTLP reading semantics on built payloads: events, attributes, links, labels, grouping,
original payloads, and OTLP/JSON specifics (hex ids, string integers, v1.8 names)."""

from __future__ import annotations

import base64
import json

import polars as pl
import pytest
from google.protobuf import json_format
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.profiles.v1development import profiles_pb2 as P

import profilelab
from profilelab.readers import otlp
from tests.otlp_helpers import dictionary, request, sid


def load(msg: P.ProfilesData) -> profilelab.Profile:
    p = profilelab.load(msg.SerializeToString(), name="test.otlp")
    p.check()
    return p


def stack_names(p: profilelab.Profile) -> dict[int, list[str]]:
    fn = dict(p.frames.select("frame_id", "function").iter_rows())
    return {sid_: [fn[f] for f in fids] for sid_, fids, _ in p.stacks.iter_rows()}


def test_values_stacks_and_frames() -> None:
    p = load(request([P.Sample(stack_index=1, values=[7]), P.Sample(stack_index=2, values=[3])]))
    assert p.profiles.select("sample_type", "sample_unit", "period", "time_ns").row(0) == (
        "cpu",
        "nanoseconds",
        10,
        1_000,
    )
    names = stack_names(p)
    got = {tuple(names[s]): v for s, v in p.samples.select("stack_id", "value").iter_rows()}
    assert got == {("leaf", "work", "main"): 7, ("work", "main"): 3}
    assert set(p.frames["line"]) == {10, 20, 30} and set(p.frames["file"]) == {"/src/a.go"}
    assert p.mappings.select("binary", "memory_start").rows() == [("main", 0x1000)]


def test_sample_shapes_become_events() -> None:
    samples = [
        P.Sample(stack_index=1, timestamps_unix_nano=[1_100, 1_200, 1_300]),  # 3 events of 1
        P.Sample(stack_index=2, values=[5, 6], timestamps_unix_nano=[1_400, 1_500]),  # paired
        P.Sample(stack_index=2, values=[10]),  # one aggregated value, no time
        P.Sample(stack_index=1, values=[1, 2]),  # values without timestamps: one event each
        P.Sample(stack_index=1),  # nothing: one event of value 0
    ]
    p = load(request(samples))
    rows = p.samples.sort("sample_index").select("value", "time_ns").rows()
    assert rows == [
        (1, 1_100),
        (1, 1_200),
        (1, 1_300),
        (5, 1_400),
        (6, 1_500),
        (10, None),
        (1, None),
        (2, None),
        (0, None),
    ]


def test_values_and_timestamps_must_pair_up() -> None:
    bad = request([P.Sample(stack_index=1, values=[1, 2], timestamps_unix_nano=[5])])
    with pytest.raises(
        profilelab.FormatError, match=r"test.otlp: .*sample 0: 2 values but 1 timestamps"
    ):
        load(bad)


def test_attributes_links_and_units_become_labels_and_span_columns() -> None:
    p = load(request([P.Sample(stack_index=1, values=[1], attribute_indices=[1, 2], link_index=1)]))
    assert p.labels.select("key", "str", "num", "unit").sort("key").rows() == [
        ("size", None, 4096, "bytes"),
        ("thread.name", "t1", None, None),
    ]
    row = p.samples.row(0, named=True)
    assert row["trace_id"] == bytes(range(16)).hex()
    assert row["span_id"] == bytes(range(8, 16)).hex()


def test_array_bool_double_and_dictionary_string_values() -> None:
    d = dictionary()
    arr = common_pb2.AnyValue()
    arr.array_value.values.add(string_value="a")
    arr.array_value.values.add(string_value="b")
    d.attribute_table.add(key_strindex=sid("thread.name"), value=arr)  # 3
    d.attribute_table.add(key_strindex=sid("leaf"), value=common_pb2.AnyValue(bool_value=True))
    d.attribute_table.add(key_strindex=sid("work"), value=common_pb2.AnyValue(double_value=0.5))
    d.attribute_table.add(
        key_strindex=sid("main"), value=common_pb2.AnyValue(string_value_strindex=sid("checkout"))
    )
    p = load(request([P.Sample(stack_index=1, values=[1], attribute_indices=[3, 4, 5, 6])], d))
    assert sorted(p.labels.select("key", "str").rows()) == [
        ("leaf", "true"),
        ("main", "checkout"),
        ("thread.name", "a"),
        ("thread.name", "b"),
        ("work", "0.5"),
    ]


def test_location_attributes_label_the_samples_whose_stack_has_them() -> None:
    d = dictionary()
    d.attribute_table.add(
        key_strindex=sid("thread.name"), value=common_pb2.AnyValue(string_value="kernel")
    )  # 3
    d.location_table[3].attribute_indices.append(3)  # "leaf" is a kernel frame
    d.location_table[2].attribute_indices.append(3)
    p = load(request([P.Sample(stack_index=1, values=[1]), P.Sample(stack_index=2, values=[1])], d))
    labels = p.samples.join(p.labels, on="label_set_id", how="left").sort("sample_index")
    # each distinct attribute of a stack once: stack 1 has two kernel locations
    assert labels.select("value", "str").rows() == [(1, "kernel"), (1, "kernel")]
    assert p.labels.height == 1


def test_resource_scope_and_profile_attributes_become_profile_labels() -> None:
    d = dictionary()
    msg = request(
        [P.Sample(stack_index=1, values=[1])], d, {"service.name": "checkout", "host.name": "h1"}
    )
    sp = msg.resource_profiles[0].scope_profiles[0]
    sp.scope.version = "1.2"
    sp.scope.attributes.add(key="k8s.pod.name", value=common_pb2.AnyValue(string_value="pod-1"))
    sp.profiles[0].attribute_indices.append(2)  # size=4096
    msg.resource_profiles[0].resource.attributes.add(
        key_strindex=sid("thread.name"), value=common_pb2.AnyValue(int_value=3)
    )
    labels = dict((x["key"], x["value"]) for x in load(msg).profiles["labels"][0])
    assert labels == {
        "service.name": "checkout",
        "host.name": "h1",
        "thread.name": "3",
        "otel.scope.name": "test-profiler",
        "otel.scope.version": "1.2",
        "k8s.pod.name": "pod-1",
        "size": "4096",
    }


def test_pprof_conventions_fill_the_pprof_columns() -> None:
    d = dictionary()
    comments = common_pb2.AnyValue()
    comments.array_value.values.add(string_value="first")
    d.attribute_table.add(key_strindex=len(d.string_table), value=comments)
    d.string_table.append("pprof.profile.comment")
    d.attribute_table.add(
        key_strindex=len(d.string_table), value=common_pb2.AnyValue(string_value="^runtime\\.")
    )
    d.string_table.append("pprof.profile.drop_frames")
    d.attribute_table.add(
        key_strindex=len(d.string_table), value=common_pb2.AnyValue(bool_value=True)
    )
    d.string_table.append("pprof.location.is_folded")
    d.location_table[3].attribute_indices.append(5)
    msg = request([P.Sample(stack_index=1, values=[1])], d)
    msg.resource_profiles[0].scope_profiles[0].profiles[0].attribute_indices.extend([3, 4])
    p = load(msg)
    row = p.profiles.row(0, named=True)
    assert (row["comments"], row["drop_frames"]) == (["first"], "^runtime\\.")
    assert p.frames.filter(pl.col("folded"))["function"].to_list() == ["leaf"]
    assert p.labels.height == 0 and [x["key"] for x in row["labels"]] == [
        "service.name",
        "otel.scope.name",
    ]


def _two_types(order: list[int] | None, default: str | None) -> P.ProfilesData:
    msg = request([P.Sample(stack_index=1, values=[7]), P.Sample(stack_index=2, values=[3])])
    sp = msg.resource_profiles[0].scope_profiles[0]
    second = sp.profiles.add()
    second.CopyFrom(sp.profiles[0])
    second.sample_type.type_strindex = sid("size")
    for s in second.samples:
        s.values[0] *= 100
    if order is not None:
        value = common_pb2.AnyValue()
        for i in order:
            value.array_value.values.add(int_value=i)
        sp.scope.attributes.add(key="pprof.scope.sample_type_order", value=value)
    if default is not None:
        sp.scope.attributes.add(
            key="pprof.scope.default_sample_type", value=common_pb2.AnyValue(string_value=default)
        )
    return msg


def test_profiles_of_one_pprof_are_one_input_again() -> None:
    p = load(_two_types([1, 0], "cpu"))
    assert p.profiles["source_id"].n_unique() == 1
    rows = p.profiles.sort("sample_type_index").select("sample_type", "is_default").rows()
    assert rows == [("size", False), ("cpu", True)]  # order 1, 0: the second profile first
    assert p.samples["sample_index"].n_unique() == 2
    # the original indices need not be 0..n-1 (some sample types may have been left out)
    gaps = load(_two_types([7, 3], None))
    assert gaps.profiles.sort("sample_type_index")["sample_type"].to_list() == ["size", "cpu"]
    assert gaps.profiles.filter(pl.col("is_default"))["sample_type"].to_list() == ["cpu"]


def test_independent_profiles_stay_apart() -> None:
    p = load(_two_types(None, None))
    assert p.profiles["source_id"].n_unique() == 2 and p.profiles["is_default"].all()


def test_zero_entries_mean_none() -> None:
    d = dictionary()
    d.location_table.add(address=0x42)  # 4: no mapping, no lines
    d.location_table.add(mapping_index=1).lines.add(function_index=0, line=7)  # 5: no function
    d.stack_table.add(location_indices=[4, 5])
    p = load(request([P.Sample(stack_index=3, values=[1])], d))
    rows = p.frames.select("function", "line", "address", "mapping_id").sort("address").rows()
    assert rows[0] == (None, 7, 0, rows[0][3]) and rows[0][3] is not None
    assert rows[1] == (None, 0, 0x42, None)


def test_invalid_utf8_in_the_string_table_is_repaired() -> None:
    data = request([P.Sample(stack_index=1, values=[1])]).SerializeToString()
    assert data.count(b"/src/a.go") == 1
    p = profilelab.load(data.replace(b"/src/a.go", b"/src/\xff.go"), name="test.otlp")
    assert set(p.frames["file"].drop_nulls()) == {"/src/\ufffd.go"}


def test_original_payloads_are_exposed_and_loadable(corpus_pprof: bytes) -> None:
    msg = request([P.Sample(stack_index=1, values=[1])])
    prof = msg.resource_profiles[0].scope_profiles[0].profiles[0]
    prof.original_payload_format, prof.original_payload = "pprof", corpus_pprof
    data = msg.SerializeToString()
    [orig] = otlp.original_payloads(data)
    assert (orig.format, orig.resource, orig.scope, orig.profile) == ("pprof", 0, 0, 0)
    original = profilelab.load(orig.data)
    original.check()
    assert original.samples.height > 0 and load(msg).samples.height == 1


@pytest.fixture
def corpus_pprof(corpus) -> bytes:  # type: ignore[no-untyped-def]
    return (corpus / "google-pprof/internal/report/testdata/sample.cpu").read_bytes()


# ---- OTLP/JSON -----------------------------------------------------------------------------------


def otlp_json(msg: P.ProfilesData) -> dict:  # type: ignore[type-arg]
    """proto3 JSON of ``msg`` turned into OTLP/JSON: hex ids instead of base64."""
    doc = json_format.MessageToDict(msg)
    for link in doc.get("dictionary", {}).get("linkTable", []):
        for key in ("traceId", "spanId"):
            if key in link:
                link[key] = base64.b64decode(link[key]).hex().upper()  # hex is case-insensitive
    return doc


def test_json_matches_binary_with_hex_ids_and_string_integers() -> None:
    msg = request(
        [
            P.Sample(
                stack_index=1,
                values=[1],
                attribute_indices=[1, 2],
                link_index=1,
                timestamps_unix_nano=[1_500],
            )
        ]
    )
    doc = otlp_json(msg)
    assert doc["resourceProfiles"][0]["scopeProfiles"][0]["profiles"][0]["timeUnixNano"] == "1000"
    a = load(msg)
    b = profilelab.load(json.dumps(doc).encode())
    for name, df in a.tables():
        other = getattr(b, name)
        if name == "profiles":
            df, other = (
                df.drop("source_id", "profile_id", "source"),
                other.drop("source_id", "profile_id", "source"),
            )
        elif name == "samples":
            df, other = df.drop("profile_id"), other.drop("profile_id")
        assert df.equals(other), name
    assert b.samples["trace_id"][0] == bytes(range(16)).hex()


def test_json_v18_names_and_snake_case_are_read() -> None:
    doc = otlp_json(request([P.Sample(stack_index=1, values=[4])]))
    prof = doc["resourceProfiles"][0]["scopeProfiles"][0]["profiles"][0]
    prof["sample"] = prof.pop("samples")
    for loc in doc["dictionary"]["locationTable"]:
        if "lines" in loc:
            loc["line"] = loc.pop("lines")
    p = profilelab.load(json.dumps(doc).encode())
    assert otlp.decode(otlp_input(doc)).version == "1.8"
    assert p.samples["value"].to_list() == [4] and p.frames.height == 3
    snake = json_format.MessageToDict(
        request([P.Sample(stack_index=1, values=[4])]), preserving_proto_field_name=True
    )
    assert profilelab.load(json.dumps(snake).encode()).samples["value"].to_list() == [4]


def otlp_input(doc: dict) -> object:  # type: ignore[type-arg]
    from profilelab.readers._input import open_input

    return open_input(json.dumps(doc).encode())
