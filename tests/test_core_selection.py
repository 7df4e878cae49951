"""The query core: one selection value, one sample-type rule, one parser of each syntax."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import core, views
from profilelab.analysis import _select as analysis_select
from profilelab.cli import main
from profilelab.core import sampletypes
from profilelab.errors import QueryError
from profilelab.writers import _select as writers_select

ROOT = Path(__file__).resolve().parent.parent
HEAP = sorted((ROOT / "datasets" / "heap-leak").glob("*.pb.gz"))
EBPF = "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile.pb.bin"


def _total(profile: profilelab.Profile, sample_type: str) -> int:
    ids = profile.profiles.filter(pl.col("sample_type") == sample_type)["profile_id"]
    return int(profile.samples.filter(pl.col("profile_id").is_in(ids.implode()))["value"].sum())


def test_granularity_names_are_plural_with_singular_aliases() -> None:
    assert core.granularity("function") == "functions"
    assert core.granularity("Lines") == "lines"
    assert core.Selection(granularity="address").granularity == "addresses"
    with pytest.raises(QueryError, match="granularity 'funcs' is not one of functions"):
        core.Selection(granularity="funcs")


def test_selection_validates_once_with_one_error_style() -> None:
    with pytest.raises(QueryError, match="parsing focus regexp '\\('"):
        core.Selection(focus="(")
    with pytest.raises(QueryError, match="parsing hide regexp"):
        core.Selection(hide="[")
    with pytest.raises(QueryError, match="unknown transform 'fold'"):
        core.Selection(transforms=[("fold", "x")])
    with pytest.raises(QueryError, match="merge_function needs a regex"):
        core.Selection(transforms=[("merge_function", "")])
    with pytest.raises(QueryError, match="empty time range"):
        core.Selection(start_ns=10, end_ns=5)


def test_selection_round_trips_through_json() -> None:
    sel = core.Selection(
        sample_index="cpu",
        labels={"service": "api", "region": ["eu-1", "eu.2"]},
        transforms=[("merge_function", "^runtime\\."), ("left_heavy", None)],
        granularity="line",
        start_ns="2024-05-01",
    )
    again = core.Selection.from_dict(json.loads(json.dumps(sel.to_dict())))
    assert again == sel
    assert sel.start_ns == 1714521600 * 10**9
    assert sel.selector_text().startswith('{service="api", region=~')
    with pytest.raises(QueryError, match="unknown selection field"):
        core.Selection.from_dict({"sample_type": "cpu"})


def test_several_label_values_match_literally_in_polars_and_python() -> None:
    values = ["vector<int>", "a.b", "x|y", "(z)", "p+q", "m<n>o", "k#1 ~&-"]
    (matcher,) = core.Selection(labels={"name": values}).labels
    others = ["vectorXint>", "aXb", "x", "z", "ppq", "m<n>", "k#1"]
    column = pl.Series(values + others)
    anchored = f"^(?:{matcher.value})$"
    assert column.str.contains(anchored).to_list() == [True] * len(values) + [False] * len(others)
    assert [matcher.matches(v) for v in column] == [True] * len(values) + [False] * len(others)


def test_labels_take_the_store_selector_syntax() -> None:
    sel = core.Selection(labels='service="api", version=~"v2.*"')
    assert [(m.label, m.op, m.value) for m in sel.labels] == [
        ("service", "=", "api"),
        ("version", "=~", "v2.*"),
    ]


def test_one_duration_parser_everywhere() -> None:
    assert analysis_select.parse_duration_ns("1h30m") == 5400 * 10**9
    assert analysis_select.parse_duration_ns(7) == 7
    now = 10**18
    assert core.Selection(start_ns=None).start_ns is None
    from profilelab.core.timeparse import parse_time

    assert parse_time("-1h", now) == now - 3600 * 10**9


def test_every_type_of_a_multi_profile_otlp_capture_is_selectable(corpus: Path) -> None:
    p = profilelab.load(corpus / EBPF)
    assert [t.type for t in sampletypes.offered(p)] == ["off_cpu", "samples"]
    want = _total(p, "samples")
    by_name = p.top(sample_index="samples")
    assert int(by_name["flat"].sum()) == want
    assert int(p.top(sample_index=1)["flat"].sum()) == want
    # the same default and the same choice in every consumer
    assert views.Selection(p, "samples").total == want
    assert views.Selection(p, 1).total == want
    assert views.Selection(p).sample_type == p.top().pipe(lambda _: "off_cpu")
    only = writers_select.select_sample_type(p, "samples")
    assert set(only.profiles["sample_type"]) == {"samples"}
    assert set(analysis_select.of_type(p, 1)["sample_type"]) == {"samples"}


def test_cli_top_reports_every_type_of_the_capture(corpus: Path, capsys) -> None:
    assert main(["top", str(corpus / EBPF), "--sample-index", "samples", "--format", "csv"]) == 0
    rows = pl.read_csv(capsys.readouterr().out.encode())
    assert int(rows["flat"].sum()) == _total(profilelab.load(corpus / EBPF), "samples")


@pytest.mark.skipif(not HEAP, reason="datasets/heap-leak is not present")
def test_store_query_top_equals_direct_top_without_sum(tmp_path: Path, capsys) -> None:
    files = HEAP[:2]
    st = profilelab.open_store(tmp_path / "s")
    st.ingest(files)
    direct = profilelab.load(files)
    for stype in ("inuse_space", "alloc_objects"):
        got = st.query(f"heap:{stype}")
        assert got.top().equals(direct.top(sample_index=stype))
        assert int(got.top()["flat"].sum()) == _total(direct, stype) != 0
    selector = 'heap:inuse_space{service=~".+"}'
    assert main(["query", selector, "--store", str(tmp_path / "s"), "top"]) == 0
    assert "Total samples = 0" not in capsys.readouterr().out


def test_time_range_filters_samples_by_time(corpus: Path) -> None:
    p = profilelab.load(corpus / EBPF)
    times = p.samples["time_ns"].sort()
    mid = int(times[len(times) // 2])
    sel = core.Selection(start_ns=mid)
    kept = core.restrict(p, sel)
    assert kept.samples.height == int((times >= mid).sum())
    assert kept.samples["time_ns"].min() >= mid  # type: ignore[operator]


LABELLED = "parca-dev-parca/pkg/query/testdata/profile-with-labels.pb.gz"


def test_label_matchers_keep_the_matching_samples(corpus: Path) -> None:
    p = profilelab.load(corpus / LABELLED)
    labels = p.labels.filter(pl.col("key") == "thread_name")
    value = str(labels["str"].drop_nulls()[0])
    ids = labels.filter(pl.col("str") == value)["label_set_id"]
    stype = sampletypes.default(p).type
    want = _total(
        p.replace(samples=p.samples.filter(pl.col("label_set_id").is_in(ids.implode()))), stype
    )
    sel = core.Selection(labels=f'{{thread_name="{value}"}}')
    assert _total(core.restrict(p, sel), stype) == want
    assert int(p.top(labels=sel.labels, nodefraction=0.0)["flat"].sum()) == want
    negated = core.Selection(labels={"thread_name": [value]}).with_(
        labels=f'thread_name!="{value}"'
    )
    assert _total(core.restrict(p, negated), stype) == _total(p, stype) - want


def test_narrow_focus_and_ignore_keep_what_pprof_keeps(corpus: Path) -> None:
    from profilelab.core.restriction import narrow

    p = profilelab.load(corpus / "google-pprof/internal/report/testdata/sample.cpu")
    for option in ("focus", "ignore"):
        sel = core.Selection(sample_index="cpu", **{option: "line1000"})
        kept = narrow(p, sel, "test")
        assert _total(kept, "cpu") == int(
            p.top(sample_index="cpu", **{option: "line1000"})["flat"].sum()
        )
    with pytest.raises(QueryError, match="test cannot apply show_from"):
        narrow(p, core.Selection(show_from="main"), "test")


STORE_FILES = [
    "google-pprof/internal/report/testdata/sample.cpu",
    "parca-dev-parca/pkg/query/testdata/alloc_objects.pb.gz",
    "parca-dev-parca/pkg/query/testdata/profile-with-labels.pb.gz",
    "google-pprof/internal/driver/testdata/cppbench.cpu",
]


def test_store_query_equals_direct_load_for_every_sample_type(corpus: Path, tmp_path: Path) -> None:
    files = [corpus / f for f in STORE_FILES if (corpus / f).exists()]
    st = profilelab.open_store(tmp_path / "s")
    st.ingest(files)
    for path in files:
        direct = profilelab.load(path)
        catalog = st.snapshot().catalog
        source = catalog.filter(pl.col("source").str.ends_with(path.name))["source"][0]
        stored = st.query(f'{{__source__="{source}"}}')
        for t in sampletypes.offered(direct):
            want = direct.top(sample_index=t.type)
            assert stored.top(sample_index=t.type).equals(want), (path.name, t.type)
            # one type alone: its stored sample_type_index counts the file's types
            alone = st.query(f'{{__source__="{source}", __type__="{t.type}"}}')
            assert alone.top().equals(want), (path.name, t.type)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 4)), min_size=0, max_size=12))
def test_sources_number_inputs_in_load_order_and_types_by_rank(rows: list) -> None:
    """``src`` counts inputs by first appearance; ``pos`` is the ordinal rank of a row's
    ``sample_type_index`` among its input's rows (ties in table order), from 0."""
    base = profilelab.Profile.empty().profiles
    table = pl.DataFrame(
        {
            "profile_id": list(range(len(rows))),
            "source_id": [s for s, _ in rows],
            "sample_type_index": [i for _, i in rows],
        },
        schema_overrides={"profile_id": pl.Int64, "source_id": pl.Int64},
    )
    table = table.with_columns(
        pl.lit(None, dtype=base.schema[c]).alias(c) for c in base.columns if c not in table.columns
    ).select(base.columns)
    got = sampletypes.sources(profilelab.Profile.empty().replace(profiles=table))
    inputs = list(dict.fromkeys(s for s, _ in rows))
    want_src = [inputs.index(s) for s, _ in rows]
    want_pos = [
        sum(1 for k, (t, j) in enumerate(rows) if t == s and (j, k) < (i, n))
        for n, (s, i) in enumerate(rows)
    ]
    assert got.columns == [*base.columns, "src", "pos"]
    assert got["src"].to_list() == want_src
    assert got["pos"].to_list() == want_pos
    assert got.schema["src"] == got.schema["pos"] == pl.Int64


@pytest.mark.skipif(not HEAP, reason="datasets/heap-leak is not present")
def test_sample_types_of_one_profile_are_not_those_asked_of_another(corpus: Path) -> None:
    """``sources`` and the type lists are kept for the last profiles table asked about
    (a report asks about ten times): another table, asked in between, gets its own."""
    heap = profilelab.load(HEAP[0])
    capture = profilelab.load(corpus / EBPF)
    two_heaps = profilelab.load(HEAP[:2])
    cpu = profilelab.load(ROOT / "datasets" / "checkout-api" / "before" / "cpu-00.pb.gz")
    want = {}
    wall = cpu.replace(
        profiles=cpu.profiles.with_columns(pl.col("sample_type").replace("cpu", "wall"))
    )
    profiles = {"heap": heap, "capture": capture, "two": two_heaps, "cpu": cpu, "wall": wall}
    for name, p in profiles.items():
        want[name] = (
            sampletypes.offered(p),
            sampletypes.default(p),
            sampletypes.uniform(p),
            sampletypes.sources(p)["src"].to_list(),
        )
    assert want["heap"][0] != want["capture"][0]
    assert want["heap"][3] != want["two"][3]
    assert want["cpu"][0] != want["wall"][0]  # the same number of rows, other types
    for name in ("capture", "cpu", "wall", "heap", "two", "cpu", "wall", "heap"):
        p = profiles[name]
        for q in (p, p.replace(profiles=p.profiles.clone())):  # the same rows, another table
            got = (
                sampletypes.offered(q),
                sampletypes.default(q),
                sampletypes.uniform(q),
                sampletypes.sources(q)["src"].to_list(),
            )
            assert got == want[name], name
