"""Writing OTLP: round trips through both encodings, validity against the package's schema.

pprof -> OTLP -> tables equals pprof -> tables for every corpus pprof file that loads, with
these documented differences:

* ``profiles``: ``profile_id``, ``source_id``, ``source`` and ``format`` identify the input
  bytes and format, so they differ by construction;
* ``frames``: only frames some stack uses are written (OTLP locations are written from the
  stacks), so pprof locations that no sample references are not in the OTLP tables.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import polars as pl
import pytest
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as S

import profilelab
from profilelab._proto import pprof_pb2
from profilelab.writers import format_for_path, write
from tests._pprof_tools import EVIDENCE, ROOT
from tests.conftest import CORPUS

_IDS = ("profile_id", "source_id", "source", "format")


def comparable(p: profilelab.Profile) -> dict[str, pl.DataFrame]:
    """Every table, sorted, without input-identity columns; frames that stacks use."""
    used = p.stacks["frame_ids"].explode().drop_nulls().implode()
    tables = dict(p.tables())
    tables["samples"] = tables["samples"].join(
        p.profiles.select("profile_id", "sample_type_index"), on="profile_id"
    )
    tables["frames"] = tables["frames"].filter(pl.col("frame_id").is_in(used))
    out = {}
    for name, df in tables.items():
        df = df.drop([c for c in _IDS if c in df.columns])
        keys = [c for c, t in df.schema.items() if not isinstance(t, pl.List)]
        out[name] = df.sort(keys, nulls_last=True)
    return out


def assert_same(a: profilelab.Profile, b: profilelab.Profile) -> None:
    ta, tb = comparable(a), comparable(b)
    for name in ta:
        assert ta[name].equals(tb[name]), name


def through(p: profilelab.Profile, fmt: str) -> profilelab.Profile:
    buf = io.BytesIO()
    write(p, buf, fmt)
    q = profilelab.load(buf.getvalue(), name=f"roundtrip.{fmt}")
    q.check()
    assert set(q.profiles["format"]) <= {"otlp"}
    return q


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file())


def _evidence_files() -> list[Path]:
    """The project's own evidence (tests/data/make): in the repository, corpus or not."""
    return sorted(p for p in (ROOT / EVIDENCE).rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "path",
    [
        *[pytest.param(p, id=str(p.relative_to(CORPUS))) for p in _corpus_files()],
        *[pytest.param(p, id=str(p.relative_to(ROOT))) for p in _evidence_files()],
    ],
)
def test_corpus_pprof_round_trips(path: Path) -> None:
    try:
        a = profilelab.load(path)
    except profilelab.FormatError:
        pytest.skip("not a pprof file this build loads")
    if set(a.profiles["format"]) != {"pprof"}:
        pytest.skip("not pprof")
    for fmt in ("otlp", "otlp-json"):
        assert_same(a, through(a, fmt))


def test_corpus_is_covered(corpus: Path) -> None:
    assert len(_corpus_files()) > 200


def test_otlp_capture_round_trips_with_times_labels_and_attributes(corpus: Path) -> None:
    a = profilelab.load(
        corpus / "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile.pb.bin"
    )
    for fmt in ("otlp", "otlp-json"):
        b = through(a, fmt)
        assert_same(a, b)
        assert b.samples["time_ns"].null_count() == 0


def test_span_ids_become_links(corpus: Path) -> None:
    a = profilelab.load(
        corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz"
    )
    req = S.ExportProfilesServiceRequest.FromString(_bytes(a, "otlp"))
    links = req.dictionary.link_table
    spans = set(a.samples["span_id"].drop_nulls())
    assert {link.span_id.hex() for link in links[1:]} == spans and len(links) == len(spans) + 1
    assert (
        through(a, "otlp").samples["span_id"].drop_nulls().len()
        == a.samples["span_id"].drop_nulls().len()
    )


def _bytes(p: profilelab.Profile, fmt: str) -> bytes:
    buf = io.BytesIO()
    write(p, buf, fmt)
    return buf.getvalue()


def _no_unknown_fields(msg: Message, path: str = "request") -> None:
    assert len(UnknownFieldSet(msg)) == 0, path
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        items = value if fd.is_repeated else [value]
        for i, item in enumerate(items):
            _no_unknown_fields(item, f"{path}.{fd.name}[{i}]")


def test_binary_output_is_a_valid_export_request(corpus: Path) -> None:
    a = profilelab.load(
        corpus / "datadog-dd-trace-go/profiler/internal/fastdelta/testdata/heap.pprof"
    )
    req = S.ExportProfilesServiceRequest.FromString(_bytes(a, "otlp"))
    _no_unknown_fields(req)
    d = req.dictionary
    assert d.string_table[0] == ""
    for table in (
        d.mapping_table,
        d.location_table,
        d.function_table,
        d.attribute_table,
        d.stack_table,
    ):
        assert len(table) > 1 and not table[0].ListFields()  # index 0: the zero value
    assert d.link_table[0].trace_id == bytes(16) and d.link_table[0].span_id == bytes(8)
    [scope] = req.resource_profiles[0].scope_profiles
    assert [d.string_table[p.sample_type.type_strindex] for p in scope.profiles] == [
        "alloc_objects",
        "alloc_space",
        "inuse_objects",
        "inuse_space",
    ]
    keys = {d.string_table[a.key_strindex] for a in d.attribute_table}
    assert {"pprof.mapping.has_functions", "bytes"} <= keys
    assert {kv.key for kv in scope.scope.attributes} == {
        "pprof.scope.sample_type_order",
        "pprof.scope.default_sample_type",
    }


def test_json_output_follows_otlp_json(corpus: Path) -> None:
    a = profilelab.load(
        corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz"
    )
    doc = json.loads(_bytes(a, "otlp-json"))
    camel = re.compile(r"^[a-z][A-Za-z0-9]*$")

    def walk(x: object) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                assert camel.match(k) or k in ("key", "value"), k
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    prof = doc["resourceProfiles"][0]["scopeProfiles"][0]["profiles"][0]
    assert isinstance(prof["timeUnixNano"], str) and isinstance(
        prof["samples"][0]["values"][0], str
    )
    link = doc["dictionary"]["linkTable"][1]
    assert re.fullmatch("[0-9a-f]{32}", link["traceId"]) and re.fullmatch(
        "[0-9a-f]{16}", link["spanId"]
    )


def test_several_inputs_share_one_dictionary(corpus: Path) -> None:
    path = corpus / "google-pprof/internal/report/testdata/sample.cpu"
    one = S.ExportProfilesServiceRequest.FromString(_bytes(profilelab.load(path), "otlp"))
    two = S.ExportProfilesServiceRequest.FromString(
        _bytes(
            profilelab.load(
                [
                    path,
                    corpus
                    / "datadog-dd-trace-go/profiler/internal/fastdelta/testdata/block.after.pprof",
                ]
            ),
            "otlp",
        )
    )
    assert len(two.resource_profiles[0].scope_profiles) == 2
    same = S.ExportProfilesServiceRequest.FromString(_bytes(profilelab.load([path, path]), "otlp"))
    assert len(same.dictionary.location_table) == len(one.dictionary.location_table)
    assert len(same.resource_profiles[0].scope_profiles) == 1  # same input twice: same source


def test_profile_labels_become_resource_attributes(corpus: Path) -> None:
    a = profilelab.load(
        corpus / "google-pprof/internal/report/testdata/sample.cpu", labels={"service.name": "api"}
    )
    req = S.ExportProfilesServiceRequest.FromString(_bytes(a, "otlp"))
    attrs = {kv.key: kv.value.string_value for kv in req.resource_profiles[0].resource.attributes}
    assert attrs == {"service.name": "api"}
    assert_same(a, through(a, "otlp"))


def test_writers_are_registered() -> None:
    assert format_for_path("out.otlp.json") == "otlp-json"
    assert format_for_path("out.otlp") == "otlp"


# ---- property: random pprof profiles survive the trip ------------------------------------------

_names = st.sampled_from(["main", "run", "alloc", "λ-handler", "", "x" * 40])


@st.composite
def pprof_profiles(draw: st.DrawFn) -> bytes:
    strings = ["", "samples", "count", "cpu", "nanoseconds", "span_id", "trace_id", "k", "bytes"]

    def s(x: str) -> int:
        if x not in strings:
            strings.append(x)
        return strings.index(x)

    msg = pprof_pb2.Profile()
    n_types = draw(st.integers(1, 3))
    for i in range(n_types):
        msg.sample_type.add(type=s(f"t{i}"), unit=s("count"))
    msg.mapping.add(
        id=1,
        memory_start=0x1000,
        memory_limit=0x2000,
        filename=s("/bin/app"),
        build_id=s(draw(st.sampled_from(["", "abc123"]))),
    )
    n_fn = draw(st.integers(1, 5))
    for i in range(n_fn):
        msg.function.add(id=i + 1, name=s(draw(_names) + str(i)), filename=s("a.go"), start_line=i)
    n_loc = draw(st.integers(1, 6))
    for i in range(n_loc):
        loc = msg.location.add(
            id=i + 1,
            address=draw(st.integers(0, 2**64 - 1)),
            mapping_id=draw(st.sampled_from([0, 1])),
        )
        for _ in range(draw(st.integers(0, 3))):
            loc.line.add(function_id=draw(st.integers(0, n_fn)), line=draw(st.integers(0, 99)))
    for _ in range(draw(st.integers(0, 8))):
        smp = msg.sample.add()
        smp.location_id.extend(draw(st.lists(st.integers(1, n_loc), max_size=6)))
        smp.value.extend(
            draw(st.lists(st.integers(-(2**40), 2**40), min_size=n_types, max_size=n_types))
        )
        if draw(st.booleans()):
            smp.label.add(key=s("k"), str=s(draw(st.sampled_from(["a", "b"]))))
        if draw(st.booleans()):
            smp.label.add(key=s("bytes"), num=draw(st.integers(1, 10**6)), num_unit=s("bytes"))
        if draw(st.booleans()):
            smp.label.add(
                key=s("span_id"), str=s(draw(st.sampled_from(["00000000000000ab", "not-hex"])))
            )
    msg.string_table.extend(x.encode() for x in strings)
    return msg.SerializeToString()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pprof_profiles())
def test_random_pprof_profiles_round_trip(data: bytes) -> None:
    a = profilelab.load(data)
    for fmt in ("otlp", "otlp-json"):
        assert_same(a, through(a, fmt))
