"""pprof writer: round trips over the corpus, ``go tool pprof`` agreement, merges, diffs."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import FormatError, QueryError
from profilelab._proto import pprof_pb2
from profilelab.writers import _pbenc as pb
from profilelab.writers import format_for_path, write
from profilelab.writers.pprof import encode, write_diff
from tests._pprof_tools import assert_same_tables, canonical_raw, go_pprof, pprof_corpus_files

FILES = pprof_corpus_files()
SAMPLE_CPU = "google-pprof/internal/report/testdata/sample.cpu"
HEAP = "grafana-pyroscope/pkg/og/convert/pprof/testdata/heap.pb.gz"
FASTDELTA = "datadog-dd-trace-go/profiler/internal/fastdelta/testdata"


def _load_or_skip(path: Path) -> profilelab.Profile:
    try:
        profile = profilelab.load(path)
    except FormatError as exc:  # the corpus has a few files no pprof reader accepts
        pytest.skip(f"does not load: {exc}")
    if profile.profiles["format"].unique().to_list() != ["pprof"]:
        pytest.skip("not a pprof input")
    return profile


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=40))
@settings(max_examples=200, deadline=None)
def test_packed_varints_match_the_protobuf_runtime(values: list[int]) -> None:
    ours = pb.packed(2, np.array(values, dtype=np.int64), np.array([0, len(values)]))
    assert ours.tobytes() == pprof_pb2.Sample(value=values).SerializeToString()


@pytest.mark.parametrize("name", FILES)
def test_round_trip_keeps_every_table(corpus: Path, name: str) -> None:
    """pprof -> tables -> pprof -> tables: identical tables, rows in the same order.

    Only the source-derived columns differ (profile_id, source_id, source): they hash
    the input's bytes and name.
    """
    original = _load_or_skip(corpus / name)
    again = profilelab.load(encode(original), name="written.pb.gz")
    again.check()
    assert_same_tables(original, again)


@pytest.mark.golang
@pytest.mark.parametrize("name", FILES)
def test_go_pprof_reads_the_same_profile(corpus: Path, name: str, tmp_path: Path) -> None:
    """``go tool pprof -raw`` and ``-top`` print the same numbers for the written file."""
    original = _load_or_skip(corpus / name)
    written = tmp_path / "written.pb.gz"
    written.write_bytes(encode(original))
    assert canonical_raw(go_pprof("-raw", written)) == canonical_raw(
        go_pprof("-raw", corpus / name)
    )
    assert go_pprof("-top", written) == go_pprof("-top", corpus / name)


@pytest.mark.golang
@pytest.mark.parametrize(
    ("new", "base"),
    [
        (f"{FASTDELTA}/heap.after.pprof", f"{FASTDELTA}/heap.before.pprof"),
        (f"{FASTDELTA}/stress-failure.3.after.pprof", f"{FASTDELTA}/stress-failure.3.before.pprof"),
        (
            "parca-dev-parca/pkg/query/testdata/many/1644509299337903000.pb.gz",
            "parca-dev-parca/pkg/query/testdata/many/1644509272337470000.pb.gz",
        ),
    ],
)
def test_diff_matches_go_diff_base(corpus: Path, new: str, base: str, tmp_path: Path) -> None:
    out = tmp_path / "diff.pb.gz"
    with out.open("wb") as f:
        write_diff(profilelab.load(corpus / new), profilelab.load(corpus / base), f)
    for index in ("0", "3"):
        expected = go_pprof(
            "-top", f"-sample_index={index}", f"-diff_base={corpus / base}", corpus / new
        )
        assert go_pprof("-top", f"-sample_index={index}", out) == expected
    assert go_pprof("-traces", out) == go_pprof(
        "-traces", f"-diff_base={corpus / base}", corpus / new
    )


def test_diff_labels_negated_base_samples(corpus: Path) -> None:
    new = profilelab.load(corpus / FASTDELTA / "heap.after.pprof")
    base = profilelab.load(corpus / FASTDELTA / "heap.before.pprof")
    diff = profilelab.load(encode(new, base=base))
    diff.check()
    marked = diff.labels.filter(pl.col("key") == "pprof::base")["label_set_id"]
    base_rows = diff.samples.filter(pl.col("label_set_id").is_in(marked.implode()))
    assert base_rows["value"].sum() == -base.samples["value"].sum()
    assert diff.samples["value"].sum() == new.samples["value"].sum() - base.samples["value"].sum()


@pytest.mark.golang
def test_merging_two_inputs_matches_go(corpus: Path, tmp_path: Path) -> None:
    a = corpus / "parca-dev-parca/pkg/query/testdata/many/1644509272337470000.pb.gz"
    b = corpus / "parca-dev-parca/pkg/query/testdata/many/1644509275338070000.pb.gz"
    merged = profilelab.load([a, b])
    out = tmp_path / "merged.pb.gz"
    out.write_bytes(encode(merged))
    assert go_pprof("-top", out) == go_pprof("-top", a, b)
    again = profilelab.load(out)
    assert again.samples["value"].sum() == merged.samples["value"].sum()
    assert again.samples.height < merged.samples.height  # equal samples were combined


def test_inputs_with_different_sample_types_are_refused(corpus: Path) -> None:
    both = profilelab.load([corpus / SAMPLE_CPU, corpus / HEAP])
    with pytest.raises(QueryError, match=r"different sample types.*sample\.cpu.*heap\.pb\.gz"):
        encode(both)


def test_selecting_one_sample_type(corpus: Path) -> None:
    both = profilelab.load(
        [corpus / SAMPLE_CPU, corpus / "parca-dev-parca/pkg/query/testdata/fib.pb.gz"]
    )
    out = io.BytesIO()
    write(both, out, "pprof", sample_type="cpu")
    again = profilelab.load(out.getvalue())
    assert again.profiles["sample_type"].to_list() == ["cpu"]
    cpu = both.samples.join(both.profiles.filter(pl.col("sample_type") == "cpu"), on="profile_id")
    assert again.samples["value"].sum() == cpu["value"].sum()
    out = io.BytesIO()
    write(profilelab.load(corpus / SAMPLE_CPU), out, "pprof", sample_type=0)
    assert profilelab.load(out.getvalue()).profiles["sample_type"].to_list() == ["samples"]
    with pytest.raises(QueryError, match=r"sample_index .wall. must be one of: 0=samples, 1=cpu"):
        write(both, io.BytesIO(), "pprof", sample_type="wall")


def test_sample_types_with_different_sample_sets_get_zeros(corpus: Path) -> None:
    p = profilelab.load(corpus / SAMPLE_CPU)
    cpu_id = p.profiles.filter(pl.col("sample_type") == "cpu")["profile_id"][0]
    dropped = p.samples.filter((pl.col("profile_id") != cpu_id) | (pl.col("sample_index") % 2 == 0))
    again = profilelab.load(encode(p.replace(samples=dropped)))
    totals = dict(
        again.samples.join(again.profiles, on="profile_id")
        .group_by("sample_type")
        .agg(pl.col("value").sum())
        .iter_rows()
    )
    kept_cpu = dropped.filter(pl.col("profile_id") == cpu_id)["value"].sum()
    assert totals == {"samples": 176, "cpu": kept_cpu}
    assert again.samples.height == p.samples.height  # every sample kept, cpu 0 where dropped


def test_span_columns_come_back_as_labels(corpus: Path) -> None:
    name = "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz"
    p = profilelab.load(corpus / name)
    msg = pprof_pb2.Profile.FromString(encode(p, compress=False))
    strings = [s.decode() for s in msg.string_table]
    keys = {strings[lb.key] for smp in msg.sample for lb in smp.label}
    assert "span_id" in keys and "profile_id" not in keys
    again = profilelab.load(encode(p))
    assert again.samples["span_id"].to_list() == p.samples["span_id"].to_list()


def test_header_fields_survive(corpus: Path) -> None:
    name = "_derived/google-pprof-driver-inputs/heap.pb.gz"
    msg = pprof_pb2.Profile.FromString(encode(profilelab.load(corpus / name), compress=False))
    strings = [s.decode() for s in msg.string_table]
    assert [strings[c] for c in msg.comment] == ["comment", "#hidden comment"]
    assert strings[msg.drop_frames] == ".*operator new.*|malloc"
    assert (strings[msg.period_type.type], msg.period) == ("allocations", 524288)
    numeric = {(strings[lb.key], lb.num) for smp in msg.sample for lb in smp.label}
    assert ("bytes", 102400) in numeric


def test_output_is_gzip_and_suffixes_pick_pprof(corpus: Path) -> None:
    data = encode(profilelab.load(corpus / SAMPLE_CPU))
    assert data[:2] == b"\x1f\x8b" and gzip.decompress(data)
    for name in ("out.pb.gz", "out.pprof", "x/cpu.pb"):
        assert format_for_path(name) == "pprof"


NAMES = st.sampled_from(["main", "a;b", "<b>x</b>", 'q"uote', "multi\nline", "", "f", "g"])


@st.composite
def pprof_messages(draw: st.DrawFn) -> bytes:
    """Valid pprof messages: inline frames, shared and unused locations, mappings,
    string/numeric labels with units, span ids, negative values, empty stacks."""
    strings = [""]

    def s(text: str) -> int:
        if text not in strings:
            strings.append(text)
        return strings.index(text)

    msg = pprof_pb2.Profile()
    n_types = draw(st.integers(1, 3))
    for t in range(n_types):
        msg.sample_type.add(type=s(f"type{t}"), unit=s(draw(st.sampled_from(["count", "bytes"]))))
    n_maps = draw(st.integers(0, 2))
    for m in range(n_maps):
        msg.mapping.add(
            id=m + 1,
            memory_start=0x1000 * (m + 1),
            memory_limit=0x1000 * (m + 2),
            filename=s(f"/bin/m{m}"),
            has_functions=draw(st.booleans()),
        )
    n_fns = draw(st.integers(1, 4))
    for f in range(n_fns):
        msg.function.add(
            id=f + 1,
            name=s(draw(NAMES)),
            filename=s(draw(st.sampled_from(["", "x.go"]))),
            start_line=draw(st.integers(0, 3)),
        )
    n_locs = draw(st.integers(1, 6))
    for loc in range(n_locs):
        lines = draw(st.lists(st.tuples(st.integers(1, n_fns), st.integers(0, 3)), max_size=3))
        msg.location.add(
            id=loc + 1,
            address=draw(st.sampled_from([0, 0x1010, 0x2020])),
            mapping_id=draw(st.integers(0, n_maps)),
            is_folded=draw(st.booleans()),
            line=[pprof_pb2.Line(function_id=f, line=n) for f, n in lines],
        )
    for _ in range(draw(st.integers(0, 8))):
        smp = msg.sample.add(
            location_id=draw(st.lists(st.integers(1, n_locs), max_size=5)),
            value=draw(st.lists(st.integers(-(2**40), 2**40), min_size=n_types, max_size=n_types)),
        )
        for key in draw(
            st.lists(st.sampled_from(["k", "bytes", "span_id", "trace_id"]), max_size=3)
        ):
            if key in ("span_id", "trace_id"):
                smp.label.add(key=s(key), str=s(draw(st.sampled_from(["00ab", "FF10"]))))
            elif key == "bytes":
                smp.label.add(key=s(key), num=draw(st.integers(-5, 5)), num_unit=s("bytes"))
            else:
                smp.label.add(key=s(key), str=s(draw(NAMES)))
    msg.string_table.extend(x.encode() for x in strings)
    return msg.SerializeToString()


@given(pprof_messages())
@settings(max_examples=150, deadline=None)
def test_round_trip_property(data: bytes) -> None:
    """Same rows in every table. (Row order too for every corpus file; generated inputs
    whose unused locations share frames with others may list frames in another order.)"""
    original = profilelab.load(data, name="generated.pb")
    again = profilelab.load(encode(original), name="written.pb.gz")
    again.check()
    assert_same_tables(original, again, same_order=False)


def test_diff_against_itself_sums_to_zero(corpus: Path) -> None:
    p = profilelab.load(corpus / SAMPLE_CPU)
    diff = profilelab.load(encode(p, base=p))
    diff.check()
    assert diff.samples.height == 2 * p.samples.height
    assert diff.samples["value"].sum() == 0


def test_nothing_to_write_is_an_error() -> None:
    with pytest.raises(QueryError, match="nothing to write"):
        encode(profilelab.Profile.empty())


def test_same_input_loaded_twice_keeps_its_totals(corpus: Path) -> None:
    twice = profilelab.load([corpus / SAMPLE_CPU, corpus / SAMPLE_CPU])
    again = profilelab.load(encode(twice))
    assert again.samples["value"].sum() == twice.samples["value"].sum()
    assert (
        again.samples["value"].sum()
        == 2 * profilelab.load(corpus / SAMPLE_CPU).samples["value"].sum()
    )
