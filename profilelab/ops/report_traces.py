"""``traces``: every sample with its labels and stack, as ``go tool pprof -traces``.

Samples are pprof's merged samples (identical stack and labels summed, all-zero samples
dropped) that survive the filters, in input order; each stack lists its report nodes leaf
first, ``inline`` marking frames inlined into the next one. Values are divided per
``-mean``. Labels hide keys removed by ``tagshow``/``taghide``.
"""

from __future__ import annotations

import polars as pl

from profilelab.core import measurement
from profilelab.ops import graph
from profilelab.ops.labels import BASE_KEY, SPAN_KEYS, visible_keys
from profilelab.ops.pipeline import Prepared


def traces(prepared: Prepared) -> pl.DataFrame:
    """value, labels (sorted ``key:  values`` strings as pprof prints them), frames, inline."""
    e = prepared.stacks.join(prepared.nodes.select("node_id", "name"), on="node_id", how="left")
    e = e.sort("stack_id", "pos").with_columns(
        (pl.col("li") != pl.col("li").max().over("stack_id", "loc")).alias("inline")
    )
    per_stack = e.group_by("stack_id").agg(pl.col("name").alias("frames"), pl.col("inline"))
    s = prepared.samples.with_row_index("_order")
    s = s.join(per_stack, on="stack_id", how="inner").sort("_order")
    label_text = _label_lines(prepared, s)
    s = s.join(label_text, on="_order", how="left")
    value = (
        graph.value_of(pl.col("value"), pl.col("div")) if "div" in s.columns else pl.col("value")
    )
    return s.select(
        value.alias("value"),
        pl.col("labels").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))),
        "frames",
        "inline",
    )


def _label_lines(prepared: Prepared, s: pl.DataFrame) -> pl.DataFrame:
    """_order -> the sample's label lines (``%10s:  %s``), string labels then numeric ones."""
    opts = prepared.options
    lab = prepared.labels
    keys = visible_keys(
        [*lab["key"].unique().to_list(), *SPAN_KEYS, BASE_KEY], opts.tagshow, opts.taghide
    )
    lab = lab.filter(pl.col("key").is_in(sorted(keys)))
    units = prepared.num_units
    pairs = lab.filter(pl.col("num").is_not_null()).select("key", "num").unique()
    numeric = pl.DataFrame(
        [(k, n, measurement.label(n, units.get(k, k))) for k, n in pairs.iter_rows()],
        schema={"key": pl.Utf8, "num": pl.Int64, "num_text": pl.Utf8},
        orient="row",
    )
    text = lab.join(numeric, on=["key", "num"], how="left", maintain_order="left").with_columns(
        pl.coalesce("str", "num_text").alias("text"), pl.col("str").is_null().alias("numeric")
    )
    per_set = text.group_by("label_set_id", "key", "numeric", maintain_order=True).agg(
        pl.col("text").str.join(" ")
    )
    per_set = per_set.with_columns(
        pl.format("{}:  {}", pl.col("key").str.pad_start(10), pl.col("text")).alias("line")
    )
    lines = s.select("_order", "label_set_id").join(per_set, on="label_set_id", how="inner")
    extra = []
    for col in SPAN_KEYS:
        if col in keys:
            extra.append(
                s.filter(pl.col(col).is_not_null()).select(
                    "_order",
                    pl.lit(False).alias("numeric"),
                    pl.format("{}:  {}", pl.lit(col).str.pad_start(10), pl.col(col)).alias("line"),
                )
            )
    if BASE_KEY in keys:
        extra.append(
            s.filter(pl.col("base")).select(
                "_order",
                pl.lit(False).alias("numeric"),
                pl.lit(f"{BASE_KEY:>10}:  true").alias("line"),
            )
        )
    allrows = pl.concat([lines.select("_order", "numeric", "line"), *extra], how="vertical")
    return (
        allrows.sort("_order", "numeric", "line")
        .group_by("_order", maintain_order=True)
        .agg(pl.col("line").alias("labels"))
    )
