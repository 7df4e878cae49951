"""Selecting stored profiles and reading them back as canonical tables, series or SQL.

* :func:`select_rows` filters catalog rows by a selector (type and label matchers) and a
  half-open time range ``[start, end)`` on each profile's start time.
* :func:`run` reads the selected profiles' samples (only the files that hold them) and the
  dictionary rows they reference, giving the same :class:`Profile` tables as
  :func:`profilelab.load` of the same inputs. ``sum(...)`` / ``sum by (l)`` merges the
  selected profiles per group and profile type as ``go tool pprof a b`` merges files:
  samples with the same stack, labels and span ids are added; totals are conserved.
* the per-step series and the per-function top run as one SQL plan on DuckDB or Spark
  (:mod:`profilelab.store.plans`).
* :func:`connect` gives DuckDB views over exactly the live files.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import polars as pl

from profilelab.core.selector import Matcher, Selector, parse
from profilelab.core.timeparse import parse_time
from profilelab.errors import QueryError
from profilelab.model import ids, schema
from profilelab.model.profile import Profile
from profilelab.model.sql import run_sql
from profilelab.store import layout, types
from profilelab.store.dictionaries import read_dictionary

if TYPE_CHECKING:
    import duckdb

    from profilelab.core.timeparse import TimeArg
    from profilelab.store.catalog import Snapshot
    from profilelab.store.directory import StoreDirectory

#: Pseudo-labels a matcher may use besides the profiles' own labels.
PSEUDO_LABELS = {
    "__name__": "name",
    "__profile_type__": "profile_type",
    "__type__": "sample_type",
    "__source__": "source",
    "__format__": "format",
}
_RETRIES = 3


def as_selector(selector: str | Selector | None) -> Selector | None:
    return parse(selector) if isinstance(selector, str) else selector


def select_rows(
    rows: pl.DataFrame,
    selector: str | Selector | None,
    start: TimeArg = None,
    end: TimeArg = None,
) -> pl.DataFrame:
    """Catalog rows matching the selector's type and matchers, with start <= time_ns < end."""
    sel = as_selector(selector)
    now = time.time_ns()
    lo, hi = parse_time(start, now), parse_time(end, now)
    if lo is not None and hi is not None and hi <= lo:
        raise QueryError(f"empty time range: end ({end}) is not after start ({start})")
    pred = pl.lit(True)
    if lo is not None:
        pred = pred & (pl.col("time_ns") >= lo)
    if hi is not None:
        pred = pred & (pl.col("time_ns") < hi)
    if sel is not None and sel.profile_type:
        pred = pred & types.type_filter(sel.profile_type)
    out = rows.filter(pred)
    for m in sel.matchers if sel is not None else ():
        out = out.filter(_matcher_mask(out, m))
    return out.sort("time_ns", "profile_id")


def label_values(rows: pl.DataFrame, label: str) -> pl.Series:
    """Each row's value of ``label`` (a pseudo-label or a profile label), "" when missing."""
    if label in PSEUDO_LABELS:
        return rows[PSEUDO_LABELS[label]].fill_null("").alias(label)
    return (
        rows.select(
            pl.col("labels")
            .list.eval(
                pl.element().filter(pl.element().struct.field("key") == label).struct.field("value")
            )
            .list.first()
            .fill_null("")
            .alias(label)
        )
        .to_series()
        .cast(pl.Utf8)
    )


def _matcher_mask(rows: pl.DataFrame, m: Matcher) -> pl.Series:
    values = label_values(rows, m.label)
    distinct = values.unique().to_list()
    hits = [v for v in distinct if m.matches(v)]  # regexes run once per distinct value
    return values.is_in(pl.Series(hits, dtype=pl.Utf8).implode())


# ---- reading tables -----------------------------------------------------------------------
def run(store: StoreDirectory, selector: str | Selector, start: TimeArg, end: TimeArg) -> Profile:
    """The selected profiles as canonical tables (merged per group for ``sum``)."""
    sel = as_selector(selector)
    if sel is None:
        raise QueryError("a query needs a selector")
    for attempt in range(_RETRIES):
        snap = store.snapshot()
        rows = input_order(select_rows(snap.catalog, sel, start, end))
        try:
            prof = read_profiles(store, rows, snap)
            break
        except Exception:
            # A compaction may have replaced this snapshot's files meanwhile: retry with a
            # new snapshot. With every file still there, the error is real.
            used = _files(rows) + snap.files()
            if attempt == _RETRIES - 1 or all((store.root / f).exists() for f in used):
                raise
    if sel.aggregate:
        prof = aggregate(prof, rows, sel)
    return prof


def input_order(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows of each input together and in the input's order, inputs in the order of
    their first row: the order loading the inputs gives (it decides which sample type of a
    multi-profile input, a JFR recording or an OTLP capture, comes first)."""
    if rows.height == 0:
        return rows
    key = pl.coalesce("input_id", "profile_id")
    return (
        rows.with_row_index("_row")
        .with_columns(pl.col("_row").min().over(key).alias("_first"))
        .sort("_first", pl.col("input_position").fill_null(0), "_row")
        .drop("_row", "_first")
    )


def _files(rows: pl.DataFrame) -> list[str]:
    return rows["samples_file"].drop_nulls().unique().to_list()


def read_profiles(
    store: StoreDirectory, rows: pl.DataFrame, snap: Snapshot | None = None
) -> Profile:
    """Read the samples of ``rows`` and the dictionary rows (of ``snap``) they reference."""
    if rows.height == 0:
        return Profile.empty()
    files = [str(store.root / f) for f in rows["samples_file"].drop_nulls().unique().sort()]
    wanted = rows["profile_id"].implode()
    samples = (
        pl.scan_parquet(files).filter(pl.col("profile_id").is_in(wanted)).collect()
        if files
        else schema.empty("samples")
    )
    order = rows.select("profile_id", pl.int_range(pl.len()).alias("_order"))
    samples = (
        samples.join(order, on="profile_id")
        .sort("_order", "sample_index")
        .drop("_order")
        .select(list(schema.SAMPLES))
    )
    snap_files = (snap or store.snapshot()).files
    stacks = read_dictionary(store.root, snap_files("stacks/"), "stacks", samples["stack_id"])
    frame_ids = stacks["frame_ids"].explode().drop_nulls()
    frames = read_dictionary(store.root, snap_files("frames/"), "frames", frame_ids)
    mappings = _input_mappings(
        rows,
        read_dictionary(
            store.root,
            snap_files("mappings/"),
            "mappings",
            pl.concat([_listed_mappings(rows), frames["mapping_id"].drop_nulls()]),
        ),
    )
    labels = read_dictionary(
        store.root,
        snap_files("labels/"),
        "labels",
        samples["label_set_id"].filter(samples["label_set_id"] != 0),
    )
    profiles = schema.conform("profiles", rows)
    return Profile(profiles, samples, stacks, frames, mappings, labels)


def _listed_mappings(rows: pl.DataFrame) -> pl.Series:
    """The mappings the inputs of ``rows`` listed, in their order (used or not)."""
    listed = rows["mapping_ids"].explode().drop_nulls()
    return listed.unique(maintain_order=True).cast(pl.Int64).alias("mapping_id")


def _input_mappings(rows: pl.DataFrame, mappings: pl.DataFrame) -> pl.DataFrame:
    """``mappings`` in the inputs' own order (pprof's main binary, the ``File:`` line of
    its reports, is the first), then the ones no input listed (older stores)."""
    order = _listed_mappings(rows).to_frame().with_row_index("_order")
    return (
        mappings.join(order, on="mapping_id", how="left")
        .sort(pl.col("_order").fill_null(order.height), maintain_order=True)
        .drop("_order")
    )


# ---- aggregation --------------------------------------------------------------------------
def aggregate(prof: Profile, rows: pl.DataFrame, sel: Selector) -> Profile:
    """Merge profiles per (profile type, group labels); samples with equal keys are added."""
    groups = _group_keys(rows, sel)
    first = groups.group_by("group_id", maintain_order=True).agg(
        pl.col("profile_id").first().alias("first_profile"),
        pl.col("time_ns").min().alias("t0"),
        # pprof's merge adds the inputs' durations (each input counted once)
        pl.col("duration_ns")
        .filter(pl.col("source_id").is_first_distinct())
        .sum()
        .alias("duration"),
        pl.col("group_labels").first(),
        pl.len().alias("n_merged"),
        pl.col("source").n_unique().alias("n_sources"),
        pl.col("comments").explode().drop_nulls().unique(maintain_order=True).alias("merged"),
    )
    # the first row of each group stands for it: its source, sample type position and
    # default mark, so a sum of one input's types offers them as loading the input does
    base = rows.join(
        first.select("first_profile", "group_id"),
        left_on="profile_id",
        right_on="first_profile",
        maintain_order="left",
    )
    base = base.join(first, on="group_id", maintain_order="left").with_columns(
        pl.col("group_id").alias("profile_id"),
        # one input's profiles (an OTLP capture's) stay one input: pprof's reports merge
        # only the profiles of an input that have the chosen type
        pl.when(pl.col("n_sources") == 1)
        .then(pl.col("source"))
        .otherwise(pl.format("sum of {} profiles", pl.col("n_merged")))
        .alias("source"),
        pl.col("t0").alias("time_ns"),
        pl.col("duration").alias("duration_ns"),
        pl.col("merged").alias("comments"),
        pl.col("group_labels").alias("labels"),
    )
    mapping = groups.select("profile_id", pl.col("group_id").alias("new_id"))
    keys = ["new_id", "stack_id", "label_set_id", "trace_id", "span_id", "local_root_span_id"]
    samples = (
        prof.samples.join(mapping, on="profile_id")
        .group_by(keys, maintain_order=True)
        .agg(pl.col("value").sum())
        .rename({"new_id": "profile_id"})
        .with_columns(
            pl.int_range(pl.len()).over("profile_id").cast(pl.Int64).alias("sample_index"),
            pl.lit(None, pl.Int64).alias("time_ns"),
        )
    )
    return prof.replace(
        profiles=schema.conform("profiles", base), samples=schema.conform("samples", samples)
    )


def _group_keys(rows: pl.DataFrame, sel: Selector) -> pl.DataFrame:
    """Per row: the group's labels (list of key/value) and a stable group id."""
    if sel.by is not None:
        keep = list(sel.by)
        cols = {k: label_values(rows, k) for k in keep}
        labels = [
            [{"key": k, "value": cols[k][i]} for k in keep if cols[k][i] != ""]
            for i in range(rows.height)
        ]
    else:
        drop = set(sel.without or ()) if sel.without is not None else None
        labels = [
            sorted(
                (
                    {"key": kv["key"], "value": kv["value"]}
                    for kv in (own or [])
                    if kv["key"] not in drop
                ),
                key=lambda kv: kv["key"],
            )
            if drop is not None
            else []
            for own in rows["labels"].to_list()
        ]
    texts = [
        f"{pt}\x00" + "\x00".join(f"{kv['key']}={kv['value']}" for kv in lab)
        for pt, lab in zip(rows["profile_type"].to_list(), labels, strict=True)
    ]
    group_ids = [ids.digest_bytes(t.encode()) for t in texts]
    kept = ("profile_id", "source_id", "time_ns", "duration_ns", "source", "comments")
    return rows.select(kept).with_columns(
        pl.Series("group_id", group_ids, dtype=pl.Int64),
        pl.Series("group_labels", labels, dtype=schema.PROFILE_LABELS),
    )


# ---- SQL ----------------------------------------------------------------------------------
def _duckdb() -> duckdb.DuckDBPyConnection:
    import duckdb

    return duckdb.connect()


def connect(
    store: StoreDirectory, con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """DuckDB views over exactly the live files: the canonical tables.

    ``samples``, ``stacks``, ``frames``, ``mappings`` and ``labels`` read the live Parquet
    files; ``profiles`` is the live catalog (the canonical columns plus name, profile_type,
    service, date, samples_file, n_samples, total, ...).
    """
    con = con or _duckdb()
    snap = store.snapshot()
    for table in ("samples", *layout.DICTIONARIES):
        files = [str(store.root / f) for f in snap.files(f"{table}/")]
        if files:
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(
                f"create or replace view {table} as "
                f"select * from read_parquet([{listing}], hive_partitioning=false)"
            )
        else:
            con.register(f"_{table}_empty", schema.empty(table).to_arrow())
            con.execute(f"create or replace view {table} as select * from _{table}_empty")
    con.register("profiles", snap.catalog.to_arrow())
    return con


def sql(store: StoreDirectory, query: str) -> pl.DataFrame:
    return run_sql(lambda: connect(store), query)


# ---- per-function totals --------------------------------------------------------------------
def function_totals(prof: Profile) -> pl.DataFrame:
    """Flat and cum per function over all samples of ``prof`` (pprof ``-top`` semantics).

    flat: values of samples whose leaf frame is the function; cum: values of samples whose
    stack contains the function anywhere (once per sample, however often it recurses).
    Frames without a function name are named by their address (``0x4005d0``). Sorted as
    pprof sorts its top report: by flat descending, then by name.
    """
    from profilelab.core.aggregate import per_function

    return (
        per_function(prof)
        .select(pl.col("key").alias("function"), "flat", "cum")
        .sort(["flat", "function"], descending=[True, False])
    )
