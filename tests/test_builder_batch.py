"""Building many inputs in one pass equals building each alone and concatenating.

``builder.build`` concatenates small inputs (references shifted) and builds their tables
once; ``Profile.concat`` deduplicates independently built parts. Both must give the same
tables, row for row, for every kind of input the readers make.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from pprof_build import PprofBuilder
from store_util import make_profiles

import profilelab
from profilelab.model import builder
from profilelab.model.profile import Profile
from profilelab.model.raw import RawProfile
from profilelab.readers import read
from profilelab.store import _decode

CORPUS_FILES = [
    "google-pprof/internal/report/testdata/sample.cpu",
    "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz",
    "_derived/google-pprof-driver-inputs/heap_tags.pb.gz",
    "parca-dev-parca/pkg/query/testdata/profile-with-labels.pb.gz",
    "datadog-dd-trace-go/profiler/internal/fastdelta/testdata/heap.pprof",
    "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile.pb.bin",
]


def _one_by_one(raws: list[RawProfile]) -> Profile:
    return Profile.concat([builder.build([raw]) for raw in raws])


def _assert_same(a: Profile, b: Profile) -> None:
    for (name, x), (_, y) in zip(a.tables(), b.tables(), strict=True):
        assert x.schema == y.schema, name
        assert x.equals(y), name


def _span_raws() -> list[RawProfile]:
    """pprof inputs with span labels, numeric labels, a second "" and reader-given columns."""
    raws = []
    for k in range(3):
        b = PprofBuilder([("samples", "count"), ("cpu", "nanoseconds")][: k % 2 + 1])
        main, work = b.function("main.main", "main.go"), b.function(f"work{k % 2}", "w.go")
        root, leaf = b.location(main, line=3), b.location(work, main, address=0x20 + k, line=7)
        for i, labels in enumerate(
            [[("span_id", "AA")], [("bytes", 1024 * k, "bytes")], [("k", "EMPTY")], []]
        ):
            b.sample([leaf, root] if i % 2 else [root], [1, 10 * i][: k % 2 + 1], labels)
        raw = read(b.bytes(), f"in{k}.pb")[0]
        raw.strings = pa.array(["" if s == "EMPTY" else s for s in raw.strings.to_pylist()])
        if k == 1:  # a reader that fills span ids and times itself (OTLP)
            raw.sample_span_id = pa.array(["01", None, "03", "04"], type=pa.string())
            raw.sample_time_ns = np.array([5, 6, 7, 8], dtype=np.int64)
            raw.sample_time_valid = np.array([True, False, True, True])
        raws.append(raw)
    return raws


@pytest.fixture(params=["hashed as they are", "equal strings found first"])
def dedup(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's strings are hashed as they are, or (from DEDUP_MIN_STRINGS on) with the
    equal ones found first: the same ids either way."""
    if request.param == "equal strings found first":
        monkeypatch.setattr(builder, "DEDUP_MIN_STRINGS", 0)


@pytest.mark.usefixtures("dedup")
def test_corpus_inputs_built_together_equal_built_alone(corpus: Path) -> None:
    raws = [raw for rel in CORPUS_FILES for raw in read(corpus / rel)]
    raws += raws[:2]  # an input given twice: one profile, samples twice
    together = builder.build(raws)
    together.check()
    _assert_same(together, _one_by_one(raws))


@pytest.mark.usefixtures("dedup")
def test_span_and_time_columns_built_together_equal_built_alone() -> None:
    raws = _span_raws()
    together = builder.build(raws)
    together.check()
    _assert_same(together, _one_by_one(raws))
    # the second "" of an input's string table is still a string label (empty text),
    # one label set for the three inputs
    assert together.labels.filter(pl.col("key") == "k")["str"].to_list() == [""]


def test_large_inputs_are_cut_into_several_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    raws = _span_raws()
    expected = builder.build(raws)
    monkeypatch.setattr(builder, "BATCH_ROWS", 5)  # every input alone
    assert [len(b) for b in builder._batches(raws)] == [1, 1, 1]
    _assert_same(builder.build(raws), expected)


def test_an_input_without_sample_types_keeps_its_stacks_out_of_profiles() -> None:
    raws = _span_raws()
    raws[1].sample_types = []
    raws[1].values = np.zeros((raws[1].n_samples, 0), dtype=np.int64)
    together = builder.build(raws)
    _assert_same(together, _one_by_one(raws))
    assert together.profiles["source"].to_list().count("in1.pb") == 0


def test_chunk_decode_gives_each_input_its_own_rows(tmp_path: Path) -> None:
    made = make_profiles(tmp_path / "in", 5)
    bad = tmp_path / "in" / "bad.pb.gz"
    bad.write_bytes(b"\x1f\x8b garbage")
    paths = [str(m.path) for m in made[:2]] + [str(bad)] + [str(m.path) for m in made[2:]]
    pending = [_decode.read_input(p, set()) for p in paths]
    assert all(isinstance(p, _decode.Pending) for p in pending)
    results = _decode.decode_inputs(pending).split()  # type: ignore[arg-type]
    assert [r.source for r in results] == paths
    assert results[2].profile is None and "gzip" in (results[2].error or "")
    good = [r for r in results if r.profile is not None]
    assert len(good) == 5
    # the chunk's dictionary tables ride with its first input
    merged = Profile.concat([r.profile for r in good if r.profile is not None])
    merged.check()
    for result, m in zip(good, made, strict=True):
        alone = profilelab.load(m.path, name=str(m.path))
        assert result.profile is not None and result.input_id == m.input_id
        assert result.profile.profiles.equals(alone.profiles)
        assert result.profile.samples.equals(alone.samples)
    _assert_same(merged, profilelab.load([str(m.path) for m in made]))


def test_mapping_ids_of_inputs_hashed_together_equal_each_input_built_alone(
    corpus: Path,
) -> None:
    inputs = [read(corpus / rel) for rel in CORPUS_FILES] + [[r] for r in _span_raws()]
    inputs.append(inputs[0])  # an input given twice keeps its own list
    expected = [
        builder.build(raws).mappings["mapping_id"].to_list() if raws else [] for raws in inputs
    ]
    assert any(len(e) > 1 for e in expected)
    assert builder.mapping_ids_each(inputs) == expected
    assert [builder.mapping_ids(raws) for raws in inputs] == expected
    profile, each = builder.build_with_mapping_ids(inputs)  # the build's own hashes
    assert each == expected
    _assert_same(profile, builder.build([r for raws in inputs for r in raws]))


def test_mapping_ids_taken_from_a_build_cut_in_batches(
    monkeypatch: pytest.MonkeyPatch, corpus: Path
) -> None:
    inputs = [read(corpus / rel) for rel in CORPUS_FILES]
    expected = builder.mapping_ids_each(inputs)
    monkeypatch.setattr(builder, "BATCH_ROWS", 1)  # one batch per RawProfile
    profile, each = builder.build_with_mapping_ids(inputs)
    assert each == expected
    _assert_same(profile, builder.build([r for raws in inputs for r in raws]))


def test_labels_built_beside_the_stacks_equal_built_after_them(
    monkeypatch: pytest.MonkeyPatch, corpus: Path
) -> None:
    """A big input's labels are built by a second thread (PARALLEL_SAMPLES): same tables."""
    inputs = [_span_raws(), read(corpus / CORPUS_FILES[1]), read(corpus / CORPUS_FILES[3])]
    monkeypatch.setattr(builder, "PARALLEL_SAMPLES", 1 << 62)
    expected = [builder.build(raws) for raws in inputs]
    threads: list[str] = []
    monkeypatch.setattr(builder, "PARALLEL_SAMPLES", 0)
    original = builder.Background

    def spy(work, name):  # type: ignore[no-untyped-def]
        threads.append(name)
        return original(work, name)

    monkeypatch.setattr(builder, "Background", spy)
    for raws, want in zip(inputs, expected, strict=True):
        _assert_same(builder.build(raws), want)
    assert threads == ["labels"] * len(inputs)


def test_an_error_building_the_labels_beside_is_raised_by_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> None:
        raise ValueError("label set hash")

    monkeypatch.setattr(builder, "PARALLEL_SAMPLES", 0)
    monkeypatch.setattr(builder, "_labels", broken)
    with pytest.raises(ValueError, match="label set hash"):
        builder.build(_span_raws())
