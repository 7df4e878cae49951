"""``tags``: how the sample values split by label, as ``go tool pprof -tags``.

For every label key, every value (numeric values formatted in the output unit, so equal
formatted values add up) gets the summed values of the samples carrying it; a sample with
several values for a key counts once per value. Samples are those left by the filters
(zero-valued ones included, with 0). Keys sort by name, values by |value| then name.
Span ids appear under their column names (``span_id``, ``trace_id``,
``local_root_span_id``); a diff base's samples carry ``pprof::base=true``.
"""

from __future__ import annotations

import polars as pl

from profilelab.core import measurement
from profilelab.ops.labels import BASE_KEY, SPAN_KEYS, visible_keys
from profilelab.ops.pipeline import Prepared

TAG_COLUMNS = ("key", "value", "flat", "flat_pct", "key_total")


def tags(prepared: Prepared) -> pl.DataFrame:
    """key, value (formatted label value), flat, flat_pct (of the key's total), key_total."""
    s = prepared.samples
    per_set = s.group_by("label_set_id").agg(pl.col("value").sum().alias("flat"))
    rows = prepared.labels.join(per_set, on="label_set_id", how="inner")
    parts = [
        rows.filter(pl.col("str").is_not_null()).select(
            "key", pl.col("str").alias("value"), "flat"
        ),
        _numeric(rows, prepared),
    ]
    for col in SPAN_KEYS:
        spans = s.filter(pl.col(col).is_not_null()).group_by(col).agg(pl.col("value").sum())
        parts.append(
            spans.select(
                pl.lit(col).alias("key"), pl.col(col).alias("value"), pl.col("value").alias("flat")
            )
        )
    base = s.filter(pl.col("base"))
    if base.height:
        parts.append(
            pl.DataFrame({"key": [BASE_KEY], "value": ["true"], "flat": [int(base["value"].sum())]})
        )
    out = pl.concat([p.cast({"flat": pl.Int64}) for p in parts], how="vertical")
    opts = prepared.options
    keys = visible_keys(out["key"].unique().to_list(), opts.tagshow, opts.taghide)
    out = (
        out.filter(pl.col("key").is_in(sorted(keys)))
        .group_by("key", "value")
        .agg(pl.col("flat").sum())
    )
    out = out.with_columns(pl.col("flat").sum().over("key").alias("key_total"))
    pct = pl.when(pl.col("key_total") != 0).then(pl.col("flat") * 100.0 / pl.col("key_total"))
    out = out.with_columns(pct.otherwise(0.0).alias("flat_pct"))
    out = out.with_columns(pl.col("flat").abs().alias("_abs"))
    out = out.sort(["key", "_abs", "value"], descending=[False, True, False])
    return out.select(*TAG_COLUMNS)


def _numeric(rows: pl.DataFrame, prepared: Prepared) -> pl.DataFrame:
    num = rows.filter(pl.col("num").is_not_null())
    pairs = num.select("key", "num").unique()
    unit = prepared.options.unit
    names = {
        (k, n): measurement.scaled_label(n, prepared.num_units.get(k, k), unit)
        for k, n in pairs.iter_rows()
    }
    mapping = pl.DataFrame(
        [(k, n, v) for (k, n), v in names.items()],
        schema={"key": pl.Utf8, "num": pl.Int64, "value": pl.Utf8},
        orient="row",
    )
    return num.join(mapping, on=["key", "num"], how="left").select("key", "value", "flat")
