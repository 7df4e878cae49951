"""Apache Spark (local mode) reads a store written by profilelab and gets the same totals;
the store's trend and top run on Spark with DuckDB's results (one session per module)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS
from store_util import MINUTE, make_old, make_profiles

import profilelab
from profilelab.store.plans import Spark
from profilelab.store.query import function_totals

pytestmark = [
    pytest.mark.slow,
    pytest.mark.spark,
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
        reason="needs pyspark and a Java runtime (Debian openjdk-17-jre-headless)",
    ),
]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", "python3")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("profilelab-store-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.memory", "1g")
        # a short job: quick JIT and a simple collector start faster
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_computes_the_same_per_function_totals(spark, tmp_path: Path) -> None:
    store = profilelab.open_store(tmp_path / "store")
    made = make_profiles(tmp_path / "in", 20, samples=200, services=("order", "cart"))
    store.ingest([m.path for m in made[:10]], labels={"service": "order"})
    store.ingest([m.path for m in made[10:]], labels={"service": "cart"})
    real = CORPUS / "google-pprof/internal/report/testdata/sample.cpu"
    if real.exists():  # a real Go profile too, when the shared corpus is there
        store.ingest([real])
    expected = {
        name: (flat, cum)
        for name, flat, cum in function_totals(store.query("cpu:cpu:nanoseconds")).iter_rows()
    }
    root = store.root
    samples = spark.read.option("basePath", str(root / "samples")).parquet(str(root / "samples"))
    spark.read.parquet(str(root / "catalog")).createOrReplaceTempView("profiles")
    samples.createOrReplaceTempView("samples")
    spark.read.parquet(str(root / "stacks")).createOrReplaceTempView("stacks")
    spark.read.parquet(str(root / "frames")).createOrReplaceTempView("frames")
    rows = spark.sql(
        """
        with s as (  -- per-stack totals of the CPU profiles (the hive column, decoded)
          select stack_id, sum(value) as value from samples
          where profile_type = 'cpu:cpu:nanoseconds'
            and profile_id in (select profile_id from profiles)
          group by stack_id
        ),
        f as (  -- each stack's frames, leaf first, named as profilelab names them
          select e.stack_id, e.pos,
                 coalesce(fr.function, concat('0x', lower(hex(fr.address)))) as function
          from (select stack_id, posexplode(frame_ids) as (pos, frame_id) from stacks) e
          join frames fr on fr.frame_id = e.frame_id
        ),
        flat as (
          select function, sum(s.value) as flat from f join s using (stack_id)
          where pos = 0 group by function
        ),
        cum as (
          select function, sum(s.value) as cum
          from (select distinct stack_id, function from f) d join s using (stack_id)
          group by function
        )
        select cum.function, coalesce(flat.flat, 0) as flat, cum.cum
        from cum left join flat using (function)
        """
    ).collect()
    got = {r["function"]: (int(r["flat"]), int(r["cum"])) for r in rows}
    assert got == expected
    services = {r["service"] for r in samples.select("service").distinct().collect()}
    assert services == ({"order", "cart", "unknown"} if real.exists() else {"order", "cart"})


def test_trend_and_top_on_spark_equal_duckdb(spark, tmp_path: Path) -> None:
    store = profilelab.open_store(tmp_path / "store")
    made = make_profiles(tmp_path / "in", 12, samples=100, step_ns=10 * MINUTE)
    store.ingest([m.path for m in made[:6]], labels={"service": "order"})
    make_old(store.root)  # stored before the function index: answered from the samples
    store = profilelab.open_store(tmp_path / "store")
    store.ingest([m.path for m in made[6:]], labels={"service": "cart"})
    real = CORPUS / "google-pprof/internal/report/testdata/sample.cpu"
    if real.exists():
        store.ingest([real], labels={"service": "real"})
    engine = Spark(session=spark)
    t0 = made[2].time_ns
    for selector, start, end in (
        ("cpu", None, None),
        ('cpu{service="cart"}', t0, t0 + 60 * MINUTE),
        ('cpu:samples{service=~"real|order"}', None, None),
    ):
        duck = store.top(selector, start, end)
        assert duck.height > 0
        assert store.top(selector, start, end, engine=engine).equals(duck)
        fn = duck["function"][1]
        duck_trend = store.series(selector, "20m", start, end, function=fn)
        assert duck_trend["value"].sum() > 0
        assert store.series(selector, "20m", start, end, function=fn, engine=engine).equals(
            duck_trend
        )
    assert store.series("cpu", "1h", engine=engine).equals(store.series("cpu", "1h"))
    assert store.top('cpu{service="nobody"}', engine=engine).height == 0
