"""Golden ids: the content-hashed ids (and every table built around them) must never change.

Ids are stable across processes, machines and profilelab versions (docs: model/ids.py), so
stores written by one version keep merging with profiles loaded by the next. These values
were recorded before the builder was optimized; a speed-up must leave every one of them
bit-identical. The digests cover whole tables (all columns, in row order), so they also pin
the frames, stacks, labels and span columns around the ids.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pprof_build import PprofBuilder

import profilelab

DIGESTS = {
    "google-pprof/internal/report/testdata/sample.cpu": {
        "profiles": "6a4b385fa4dd022a",
        "samples": "5c5a0f6acf7a1122",
        "stacks": "90bbe1fca5565c0c",
        "frames": "b94c9ef54f388aad",
        "mappings": "9702cefc674f49cf",
        "labels": "71857576257465c7",
    },
    "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz": {
        "profiles": "2094775c30be83ba",
        "samples": "801dce3181ee9e86",
        "stacks": "baef6da065e09d42",
        "frames": "4c914bab01ce8539",
        "mappings": "7a5cac7f2ae00ebf",
        "labels": "cca77fd43a5329ec",
    },
    "_derived/google-pprof-driver-inputs/heap_tags.pb.gz": {
        "profiles": "d6575246bd4c551f",
        "samples": "aa65aa697bf2dc4e",
        "stacks": "0ad7114e566ce81d",
        "frames": "2ec6812f1296e5eb",
        "mappings": "2c668afe087aaac8",
        "labels": "749df4f653f1d46e",
    },
    "parca-dev-parca/pkg/query/testdata/profile-with-labels.pb.gz": {
        "profiles": "9330630cf04c654e",
        "samples": "972019453c8d1c5b",
        "stacks": "3a82e8b3e98cacc0",
        "frames": "1eea8e49bb5843c1",
        "mappings": "f246e056a248c6d7",
        "labels": "7fdb015199fdf50e",
    },
    "grafana-pyroscope/pkg/pprof/testdata/gotruncatefix/heap_go_truncated_3.pb.gz": {
        "profiles": "ed9bf238fd30082d",
        "samples": "b405bb87ca1b775a",
        "stacks": "f82891948f8cac09",
        "frames": "dd54311e69a79af6",
        "mappings": "69e68aa404b86d17",
        "labels": "71857576257465c7",
    },
}


def _digest(df: pl.DataFrame) -> str:
    if "source" in df.columns:  # the path differs between machines
        df = df.drop("source")
    return hashlib.blake2b(repr(df.rows()).encode(), digest_size=8).hexdigest()


@pytest.mark.parametrize("rel", sorted(DIGESTS))
def test_corpus_tables_are_pinned(corpus: Path, rel: str) -> None:
    p = profilelab.load(corpus / rel)
    p.check()
    assert {name: _digest(df) for name, df in p.tables()} == DIGESTS[rel]


def test_explicit_ids_of_sample_cpu(corpus: Path) -> None:
    p = profilelab.load(corpus / "google-pprof/internal/report/testdata/sample.cpu")
    assert p.profiles.select("profile_id", "sample_type").rows() == [
        (-825564376956499082, "samples"),
        (-46131849274638538, "cpu"),
    ]
    assert p.frames.sort("frame_id").head(3).select("frame_id", "function", "line").rows() == [
        (-8861200864723104312, "runtime.mapiternext", 787),
        (-8786667640035984384, "runtime.mapiternext", 795),
        (-8058689023442722522, "main.busyLoop", 36),
    ]
    assert p.samples["stack_id"].head(2).to_list() == [-4497241012319965043, -5737656907091241512]
    assert p.mappings["mapping_id"].head(2).to_list() == [4760017435251818414, 8461039484762216064]


def test_explicit_ids_of_labelled_profile(corpus: Path) -> None:
    p = profilelab.load(
        corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz"
    )
    assert p.profiles["profile_id"].to_list() == [-7529358906771384716, -1681098964569744798]
    first = p.samples.filter(pl.col("span_id").is_not_null()).head(2)
    assert first.select("sample_index", "stack_id", "label_set_id", "span_id").rows() == [
        (0, -6688164290803264991, 5101904262039606831, "c717c11b87121639"),
        (1, -494106943517718063, -8067220075874279530, "8c946fa4ae322f7f"),
    ]


def _span_profile() -> bytes:
    """Span labels in every spelling profilelab normalizes (Datadog decimal keys included)."""
    b = PprofBuilder([("samples", "count"), ("cpu", "nanoseconds")])
    f1, f2 = b.function("main.main", "main.go"), b.function("main.work", "work.go")
    l1, l2 = b.location(f1, address=0x10, line=3), b.location(f2, f1, address=0x20, line=7)
    samples: list[list[tuple[str, str] | tuple[str, int, str]]] = [
        [("span id", 12345, "")],
        [("local root span id", "987654321")],
        [("trace_id", "ABCDEF0123")],
        [("span_id", -1, "")],
        [("span_id", "AA"), ("profile_id", "bb")],
        [("trace id", "notdigits")],
        [("endpoint", "/a"), ("span_id", "cc")],
        [("bytes", 1024, "bytes"), ("endpoint", "/b")],
        [],
    ]
    for i, labels in enumerate(samples):
        b.sample([l2, l1] if i % 2 else [l1], [1, 10 * i], labels)
    return b.bytes()


def test_span_columns_and_label_sets_are_pinned() -> None:
    p = profilelab.load(_span_profile())
    p.check()
    s1, s2 = -2903077054280567680, -2395834631223475052
    a, b = 9142250183838542569, -1306998419492886779
    expected = [
        (s1, 0, None, f"{12345:016x}", None),  # numeric Datadog span id -> 16 hex digits
        (s2, 0, None, None, f"{987654321:016x}"),  # decimal string under a Datadog key
        (s1, 0, "abcdef0123", None, None),  # hex is lower-cased
        (s2, 0, None, "ffffffffffffffff", None),  # negative numbers: two's complement
        (s1, 0, None, "bb", None),  # two labels of one column: the last wins
        (s2, 0, "notdigits", None, None),  # not decimal: kept as text
        (s1, a, None, "cc", None),
        (s2, b, None, None, None),
        (s1, 0, None, None, None),
    ]
    cols = ["stack_id", "label_set_id", "trace_id", "span_id", "local_root_span_id"]
    assert p.samples.select(cols).rows() == expected * 2  # one block per sample type
    assert p.labels.rows() == [
        (a, "endpoint", "/a", None, None),
        (b, "bytes", None, 1024, "bytes"),
        (b, "endpoint", "/b", None, None),
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(min_size=1, max_size=6), st.sampled_from(["AbC9", "İX", "ΣΑΣ"]))))
def test_span_label_text_is_lower_cased_as_arrows_utf8_lower(texts: list[str]) -> None:
    """ASCII span ids are lower-cased by a byte table, other text by Arrow's utf8_lower (an
    empty string is pprof's "no string": the label is numeric)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    b = PprofBuilder([("samples", "count")])
    loc = b.location(b.function("main.main", "main.go"), address=0x10, line=3)
    for text in texts:
        b.sample([loc], [1], [("span_id", text)])
    got = profilelab.load(b.bytes()).samples["span_id"].to_list()
    lowered = pc.utf8_lower(pa.array(texts, type=pa.string())).to_pylist()
    assert got == lowered


_SPAN_KEY = st.sampled_from(["span_id", "span id", "profile_id", "trace_id", "endpoint"])
_SPAN_VALUE = st.one_of(
    st.sampled_from(["", "AbC9", "0012", "18446744073709551615", "x y", "ÜX"]),
    st.integers(-(2**63), 2**63 - 1),
)


def _span_text(key: str, value: str | int) -> str | None:
    """One label's text in its span column, written plainly (the module docstring)."""
    if isinstance(value, int):
        return f"{value & (2**64 - 1):016x}"
    if key == "span id" and value.isdigit() and int(value) < 2**64:
        return f"{int(value):016x}"
    return value.lower() or None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(_SPAN_KEY, _SPAN_VALUE), max_size=3), max_size=8))
def test_span_columns_take_each_samples_last_label_of_the_column(
    samples: list[list[tuple[str, str | int]]],
) -> None:
    b = PprofBuilder([("samples", "count")])
    loc = b.location(b.function("main.main", "main.go"), address=0x10, line=3)
    for labels in samples:
        given = [(k, v) if isinstance(v, str) else (k, v, "") for k, v in labels]
        b.sample([loc], [1], given)
    p = profilelab.load(b.bytes())
    column = {"span_id": "span_id", "span id": "span_id", "profile_id": "span_id"}
    column |= {"trace_id": "trace_id"}
    for name in ("span_id", "trace_id"):
        expected = []
        for labels in samples:
            # pprof: a string label with an empty text is a numeric label whose number is 0
            texts = [_span_text(k, 0 if v == "" else v) for k, v in labels if column.get(k) == name]
            expected.append(texts[-1] if texts else None)
        assert p.samples[name].to_list() == expected, name
