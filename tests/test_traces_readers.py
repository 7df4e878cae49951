"""Trace readers: four formats give one table; real exports; malformed traces are reported."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from _tracefix import WRITERS, make_world, pprof_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

import profilelab
from profilelab.errors import FormatError
from profilelab.model import schema

DATA = Path(__file__).parent / "data" / "traces"


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return make_world()


def test_four_formats_load_to_identical_spans(world) -> None:  # type: ignore[no-untyped-def]
    tables = {fmt: profilelab.load_traces(write(world)) for fmt, write in WRITERS.items()}
    first = tables["otlp-proto"]
    assert dict(first.spans.schema) == schema.SPANS
    for fmt, spans in tables.items():
        assert spans.problems.height == 0, (fmt, spans.problems)
        assert spans.spans.equals(first.spans), fmt
    # and the table says what the simulated service did
    truth = {(s.trace_id, s.span_id, s.service): s for s in world.spans}
    assert first.spans.height == len(truth)
    for row in first.spans.iter_rows(named=True):
        s = truth[(row["trace_id"], row["span_id"], row["service"])]
        assert (row["parent_span_id"], row["name"], row["kind"]) == (s.parent, s.name, s.kind)
        assert (row["start_ns"], row["end_ns"], row["status"]) == (s.start_ns, s.end_ns, s.status)
        attrs = {a["key"]: a["value"] for a in row["attributes"]}
        assert attrs.get("otel.status_description", "") == s.message
        assert attrs["otel.scope.name"] == "orders-tracer"
        for key, value in s.attrs.items():
            assert key in attrs
            if isinstance(value, float):
                assert float(attrs[key]) == value


def test_typed_attributes_render_like_go_exporters(world) -> None:  # type: ignore[no-untyped-def]
    spans = profilelab.load_traces(WRITERS["otlp-proto"](world))
    root = spans.spans.filter(pl.col("name") == "GET /order").row(0, named=True)
    attrs = {a["key"]: a["value"] for a in root["attributes"]}
    assert attrs["http.status_code"] == "200"
    assert attrs["retry"] == "false"
    assert attrs["order.items"] == '["book","pen"]'
    assert attrs["host.name"] == "orders-1"  # resource attributes are kept
    inv = spans.spans.filter(pl.col("service") == "inventory").row(0, named=True)
    inv_attrs = {a["key"]: a["value"] for a in inv["attributes"]}
    assert inv_attrs["weight"] == "1" and inv_attrs["discount.ratio"] == "0.25"


def test_gzip_json_lines_and_several_files(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(WRITERS["otlp-json"](world))
    half = len(doc["resourceSpans"]) // 2 or 1
    lines = [
        json.dumps({"resourceSpans": doc["resourceSpans"][:half]}),
        json.dumps({"resourceSpans": doc["resourceSpans"][half:]}),
    ]
    path = tmp_path / "traces.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    whole = profilelab.load_traces(WRITERS["zipkin"](world))
    assert profilelab.load_traces(path).spans.equals(whole.spans)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(lines[0])
    b.write_text(lines[1])
    both = profilelab.load_traces([a, b])
    assert both.spans.equals(whole.spans)
    again = profilelab.load_traces([a, a])
    assert again.spans.height == profilelab.load_traces(a).spans.height
    assert set(again.problems["problem"]) == {"duplicate_span"}
    assert again.problems["dropped"].all()


def test_otlp_json_example_from_the_spec_repo() -> None:
    spans = profilelab.load_traces(DATA / "otlp-example-trace.json")
    row = spans.spans.row(0, named=True)
    assert row["trace_id"] == "5b8efff798038103d269b633813fc60c"  # upper-case hex in the file
    assert row["kind"] == "server" and row["service"] == "my.service"
    assert row["end_ns"] - row["start_ns"] == 1_000_000_000
    attrs = {a["key"]: a["value"] for a in row["attributes"]}
    assert attrs == {
        "my.span.attr": "some value",
        "otel.scope.name": "my.library",
        "otel.scope.version": "1.0.0",
    }
    # its parent is not in the file: reported, and the span is a root
    assert spans.problems.select("problem", "dropped").row(0) == ("missing_parent", False)
    assert spans.nodes["parent_row"].to_list() == [-1]


def test_otlp_json_with_string_times_from_jaeger() -> None:
    spans = profilelab.load_traces(DATA / "jaeger-otlp-example_trace.json")
    assert spans.spans.height == 5 and spans.problems.height == 0
    assert (spans.spans["end_ns"] - spans.spans["start_ns"]).to_list() == [100_000] * 5
    assert spans.spans["service"].n_unique() == 3


def test_jaeger_ui_fixture_duplicates_and_cross_trace_references() -> None:
    spans = profilelab.load_traces(DATA / "jaeger-ui_01.json")
    assert spans.spans["span_id"].to_list() == [f"{i:016x}" for i in (2, 3, 4, 5)]
    assert spans.spans["trace_id"].unique().to_list() == ["1".rjust(32, "0")]
    problems = dict(zip(spans.problems["problem"], spans.problems["dropped"], strict=False))
    assert problems["duplicate_span"] is True
    assert problems["cross_trace_reference"] is False
    assert "producer_warning" in problems
    kept = spans.spans.filter(pl.col("span_id") == f"{2:016x}").row(0, named=True)
    assert kept["name"] == "test-general-conversion"  # the first of the two is kept
    n = spans.nodes
    assert n["parent_row"].to_list() == [-1, 0, 0, 2]  # span 4's parent is 2 (same trace)
    assert n["local_root_row"].to_list() == [0, 1, 2, 2]  # service-y under service-x


def test_zipkin_shared_spans_nest_server_under_client() -> None:
    spans = profilelab.load_traces(DATA / "zipkin-yelp.json")
    assert spans.spans.height == 16 and spans.problems.height == 0
    n = spans.nodes.with_columns(spans.spans["kind"])
    shared = n.filter(pl.col("span_id") == "7a778764a0d0b594")
    client = shared.filter(pl.col("kind") == "client").row(0, named=True)
    server = shared.filter(pl.col("kind") == "server").row(0, named=True)
    assert server["parent_row"] == client["span_row"]
    assert server["local_root_row"] == server["span_row"]  # it runs in another process
    # a child whose parent id is shared lands under the server half (where it ran)
    txn = n.filter(pl.col("span_id") == "241cea1aa4cb2884").row(0, named=True)
    parent = n.row(txn["parent_row"], named=True)
    assert (parent["span_id"], parent["kind"]) == ("668ed78ad94b35a1", "server")


def _zipkin(spans: list[dict]) -> bytes:  # type: ignore[type-arg]
    base = {"traceId": "a" * 16, "timestamp": 1_000, "duration": 10}
    return json.dumps([{**base, **s} for s in spans]).encode()


def test_malformed_spans_are_reported_and_the_rest_kept() -> None:
    data = _zipkin(
        [
            {"id": "1", "name": "root"},
            {"id": "2", "parentId": "3", "name": "cycle-a"},
            {"id": "3", "parentId": "2", "name": "cycle-b"},
            {"id": "4", "parentId": "4", "name": "self"},
            {"id": "5", "parentId": "1", "name": "backwards", "duration": -5},
            {"id": "", "name": "no-id"},
            {"id": "xyz", "name": "bad-hex"},
            {"id": "6", "parentId": "1", "name": "no-duration", "duration": None},
            {"traceId": None, "id": "7", "name": "no-trace"},
        ]
    )
    spans = profilelab.load_traces(data)
    assert sorted(spans.spans["name"]) == sorted(
        ["root", "cycle-a", "cycle-b", "self", "backwards", "no-duration"]
    )
    p = spans.problems
    by_problem = p.group_by("problem").agg(pl.len(), pl.col("dropped").all()).sort("problem")
    assert dict(zip(by_problem["problem"], by_problem["len"], strict=True)) == {
        "bad_span_id": 2,
        "bad_trace_id": 1,
        "ends_before_start": 1,
        "missing_time": 1,
        "parent_cycle": 2,
        "self_parent": 1,
    }
    assert p.filter(pl.col("problem").str.starts_with("bad_"))["dropped"].all()
    assert not p.filter(~pl.col("problem").str.starts_with("bad_"))["dropped"].any()
    # the cycle is cut once: one of its spans became a root, the other hangs below it
    n = spans.nodes.with_columns(spans.spans["name"])
    cyc = n.filter(pl.col("name").str.starts_with("cycle")).sort("span_row")
    assert sorted(cyc["parent_row"].to_list())[0] == -1
    assert (n["pre"] >= 0).all() and n["pre"].n_unique() == n.height


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"   \n", "empty input"),
        (b"\x00\x01\x02garbage", "not a trace"),
        (b'{"hello": 1}', "not OTLP, Jaeger or Zipkin"),
        (b"[1, 2]", "not Zipkin v2"),
        (b'{"resourceSpans": [', "invalid JSON"),
        (gzip.compress(b'[{"traceId": "ab"}]', mtime=0)[:-6], "truncated gzip"),
        (b'{"data": 3}', "not a list"),
        (b'[{"traceId": "zz", "id": "1"}]', "no valid span"),
        (b'[{"traceId": "ab", "id": "1", "timestamp": "soon"}]', "malformed trace data"),
    ],
)
def test_bad_trace_inputs_raise_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message) as info:
        profilelab.load_traces(data)
    assert str(info.value).startswith("<bytes>")


def test_a_pprof_profile_is_not_a_trace(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatError, match="not a trace"):
        profilelab.load_traces(pprof_bytes(world.samples[:3], 0, 0))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        profilelab.load_traces(tmp_path / "nope.json")


def test_base64_ids_from_proto3_json_writers_are_decoded(world) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(WRITERS["otlp-json"](world))
    import base64

    for rs in doc["resourceSpans"]:
        for sp in rs["scopeSpans"][0]["spans"]:
            for key in ("traceId", "spanId", "parentSpanId"):
                if key in sp:
                    sp[key] = base64.b64encode(bytes.fromhex(sp[key])).decode()
    spans = profilelab.load_traces(json.dumps(doc).encode())
    assert spans.spans.equals(profilelab.load_traces(WRITERS["zipkin"](world)).spans)


def test_spans_sql(world) -> None:  # type: ignore[no-untyped-def]
    spans = profilelab.load_traces(WRITERS["jaeger"](world))
    slow = spans.sql(
        "select name, count(*) as n, max(end_ns - start_ns) as longest from spans "
        "group by name order by longest desc"
    )
    assert slow["name"][0] == "GET /order" and slow["n"][0] == 30
    roots = spans.sql("select count(*) as n from span_tree where parent_row = -1")
    assert roots["n"][0] == 30
    with pytest.raises(profilelab.QueryError):
        spans.sql("select nope from spans")


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "traceId",
                    "id",
                    "parentId",
                    "spanID",
                    "traceID",
                    "spans",
                    "tags",
                    "key",
                    "value",
                    "type",
                    "references",
                    "startTime",
                    "duration",
                    "timestamp",
                    "resourceSpans",
                    "scopeSpans",
                    "attributes",
                    "kind",
                    "status",
                    "code",
                    "data",
                    "processes",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["zipkin", "jaeger", "otlp"]),
    st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "traceId",
                    "traceID",
                    "id",
                    "spanID",
                    "spanId",
                    "parentId",
                    "name",
                    "tags",
                    "references",
                    "timestamp",
                    "duration",
                    "startTime",
                    "kind",
                    "status",
                    "attributes",
                    "localEndpoint",
                    "processID",
                ]
            ),
            _json,
            max_size=6,
        ),
        max_size=4,
    ),
)
def test_any_json_gives_spans_or_one_format_error(shape: str, spans: list) -> None:  # type: ignore[type-arg]
    doc: object = {
        "zipkin": spans,
        "jaeger": {"data": [{"traceID": "ab", "spans": spans, "processes": {}}]},
        "otlp": {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]},
    }[shape]
    try:
        data = json.dumps(doc).encode()
    except ValueError:
        return
    try:
        out = profilelab.load_traces(data)
    except FormatError:
        return
    assert dict(out.spans.schema) == schema.SPANS
