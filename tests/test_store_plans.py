"""The store's trend and top as one SQL plan (DuckDB here; Spark in test_store_spark.py)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import CORPUS
from pprof_build import PprofBuilder
from store_util import MINUTE, T0, make_profiles

import profilelab
from profilelab.cli import main
from profilelab.errors import QueryError
from profilelab.store import plans
from profilelab.store.query import function_totals

REAL = CORPUS / "google-pprof/internal/report/testdata/sample.cpu"


def _odd_profile(path: Path) -> Path:
    """Recursion (main -> work -> work -> leaf), an unsymbolized leaf and an inlined pair."""
    b = PprofBuilder((("samples", "count"), ("cpu", "nanoseconds")))
    main_, work, inner = b.function("main.main"), b.function("main.work"), b.function("main.in")
    m, w1, w2 = b.location(main_), b.location(work, address=0x20), b.location(work, address=0x30)
    raw = b.location(address=0x4005D0)  # no lines: named by its address
    inl = b.location(inner, work, address=0x40)
    b.sample([raw, w2, w1, m], [1, 70])
    b.sample([w2, w1, m], [1, 30])
    b.sample([inl, m], [1, 5])
    b.msg.period_type.type, b.msg.period_type.unit = b.s("cpu"), b.s("nanoseconds")
    b.msg.time_nanos = T0 + 90 * MINUTE
    path.write_bytes(b.bytes(gzipped=True))
    return path


def _empty_profile(path: Path) -> Path:
    """A CPU profile without samples, 200 minutes in."""
    b = PprofBuilder((("samples", "count"), ("cpu", "nanoseconds")))
    b.msg.period_type.type, b.msg.period_type.unit = b.s("cpu"), b.s("nanoseconds")
    b.msg.time_nanos = T0 + 200 * MINUTE
    path.write_bytes(b.bytes(gzipped=True))
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("plans")
    made = make_profiles(tmp / "in", 12, samples=40, step_ns=10 * MINUTE)
    st = profilelab.open_store(tmp / "store")
    st.ingest([m.path for m in made[:6]], labels={"region": "eu"})
    st.ingest([m.path for m in made[6:]], labels={"region": "us"})
    st.ingest([_odd_profile(tmp / "odd.pb.gz")], labels={"service": "odd"})
    st.ingest([_empty_profile(tmp / "empty.pb.gz")], labels={"service": "odd"})
    if REAL.exists():  # a real Go profile when the corpus holds it
        st.ingest([REAL], labels={"service": "real"})
    return st


@pytest.mark.parametrize(
    ("selector", "start", "end"),
    [
        ("cpu", None, None),
        ('cpu{region="eu"}', None, None),
        ('cpu{region=~"us|"}', T0 + 20 * MINUTE, T0 + 100 * MINUTE),
        ('cpu:samples{service="real"}', None, None),
        ('cpu{service="odd"}', None, None),
    ],
)
def test_top_is_function_totals_of_the_query(store, selector, start, end) -> None:
    if "real" in selector and not REAL.exists():
        pytest.skip(f"{REAL} is not here")
    got = store.top(selector, start, end)
    expected = function_totals(store.query(selector, start, end))
    assert got.height > 0
    assert got.equals(expected)


def test_top_names_unsymbolized_frames_and_counts_recursion_once(store) -> None:
    got = {r[0]: r[1:] for r in store.top('cpu{service="odd"}').iter_rows()}
    assert got["0x4005d0"] == (70, 70)
    assert got["main.work"] == (30, 105)  # once per stack though it recurses
    assert got["main.in"] == (5, 5)
    assert got["main.main"] == (0, 105)


def test_top_of_nothing_and_of_several_types(store) -> None:
    assert store.top('cpu{service="nobody"}').height == 0
    with pytest.raises(QueryError, match="several profile types"):
        store.top('{region="eu"}')


def test_trend_of_one_function_sums_to_its_cum(store) -> None:
    fn = store.top('cpu{region="eu"}').row(0)[0]
    cum = store.top('cpu{region="eu"}').filter(pl.col("function") == fn)["cum"][0]
    series = store.series('cpu{region="eu"}', "10m", function=fn)
    assert series.height == 6 and series["value"].sum() == cum
    everything = store.series('cpu{region="eu"}', "1h")
    assert everything["value"].sum() == store.profiles('cpu{region="eu"}')["total"].sum()
    assert store.series("cpu", "1m", function="no.such.function")["value"].sum() == 0


def test_unknown_engine(store) -> None:
    with pytest.raises(QueryError, match="unknown engine 'presto'"):
        store.top("cpu", engine="presto")


def test_spark_without_pyspark_or_java_is_one_line(store, monkeypatch, capsys) -> None:
    import importlib.util
    import shutil

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyspark" else real_find_spec(name, *a),
    )
    args = ["query", "cpu", "--store", str(store.root), "top", "--engine", "spark"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'profilelab[spark]'" in err

    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(QueryError, match="needs a Java runtime"):
        plans.spark_session()
    assert main([*args[:-3], "series", "--engine", "spark"]) == 1
    assert "needs a Java runtime" in capsys.readouterr().err


def test_cli_top_with_an_engine(store, capsys) -> None:
    assert (
        main(["query", 'cpu{service="odd"}', "--store", str(store.root), "--engine", "duckdb"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["flat", "flat%", "cum", "cum%", "function"]
    assert out[1].split() == ["70", "66.67%", "70", "66.67%", "0x4005d0"]


def test_cli_engine_refuses_report_options_it_would_ignore(store, capsys) -> None:
    root = str(store.root)
    assert main(["query", "cpu", "--store", root, "--engine", "duckdb", "--focus", "main"]) == 1
    assert "--focus need the profiles loaded: drop --engine" in capsys.readouterr().err


def test_trend_has_a_row_for_a_step_holding_only_an_empty_profile(store) -> None:
    got = store.series('cpu{service="odd"}', "10m", function="main.work")
    step = 10 * MINUTE  # steps start at multiples of the step since the epoch
    assert got["time_ns"].to_list() == [(T0 + m * MINUTE) // step * step for m in (90, 200)]
    assert got["value"].to_list() == [105, 0]
