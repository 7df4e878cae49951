"""The store's two fleet questions as one SQL plan that DuckDB or Apache Spark runs.

* **trend**: one function's cum (or every sample's value) per time step, per profile type:
  :func:`trend`, which :meth:`Store.series` calls;
* **top**: flat and cum per function over the selected profiles, sorted as pprof's top
  (flat descending, then name): :func:`top`, the same numbers as
  ``function_totals(store.query(selector))`` (``core.aggregate``'s flat/cum definitions:
  flat is the leaf frame's function, cum counts a stack once however often it recurses).

The profiles are selected in this process from the catalog (:func:`query.select_rows`,
the store's selector parser and time ranges); only their rows (``sel``: profile_id,
bucket, profile_type) and the paths of the samples files that hold them go to the
engine, so an engine reads only the partitions and files of the selected profiles. The
SQL text is written once (:data:`TREND`, :data:`TOP`); a :class:`Dialect` fills in the
few spellings the engines differ on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from profilelab.core.timeparse import parse_duration
from profilelab.errors import QueryError
from profilelab.model import schema
from profilelab.store import functions
from profilelab.store.query import PSEUDO_LABELS, select_rows

if TYPE_CHECKING:
    from profilelab.core.selector import Selector
    from profilelab.core.timeparse import TimeArg
    from profilelab.store.directory import StoreDirectory

ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Dialect:
    explode: str  # a table function turning a list into one row per element
    leaf: str  # the first element (the leaf frame) of a list column, {col}


DUCKDB = Dialect(explode="unnest", leaf="{col}[1]")
SPARK = Dialect(explode="explode", leaf="{col}[0]")

# Tables an engine provides: sel(profile_id, bucket, profile_type) (the selected profiles),
# samples (their files), stacks, frames, want(function) (the trend's function, if any).
_STACKS_THROUGH = """
    hit as (  -- stacks with a frame of the function, each once
        select distinct e.stack_id
        from (select stack_id, {explode}(frame_ids) as frame_id from stacks) e
        join frames f on f.frame_id = e.frame_id
        where f.function in (select function from want)
    ),"""

TREND = """
with {through}
    hits as (
        select sel.bucket, sel.profile_type, sum(x.value) as value
        from ({parts}) x join sel on x.profile_id = sel.profile_id
        group by sel.bucket, sel.profile_type
    ),
    steps as (select distinct bucket, profile_type from sel)
select b.bucket as time_ns, b.profile_type, cast(coalesce(h.value, 0) as bigint) as value
from steps b
left join hits h on h.bucket = b.bucket and h.profile_type = b.profile_type
order by time_ns, profile_type
"""
# The trend's rows: the function's cum of indexed profiles (their function index rows,
# one per profile: the files' row groups are skipped by function_id), the values of the
# samples through its stacks for the others (profiles stored before the index).
_TREND_INDEXED = """
        select f.profile_id, f.cum as value from functions f
        where f.function_id = {function_id} and f.function in (select function from want)"""
_TREND_SAMPLES = """
        select s.profile_id, s.value from samples s
        join sel u on u.profile_id = s.profile_id and not u.indexed
        {where}"""

_TOP_SAMPLES = """
    per_stack as (  -- the per-stack aggregation: samples first, frames after
        select s.stack_id, sum(s.value) as value
        from samples s join sel on s.profile_id = sel.profile_id and not sel.indexed
        group by s.stack_id
    ),
    k as (  -- their stacks, once each
        select k.stack_id, any_value(k.frame_ids) as frame_ids
        from stacks k join per_stack v on v.stack_id = k.stack_id
        group by k.stack_id
    ),
    e as (
        select stack_id, {leaf} as leaf_id, {explode}(frame_ids) as frame_id from k
    ),
    fr as (  -- function names as profilelab names frames (0x... when unsymbolized)
        select f.frame_id, any_value(coalesce(f.function,
               concat('0x', lower(hex(coalesce(f.address, 0)))))) as function
        from frames f where f.frame_id in (select frame_id from e)
        group by f.frame_id
    ),
    named as (
        select distinct e.stack_id, fr.function, e.frame_id = e.leaf_id as is_leaf
        from e join fr on fr.frame_id = e.frame_id
    ),
    cum as (
        select n.function, sum(v.value) as cum
        from (select distinct stack_id, function from named) n
        join per_stack v on v.stack_id = n.stack_id
        group by n.function
    ),
    flat as (
        select n.function, sum(v.value) as flat
        from (select distinct stack_id, function from named where is_leaf) n
        join per_stack v on v.stack_id = n.stack_id
        group by n.function
    ),
    from_samples as (
        select c.function, coalesce(f.flat, 0) as flat, c.cum
        from cum c left join flat f on f.function = c.function
    ),"""
_TOP_INDEXED = """
    from_index as (  -- the function index: each profile's flat and cum, summed
        select f.function, sum(f.flat) as flat, sum(f.cum) as cum
        from functions f join sel on f.profile_id = sel.profile_id and sel.indexed
        group by f.function
    ),"""

TOP = """
with {parts}
    totals as (
        select function, sum(flat) as flat, sum(cum) as cum
        from ({union}) u
        group by function
    )
select * from (
    select function, cast(flat as bigint) as flat, cast(cum as bigint) as cum from totals
) t
where cum <> 0 or flat <> 0
order by flat desc, function
"""


@dataclass(frozen=True)
class Plan:
    """What an engine runs: SQL text over ``sel``, ``samples``, ``stacks``, ``frames``,
    ``want``; the selected rows; the store-relative files of each table."""

    sql: str
    sel: pl.DataFrame  # profile_id, bucket, profile_type, indexed (has a functions file)
    files: dict[str, list[str]]
    want: list[str]
    schema: dict[str, Any]


def _selection(
    store: StoreDirectory,
    selector: str | Selector | None,
    start: TimeArg,
    end: TimeArg,
    step_ns: int | None,
    *,
    index: bool = True,
) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """The selected profiles (``indexed``: answered from their function index, when
    ``index`` and they have one) and the files of each table the plan reads."""
    snap = store.snapshot()
    rows = select_rows(snap.catalog.select(_SELECTING), selector, start, end)
    bucket = (pl.col("time_ns") // step_ns) * step_ns if step_ns else pl.lit(0, pl.Int64)
    indexed = pl.col("functions_file").is_not_null() & pl.lit(index)
    sel = rows.select(
        "profile_id", bucket.alias("bucket"), "profile_type", indexed.alias("indexed")
    )
    files = {
        "samples": _paths(rows.filter(~indexed)["samples_file"]),
        "functions": _paths(rows.filter(indexed)["functions_file"]),
        "stacks": snap.files("stacks/"),
        "frames": snap.files("frames/"),
    }
    return sel, files


#: The catalog columns a selection reads (a selector's matchers, types and time; the
#: files): sorting the selected rows without the other nested columns is much cheaper.
_SELECTING = sorted(
    {"profile_id", "time_ns", "labels", "sample_unit", "is_default", "samples_file"}
    | {"functions_file", "profile_type", *PSEUDO_LABELS.values()}
)


def _paths(files: pl.Series) -> list[str]:
    return files.drop_nulls().unique().sort().to_list()


def trend_plan(
    store: StoreDirectory,
    selector: str | Selector,
    step: str | int,
    start: TimeArg,
    end: TimeArg,
    *,
    function: str | None,
    dialect: Dialect,
) -> Plan:
    step_ns = parse_duration(step) if isinstance(step, str) else int(step)
    if step_ns <= 0:
        raise QueryError(f"the step must be positive, not {step}")
    # every sample's value (no function): from the samples, no index needed
    sel, files = _selection(store, selector, start, end, step_ns, index=function is not None)
    parts, through = [], ""
    if function is not None and files["functions"]:
        fid = functions.function_ids([function])[0]
        parts.append(_TREND_INDEXED.format(function_id=fid))
    if files["samples"] or not parts:
        where = ""
        if function is not None:
            through = _STACKS_THROUGH.format(explode=dialect.explode)
            where = "where s.stack_id in (select stack_id from hit)"
        parts.append(_TREND_SAMPLES.format(where=where))
    return Plan(
        TREND.format(through=through, parts="\n        union all".join(parts)),
        sel,
        files,
        [function] if function is not None else [],
        {"time_ns": pl.Int64, "profile_type": pl.Utf8, "value": pl.Int64},
    )


def top_plan(
    store: StoreDirectory,
    selector: str | Selector,
    start: TimeArg,
    end: TimeArg,
    *,
    dialect: Dialect,
) -> Plan:
    sel, files = _selection(store, selector, start, end, None)
    types = sel["profile_type"].unique().sort().to_list()
    if len(types) > 1:
        raise QueryError(
            f"the selector matched several profile types ({', '.join(types)}); pick one, "
            "e.g. cpu or heap:inuse_space"
        )
    parts, union = [], []
    if files["samples"] or not files["functions"]:
        leaf = dialect.leaf.format(col="frame_ids")
        parts.append(_TOP_SAMPLES.format(explode=dialect.explode, leaf=leaf))
        union.append("select function, flat, cum from from_samples")
    if files["functions"]:
        parts.append(_TOP_INDEXED)
        union.append("select function, flat, cum from from_index")
    sql = TOP.format(parts="".join(parts), union=" union all ".join(union))
    return Plan(sql, sel, files, [], {"function": pl.Utf8, "flat": pl.Int64, "cum": pl.Int64})


# ---- DuckDB -----------------------------------------------------------------------------------
def run_duckdb(store: StoreDirectory, plan: Plan) -> pl.DataFrame:
    """Run ``plan`` in an in-process DuckDB over the store's files."""
    from profilelab.store.query import _duckdb

    if plan.sel.height == 0:
        return pl.DataFrame(schema=plan.schema)
    con = _duckdb()
    try:
        # Polars frames, not Arrow tables made from lists: those import pandas (seconds,
        # the largest part of a fresh process's first query)
        con.register("sel", plan.sel)
        con.register("want", pl.DataFrame({"function": plan.want}, schema={"function": pl.Utf8}))
        for table, cols in _COLUMNS.items():
            if plan.files[table]:
                paths = _sql_list([str(store.root / f) for f in plan.files[table]])
                source = f"read_parquet({paths}, hive_partitioning = false)"
            else:
                con.register(f"_{table}_empty", _empty(table))
                source = f"_{table}_empty"
            con.execute(f"create view {table} as select {', '.join(cols)} from {source}")
        table = con.sql(plan.sql).to_arrow_table()
    finally:
        con.close()
    return pl.DataFrame(pl.from_arrow(table)).cast(plan.schema)  # type: ignore[arg-type]


_COLUMNS = {
    "samples": ("profile_id", "stack_id", "value"),
    "functions": tuple(functions.COLUMNS),
    "stacks": ("stack_id", "frame_ids"),
    "frames": ("frame_id", "function", "address"),
}


def _empty(table: str) -> pl.DataFrame:
    return functions.empty() if table == "functions" else schema.empty(table)


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join("'" + i.replace("'", "''") + "'" for i in items) + "]"


# ---- Apache Spark -----------------------------------------------------------------------------
_SPARK_SCHEMAS = {
    "samples": "profile_id bigint, stack_id bigint, value bigint",
    "functions": "function_id bigint, function string, profile_id bigint, flat bigint, cum bigint",
    "stacks": "stack_id bigint, frame_ids array<bigint>",
    "frames": "frame_id bigint, function string, address bigint",
}


@dataclass
class Spark:
    """The Spark engine: a session (made on first use when not given: ``master``, else
    ``$PROFILELAB_SPARK_MASTER``, else ``local[*]``) and where its executors find the store
    (``root``: the store's directory by default; e.g. ``s3a://bucket/profiles`` for a
    published copy)."""

    session: Any = None
    master: str | None = None
    root: str | None = None

    def get_session(self) -> Any:
        if self.session is None:
            self.session = spark_session(self.master)
        return self.session


def spark_session(master: str | None = None) -> Any:
    """A SparkSession for the store's questions; one clear error without pyspark or Java."""
    import importlib.util
    import os
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        raise QueryError("the spark engine needs pyspark: pip install 'profilelab[spark]'")
    java_home = os.environ.get("JAVA_HOME")
    has_java = shutil.which("java") is not None or (
        java_home is not None and os.path.exists(os.path.join(java_home, "bin", "java"))
    )
    if not has_java:
        raise QueryError(
            "the spark engine needs a Java runtime (java on PATH or $JAVA_HOME), "
            "e.g. Debian's openjdk-17-jre-headless"
        )
    from pyspark.sql import SparkSession

    master = master or os.environ.get("PROFILELAB_SPARK_MASTER") or "local[*]"
    session = (
        SparkSession.builder.master(master)
        .appName("profilelab")
        .config("spark.ui.enabled", "false")
        # local mode runs the executors in the driver: 1g (Spark's default) runs out while
        # broadcasting a day's per-stack sums
        .config("spark.driver.memory", os.environ.get("PROFILELAB_SPARK_DRIVER_MEMORY", "2g"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def run_spark(store: StoreDirectory, plan: Plan, engine: Spark) -> pl.DataFrame:
    """Run ``plan`` on Spark (temporary views ``sel``, ``want``, ``samples``, ``stacks``,
    ``frames`` in the session); the files are read under ``engine.root``."""
    if plan.sel.height == 0:
        return pl.DataFrame(schema=plan.schema)
    spark = engine.get_session()
    root = (engine.root or str(store.root)).rstrip("/")
    sel = spark.createDataFrame(
        plan.sel.rows(), "profile_id bigint, bucket bigint, profile_type string, indexed boolean"
    )
    sel.createOrReplaceTempView("sel")
    spark.createDataFrame([(f,) for f in plan.want], "function string").createOrReplaceTempView(
        "want"
    )
    for table, cols in _COLUMNS.items():
        if plan.files[table]:
            df = spark.read.parquet(*(f"{root}/{f}" for f in plan.files[table])).select(*cols)
        else:
            df = spark.createDataFrame([], _SPARK_SCHEMAS[table])
        df.createOrReplaceTempView(table)
    rows = spark.sql(plan.sql).collect()
    return pl.DataFrame([tuple(r) for r in rows], schema=plan.schema, orient="row")


# ---- the entry points -------------------------------------------------------------------------
def _run(store: StoreDirectory, make: Any, engine: str | Spark) -> pl.DataFrame:
    if engine == "duckdb":
        return run_duckdb(store, make(DUCKDB))
    if engine == "spark":
        engine = Spark()
    if not isinstance(engine, Spark):
        raise QueryError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    return run_spark(store, make(SPARK), engine)


def trend(
    store: StoreDirectory,
    selector: str | Selector,
    step: str | int = "1m",
    start: TimeArg = None,
    end: TimeArg = None,
    *,
    function: str | None = None,
    engine: str | Spark = "duckdb",
) -> pl.DataFrame:
    """``time_ns`` (step start), ``profile_type``, ``value`` per step holding a selected
    profile (0 when nothing matched in it); with ``function``, only samples whose stack
    has a frame of that function count (its cum; recursion counted once)."""

    def make(d: Dialect) -> Plan:
        return trend_plan(store, selector, step, start, end, function=function, dialect=d)

    return _run(store, make, engine)


def top(
    store: StoreDirectory,
    selector: str | Selector,
    start: TimeArg = None,
    end: TimeArg = None,
    *,
    engine: str | Spark = "duckdb",
) -> pl.DataFrame:
    """``function``, ``flat``, ``cum`` over the selected profiles (one profile type), sorted
    by flat descending then name: pprof's top, computed where the files are."""

    def make(d: Dialect) -> Plan:
        return top_plan(store, selector, start, end, dialect=d)

    return _run(store, make, engine)
