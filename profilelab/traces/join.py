"""Attributing samples to spans through the normalized span columns of ``samples``.

For each sample (all sample types of one input share the outcome):

1. **Label.** The sample's ``span_id`` is looked up among the spans; when it has none, or
   it is not found, its ``local_root_span_id`` is (Datadog writes both; pprof labels set by
   ``otel-profiling-go``-style wrappers name only the local root). A match must agree with
   the sample's ``trace_id`` when it has one (a 16-digit trace id, as Datadog writes, is
   compared with the low 64 bits); when several spans share the id (Zipkin shared spans)
   the one in the profile's ``service`` label wins.
2. **Time.** When the sample has a time (``time_ns``) and the label names a local root
   (``refine="auto"``; ``"always"`` refines from any labelled span, ``"never"`` keeps
   labels), the sample moves to the innermost span of that local subtree active at that
   time: the deepest span with ``start_ns <= time_ns < end_ns``, then the latest started.
   Local means same process (see :mod:`profilelab.model.spantree`), so a sample is never
   given to a span of another service.

Nothing is dropped: each sample gets a ``method`` (``span_label``, ``local_root_label``,
``local_root_fallback``, ``time``) or a ``miss`` reason (``unlabelled``, ``bad_id``,
``span_not_found``, ``trace_not_loaded``, ``trace_mismatch``, ``ambiguous_span``); see
:mod:`profilelab.traces.coverage` for the counts.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.model.spans import Spans

Refine = Literal["auto", "always", "never"]
SERVICE_LABELS = ("service", "service.name", "service_name")

#: One row per sample row of the profile.
ATTRIBUTION: dict[str, pl.DataType] = {
    "profile_id": pl.Int64(),
    "sample_index": pl.Int64(),
    "span_row": pl.Int64(),  # the span the sample is attributed to; null on a miss
    "labelled_row": pl.Int64(),  # the span its label named
    "method": pl.Utf8(),  # how it was attributed; null on a miss
    "miss": pl.Utf8(),  # why not; null when attributed
    "time_outside": pl.Boolean(),  # its time lies outside the labelled span
}


def attribute(profile: Profile, spans: Spans, refine: Refine = "auto") -> pl.DataFrame:
    """Attribute every sample of ``profile`` to a span of ``spans`` (schema ``ATTRIBUTION``)."""
    if refine not in ("auto", "always", "never"):
        raise QueryError(f"refine must be auto, always or never, not {refine!r}")
    keys = _sample_keys(profile)
    nodes = spans.nodes
    by_span = _match(keys, "s", nodes)
    by_root = _match(keys, "lr", nodes)
    labelled = _combine(keys, by_span, by_root)
    refined = _refine(labelled, nodes, refine)
    out = (
        profile.samples.select(
            "profile_id", "sample_index", "trace_id", "span_id", "local_root_span_id", "time_ns"
        )
        .join(
            refined,
            on=["trace_id", "span_id", "local_root_span_id", "time_ns", "profile_id"],
            how="left",
            nulls_equal=True,
        )
        .select(list(ATTRIBUTION))
    )
    return out.cast(ATTRIBUTION)  # type: ignore[arg-type]


def profile_services(profile: Profile) -> pl.DataFrame:
    """``profile_id`` → ``service`` from the profile labels (null when it has none)."""
    return profile.profiles.select(
        "profile_id",
        pl.col("labels")
        .list.eval(
            pl.element()
            .filter(pl.element().struct.field("key").is_in(list(SERVICE_LABELS)))
            .struct.field("value")
        )
        .list.first()
        .alias("service"),
    )


def _sample_keys(profile: Profile) -> pl.DataFrame:
    """Distinct label/time combinations per profile, with normalized ids."""
    keys = (
        profile.samples.select("profile_id", "trace_id", "span_id", "local_root_span_id", "time_ns")
        .unique(maintain_order=True)
        .join(profile_services(profile), on="profile_id", how="left")
        .with_row_index("key")
    )
    t = pl.col("trace_id").str.to_lowercase().str.strip_chars()
    t_ok = t.str.contains("^[0-9a-f]{1,32}$")
    return keys.with_columns(
        _hex16(pl.col("span_id")).alias("s"),
        _hex16(pl.col("local_root_span_id")).alias("lr"),
        pl.when(t_ok & (t.str.len_chars() > 16)).then(t.str.pad_start(32, "0")).alias("t_full"),
        pl.when(t_ok).then(t.str.pad_start(32, "0").str.slice(16)).alias("t_low"),
        (t.is_not_null() & ~t_ok.fill_null(False)).alias("t_bad"),
    )


def _hex16(col: pl.Expr) -> pl.Expr:
    """A span id as 16 hex digits; "!" marks a present but invalid id."""
    c = col.str.to_lowercase().str.strip_chars()
    return (
        pl.when(c.is_null() | (c == ""))
        .then(None)
        .when(c.str.contains("^[0-9a-f]{1,16}$"))
        .then(c.str.pad_start(16, "0"))
        .otherwise(pl.lit("!"))
    )


def _match(keys: pl.DataFrame, id_col: str, nodes: pl.DataFrame) -> pl.DataFrame:
    """For each key with an id in ``id_col``: the matching span row, or why there is none."""
    have = keys.filter(pl.col(id_col).is_not_null())
    cand = have.join(
        nodes.select(
            "span_row",
            pl.col("span_id").alias(id_col),
            pl.col("trace_id").alias("n_trace"),
            pl.col("service").alias("n_service"),
        ),
        on=id_col,
        how="left",
    ).with_columns(
        (
            pl.col("t_low").is_null()
            | pl.when(pl.col("t_full").is_not_null())
            .then(pl.col("n_trace") == pl.col("t_full"))
            .otherwise(pl.col("n_trace").str.slice(16) == pl.col("t_low"))
        ).alias("trace_ok"),
        pl.col("n_service").eq_missing(pl.col("service")).alias("same_service"),
    )
    per_key = cand.group_by("key").agg(
        pl.col("span_row").filter(pl.col("trace_ok")).alias("rows"),
        pl.col("span_row").filter(pl.col("trace_ok") & pl.col("same_service")).alias("same"),
        pl.col("span_row").is_not_null().any().alias("id_found"),
        pl.col("t_low").first(),
        pl.col("t_bad").first(),
        (pl.col(id_col).first() == "!").alias("bad"),
    )
    loaded = nodes.select(pl.col("trace_id").str.slice(16).alias("t_low").unique())
    per_key = per_key.join(
        loaded.with_columns(pl.lit(True).alias("trace_loaded")), on="t_low", how="left"
    )
    chosen = (
        pl.when(pl.col("rows").list.len() == 1)
        .then(pl.col("rows").list.first())
        .when(pl.col("same").list.len() == 1)
        .then(pl.col("same").list.first())
    )
    miss = (
        pl.when(pl.col("bad") | pl.col("t_bad"))
        .then(pl.lit("bad_id"))
        .when(pl.col("rows").list.len() > 1)
        .then(pl.lit("ambiguous_span"))
        .when(pl.col("id_found"))
        .then(pl.lit("trace_mismatch"))
        .when(pl.col("t_low").is_not_null() & pl.col("trace_loaded").is_null())
        .then(pl.lit("trace_not_loaded"))
        .otherwise(pl.lit("span_not_found"))
    )
    return per_key.select(
        "key", chosen.alias("row"), pl.when(chosen.is_null()).then(miss).alias("miss")
    )


def _combine(keys: pl.DataFrame, by_span: pl.DataFrame, by_root: pl.DataFrame) -> pl.DataFrame:
    """Label outcome per key: the span label first, the local root label second."""
    k = keys.join(by_span, on="key", how="left").join(
        by_root.rename({"row": "root_row", "miss": "root_miss"}), on="key", how="left"
    )
    has_s, has_r = pl.col("s").is_not_null(), pl.col("lr").is_not_null()
    method = (
        pl.when(pl.col("row").is_not_null())
        .then(pl.lit("span_label"))
        .when(pl.col("root_row").is_not_null() & has_s)
        .then(pl.lit("local_root_fallback"))
        .when(pl.col("root_row").is_not_null())
        .then(pl.lit("local_root_label"))
    )
    miss = (
        pl.when(method.is_not_null())
        .then(None)
        .when(has_s)
        .then(pl.col("miss"))
        .when(has_r)
        .then(pl.col("root_miss"))
        .otherwise(pl.lit("unlabelled"))
    )
    return k.select(
        "key",
        "profile_id",
        "trace_id",
        "span_id",
        "local_root_span_id",
        "time_ns",
        pl.coalesce("row", "root_row").alias("labelled_row"),
        method.alias("method"),
        miss.alias("miss"),
    )


def _refine(labelled: pl.DataFrame, nodes: pl.DataFrame, refine: Refine) -> pl.DataFrame:
    """Move timed samples to the innermost active span of the labelled local subtree."""
    lab = nodes.select(
        pl.col("span_row").alias("labelled_row"),
        pl.col("lpre").alias("l_lpre"),
        pl.col("lpost").alias("l_lpost"),
        (pl.col("local_root_row") == pl.col("span_row")).alias("l_is_root"),
        pl.col("start_ns").alias("l_start"),
        pl.col("end_ns").alias("l_end"),
    )
    df = labelled.join(lab, on="labelled_row", how="left")
    timed = pl.col("time_ns").is_not_null() & pl.col("labelled_row").is_not_null()
    eligible = {"never": pl.lit(False), "always": timed}.get(refine, timed & pl.col("l_is_root"))
    df = df.with_columns(
        eligible.fill_null(False).alias("eligible"),
        (
            timed
            & ~((pl.col("l_start") <= pl.col("time_ns")) & (pl.col("time_ns") <= pl.col("l_end")))
        )
        .fill_null(False)
        .alias("time_outside"),
    )
    inner = _innermost(df.filter(pl.col("eligible")), nodes)
    df = df.join(inner, on="key", how="left")
    return df.select(
        "profile_id",
        "trace_id",
        "span_id",
        "local_root_span_id",
        "time_ns",
        pl.coalesce("inner_row", "labelled_row").alias("span_row"),
        "labelled_row",
        pl.when(pl.col("inner_row").is_not_null())
        .then(pl.lit("time"))
        .otherwise(pl.col("method"))
        .alias("method"),
        "miss",
        "time_outside",
    )


def _innermost(eligible: pl.DataFrame, nodes: pl.DataFrame) -> pl.DataFrame:
    """Per key: the deepest (then latest started) local descendant active at the key's time."""
    import duckdb

    if eligible.height == 0:
        return pl.DataFrame(schema={"key": pl.UInt32, "inner_row": pl.Int64})
    con = duckdb.connect()
    try:
        con.register("k", eligible.select("key", "time_ns", "l_lpre", "l_lpost").to_arrow())
        con.register(
            "n",
            nodes.select("span_row", "lpre", "local_depth", "start_ns", "end_ns").to_arrow(),
        )
        return con.sql(
            """
            select k.key, n.span_row as inner_row
            from k join n
              on n.lpre >= k.l_lpre and n.lpre < k.l_lpost
             and n.start_ns <= k.time_ns and k.time_ns < n.end_ns
            qualify row_number() over (
                partition by k.key order by n.local_depth desc, n.start_ns desc, n.span_row desc
            ) = 1
            """
        ).pl()
    finally:
        con.close()
