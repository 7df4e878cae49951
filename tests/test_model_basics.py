from pathlib import Path

import polars as pl

import profilelab
from profilelab.model import schema


def test_load_corpus_cpu_profile(corpus: Path) -> None:
    p = profilelab.load(corpus / "google-pprof/internal/report/testdata/sample.cpu")
    p.check()
    totals = dict(
        p.sql(
            "select sample_type, sum(value)::bigint from samples join profiles using (profile_id) "
            "group by all"
        ).iter_rows()
    )
    assert totals == {"samples": 176, "cpu": 1_760_000_000}


def test_same_file_twice_gives_same_ids_and_doubles(corpus: Path) -> None:
    path = corpus / "google-pprof/internal/report/testdata/sample.cpu"
    a = profilelab.load(path)
    b = profilelab.load(path)
    assert a.stacks.equals(b.stacks) and a.frames.equals(b.frames)
    both = profilelab.load([path, path])
    both.check()
    assert both.samples["value"].sum() == 2 * a.samples["value"].sum()
    assert both.stacks.height == a.stacks.height


def test_span_labels_become_columns(corpus: Path) -> None:
    p = profilelab.load(
        corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz"
    )
    p.check()
    assert p.samples["span_id"].drop_nulls().len() > 0
    assert "profile_id" not in p.labels["key"].to_list()
    assert set(p.labels["key"].unique()) == {"foo", "function"}
    assert p.samples.filter(pl.col("label_set_id") == 0).height < p.samples.height


def test_repr_of_a_fleet_names_each_sample_type_once() -> None:
    fleet = profilelab.datasets.load("order-service")  # 48 files, two sample types each
    assert fleet.profiles.height == 96
    assert repr(fleet).startswith("<Profile 96 profiles [samples/count, cpu/nanoseconds], "), repr(
        fleet
    )


def test_conform_returns_a_conforming_frame_as_is_and_fixes_order_and_types() -> None:
    """A frame already in the table's schema needs no query; one with the same names and
    types in another order, or a column of another type, is still selected and cast."""
    frames = schema.empty("mappings")
    assert schema.conform("mappings", frames) is frames
    reordered = frames.select(list(reversed(frames.columns)))
    assert reordered.columns != frames.columns
    assert schema.conform("mappings", reordered).columns == frames.columns
    narrow = frames.with_columns(frames["file_offset"].cast(pl.Int32))
    assert schema.conform("mappings", narrow).schema == frames.schema
