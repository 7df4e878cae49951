"""Slow spans: from a latency tail to the code (and the request attribute) behind it.

Rests on the trace join (:func:`profilelab.join_spans`, ``docs/traces.md``): every profile
sample is attributed to a span, so the slowest spans of one name have a profile of their
own. The finding compares that profile with the profile of all spans of the name:

* the *culprit* is the function with the largest self CPU in the slow spans, counting a
  sample in the runtime (allocation, preemption) towards the code that called it;
* its share of the slow spans' CPU is set against its share of all spans of the name;
* the *trait* is the span attribute value most over-represented among the slow spans
  (for example ``order.promo=STACKED``): what the slow requests have in common.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from profilelab.analysis import key_totals
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.playbooks._finding import Finding, amount, pct
from profilelab.traces import SpanJoin

QUESTION = "Some requests are far slower than the rest: which code makes them slow?"
RUNTIME = r"^runtime\."


def slow_spans(joined: SpanJoin, name: str, *, tail: float = 0.05, min_spans: int = 10) -> Finding:
    """The slowest ``tail`` fraction (at least ``min_spans``) of the spans called ``name``."""
    spans = joined.span_table().filter(pl.col("name") == name)
    if spans.is_empty():
        raise QueryError(f"no span named {name!r}")
    n = max(min_spans, round(tail * spans.height))
    slowest = joined.slowest_spans(name, n)
    slow_profile = joined.slowest(name, n)
    slow_flat = _flat_shares(slow_profile)
    if slow_flat.is_empty():
        raise QueryError(f"the slowest {n} {name!r} spans carry no profile samples")
    culprit = slow_flat.row(0, named=True)
    everywhere = _flat_shares(joined.name_profile(name)).filter(pl.col("key") == culprit["key"])
    overall = float(everywhere["share"][0]) if everywhere.height else 0.0
    durations = spans["duration_ns"]
    p50, p99 = (float(np.quantile(durations.to_numpy(), q)) for q in (0.5, 0.99))
    trait = distinguishing_attribute(spans, slowest)
    cutoff = amount(float(slowest["duration_ns"].to_numpy().min()), "nanoseconds")
    headline = (
        f"the slowest {n} of {spans.height} {name} spans (≥ {cutoff}; "
        f"median {amount(p50, 'nanoseconds')}) spend {pct(culprit['share'])} of their CPU in "
        f"{culprit['key']}, against {pct(overall)} across all {name} spans"
    )
    details = [
        f"latency of {name}: p50 {amount(p50, 'nanoseconds')}, p99 {amount(p99, 'nanoseconds')}"
    ]
    facts: dict[str, object] = {
        "name": name,
        "spans": spans.height,
        "slow_spans": n,
        "function": culprit["key"],
        "slow_share": culprit["share"],
        "overall_share": overall,
        "p50_ns": p50,
        "p99_ns": p99,
        "trait": None,
    }
    if trait is not None:
        key, value, slow_frac, all_frac = trait
        with_trait = has_attribute(key, value)
        medians = [_median(spans.filter(m)["duration_ns"]) for m in (with_trait, ~with_trait)]
        details.append(
            f"{pct(slow_frac)} of the slow spans have {key}={value}, against {pct(all_frac)} of "
            f"all {name} spans; median latency with it {amount(medians[0], 'nanoseconds')}, "
            f"without {amount(medians[1], 'nanoseconds')}"
        )
        facts.update(
            trait=(key, value),
            trait_slow=slow_frac,
            trait_all=all_frac,
            trait_median_ns=medians[0],
            other_median_ns=medians[1],
        )
    tables = {"slow_functions": slow_flat, "slowest": slowest}
    return Finding("05-slow-span-to-profile", QUESTION, headline, facts, tuple(details), tables)


def _flat_shares(p: Profile) -> pl.DataFrame:
    """Per function: flat CPU (runtime frames skipped) and its share; largest first."""
    cpu = p.profiles.filter(pl.col("sample_type") == "cpu")["profile_id"]
    ids = cpu if cpu.len() else None
    flat = (
        key_totals(p, "function", ids, skip=RUNTIME)
        .group_by("key")
        .agg(pl.col("flat").sum())
        .filter(pl.col("flat") > 0)
    )
    total = float(flat["flat"].sum()) or 1.0
    return flat.with_columns((pl.col("flat") / total).alias("share")).sort(
        ["flat", "key"], descending=[True, False]
    )


def distinguishing_attribute(
    spans: pl.DataFrame,
    slow: pl.DataFrame,
    min_slow_fraction: float = 0.2,
    min_ratio: float = 2.0,
    min_spans: int = 2,
) -> tuple[str, str, float, float] | None:
    """(key, value, fraction of slow spans, fraction of all spans) of the attribute value
    most over-represented among the slow spans: the largest ratio of the two fractions, at
    least ``min_ratio``, among values on at least ``min_slow_fraction`` of the slow spans
    and on at least ``min_spans`` of them (so identifiers such as an order id, on one span
    each, never qualify)."""
    all_frac = _value_fractions(spans).rename({"fraction": "all"})
    slow_frac = _value_fractions(slow).rename({"fraction": "slow"})
    both = (
        slow_frac.join(all_frac, on=["key", "value"], how="left")
        .with_columns(pl.col("all").fill_null(0.0))
        .filter(
            (pl.col("slow") >= min_slow_fraction)
            & (pl.col("slow") * slow.height >= min_spans - 1e-9)
        )
        .with_columns((pl.col("slow") / pl.col("all")).alias("lift"))
        .filter(pl.col("lift") >= min_ratio)
        .sort(["lift", "key", "value"], descending=[True, False, False])
    )
    if both.is_empty():
        return None
    r = both.row(0, named=True)
    return str(r["key"]), str(r["value"]), float(r["slow"]), float(r["all"])


def _value_fractions(spans: pl.DataFrame) -> pl.DataFrame:
    """Per attribute (key, value): the fraction of the spans that carry it."""
    pairs = (
        spans.select("span_row", "attributes")
        .explode("attributes")
        .drop_nulls("attributes")
        .select(
            "span_row",
            pl.col("attributes").struct.field("key").alias("key"),
            pl.col("attributes").struct.field("value").alias("value"),
        )
        .unique()
    )
    return pairs.group_by("key", "value").agg((pl.len() / spans.height).alias("fraction"))


def has_attribute(key: str, value: str) -> pl.Expr:
    """A predicate over a span table: the span carries attribute ``key`` = ``value``."""
    return (
        pl.col("attributes")
        .list.eval(
            (pl.element().struct.field("key") == key)
            & (pl.element().struct.field("value") == value)
        )
        .list.any()
    )


def _median(values: pl.Series) -> float:
    return float(np.median(values.to_numpy())) if values.len() else 0.0
