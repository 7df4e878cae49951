"""Slow spans: from a latency tail to the code (and the request attribute) behind it.

Rests on the trace join (:func:`profilelab.join_spans`, ``docs/traces.md``): every profile
sample is attributed to a span, so the slowest spans of one name have a profile of their
own. The finding compares the slowest spans with the spans around the median (the cohort
diff, :func:`profilelab.traces.analysis.distinguishing`):

* the *culprit* is the function that distinguishes the slow spans: of the functions that
  explain most of their extra CPU per span, the one typical spans run least (ideally
  never). The function with the most self CPU in the slow spans can be a leaf that every
  request runs (a hashing routine, the allocator) called more often by the slow path; it
  is reported as the slow spans' *hottest leaf*, not as the culprit;
* the culprit's share of the slow spans' CPU (cum: it and what it calls) is set against its
  share of all spans of the name;
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
    cohort = joined.cohort_diff(name, n)
    culprit = cohort.functions.row(0, named=True)
    fn = str(culprit["function"])
    slow_share = _cum_share(slow_profile, fn)
    overall = _cum_share(joined.name_profile(name), fn)
    leaf = slow_flat.row(0, named=True)
    durations = spans["duration_ns"]
    p50, p99 = (float(np.quantile(durations.to_numpy(), q)) for q in (0.5, 0.99))
    trait = distinguishing_attribute(spans, slowest)
    cutoff = amount(float(slowest["duration_ns"].to_numpy().min()), "nanoseconds")
    headline = (
        f"the slowest {n} of {spans.height} {name} spans (≥ {cutoff}; "
        f"median {amount(p50, 'nanoseconds')}) spend {pct(slow_share)} of their CPU in "
        f"{fn} and what it calls, against {pct(overall)} across all {name} spans"
    )
    details = [
        f"latency of {name}: p50 {amount(p50, 'nanoseconds')}, p99 {amount(p99, 'nanoseconds')}"
    ]
    typical = cohort.median_spans.height
    if culprit["only_slow"]:
        details.append(
            f"{fn} runs only in the slow spans: none of the {typical} spans nearest the median "
            f"reaches it (+{amount(culprit['delta_total'], cohort.unit)} CPU per slow span)"
        )
    if leaf["key"] != fn:
        hottest = (
            f"the slow spans' hottest leaf, {leaf['key']} ({pct(leaf['share'])} of their self CPU)"
        )
        if _calls(slow_profile, fn, str(leaf["key"])):
            details.append(f"{hottest}, is not the cause: typical spans run it too; {fn} calls it")
        else:
            details.append(f"{hottest}, runs in typical spans too")
    facts: dict[str, object] = {
        "name": name,
        "spans": spans.height,
        "slow_spans": n,
        "function": fn,
        "only_slow": bool(culprit["only_slow"]),
        "extra_per_slow_span": float(culprit["delta_total"]),
        "slow_share": slow_share,
        "overall_share": overall,
        "hottest_leaf": leaf["key"],
        "hottest_leaf_share": leaf["share"],
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
    tables = {"slow_functions": slow_flat, "distinguishing": cohort.functions, "slowest": slowest}
    return Finding("05-slow-span-to-profile", QUESTION, headline, facts, tuple(details), tables)


def _cum_share(p: Profile, function: str) -> float:
    """The share of ``p``'s CPU in samples with ``function`` on the stack (pprof's cum)."""
    totals = key_totals(p, "function", _cpu_ids(p))
    total = float(totals.group_by("profile_id").agg(pl.col("flat").sum())["flat"].sum())
    cum = float(totals.filter(pl.col("key") == function)["cum"].sum())
    return cum / total if total else 0.0


def _calls(p: Profile, caller: str, callee: str) -> bool:
    """Does any stack of ``p`` have ``caller`` above (rootward of) ``callee``?"""
    framed = (
        p.stacks.select("stack_id", "frame_ids")
        .explode("frame_ids")
        .with_columns(pl.int_range(pl.len()).over("stack_id").alias("pos"))  # 0 is the leaf
        .join(p.frames.select("frame_id", "function"), left_on="frame_ids", right_on="frame_id")
    )
    rootmost = framed.filter(pl.col("function") == caller).group_by("stack_id").agg(pl.max("pos"))
    leafmost = framed.filter(pl.col("function") == callee).group_by("stack_id").agg(pl.min("pos"))
    both = rootmost.join(leafmost, on="stack_id", suffix="_callee")
    return bool((both["pos"] > both["pos_callee"]).any())


def _cpu_ids(p: Profile) -> pl.Series | None:
    cpu = p.profiles.filter(pl.col("sample_type") == "cpu")["profile_id"]
    return cpu if cpu.len() else None


def _flat_shares(p: Profile) -> pl.DataFrame:
    """Per function: flat CPU (runtime frames skipped) and its share; largest first."""
    flat = (
        key_totals(p, "function", _cpu_ids(p), skip=RUNTIME)
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
