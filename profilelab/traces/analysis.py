"""Span analyses: tail-latency cohort diff, and on-CPU time against wall time.

Cohort diff: of the spans called ``name``, the ``n`` slowest form the *slow* cohort and the
``n`` others whose durations are nearest the median form the *median* cohort. Their
per-function values are divided by the number of spans in each cohort (so "ms per span"
compares cohorts of any size) and subtracted: ``delta_*`` = slow - median per span. The
functions are ranked by what *distinguishes* the cohorts (:func:`distinguishing`), not by
the slow cohort's self time: a leaf that every request runs (a hashing routine, the
allocator) can hold most of the slow spans' self time while the code that only slow
requests run is its caller.

CPU against wall: a span's CPU is the value of the samples of the span and its *local*
descendants (one process) in a time-valued sample type (``cpu`` by default), converted to
nanoseconds. Sampled CPU can exceed what a short span could physically use (one 10 ms
sample in a 2 ms span), so it is capped at ``wall × cores`` and the span is flagged
``capped``; the raw estimate stays in ``cpu_sampled_ns``. Spans without a positive
duration are left out (they are in ``problems``).

Many profilers label samples with the *local root* span only (otel-profiling-go,
Pyroscope's span profiles): the child spans of such a request then carry no samples
whatever they did, and zero CPU would be a guess. So a child span's CPU is *unknown*
(``cpu_ns`` null, ``cpu_known`` false) when its local subtree has no samples and no other
child span of its request (its local tree) carries one either. Per name, ``mostly`` is
``cpu`` or ``waiting`` from the spans whose CPU is known, and ``unknown`` when none is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.model.reporting import reporting
from profilelab.model.spantree import subtree_sums
from profilelab.traces.functions import function_values, pick_profiles, to_nanoseconds

if TYPE_CHECKING:
    from profilelab.traces.spanjoin import SpanJoin


@dataclass(frozen=True)
class CohortDiff:
    """Slow versus median spans of one name: both profiles and a per-function diff."""

    name: str
    slow: Profile
    median: Profile
    slow_spans: pl.DataFrame
    median_spans: pl.DataFrame
    functions: pl.DataFrame  # function, per-span self/total, deltas, lift (distinguishing order)
    sample_type: str
    unit: str

    def widget(self) -> Any:
        """A diff flame graph when ``profilelab.widgets.DiffFlameGraph`` exists, else a table."""
        return reporting().diff_widget(self.median, self.slow, self.functions, self.sample_type)


def cohort_diff(
    join: SpanJoin, name: str, n: int, service: str | None, sample_type: str | None
) -> CohortDiff:
    if n < 1:
        raise QueryError(f"cohort size must be at least 1, not {n}")
    spans = join.span_table(sample_type).filter(
        pl.col("span_row").is_in(join.rows(name, service)) & (pl.col("duration_ns") > 0)
    )
    if spans.height < 2:
        raise QueryError(
            f"cohort diff of {name!r} needs 2 spans with a duration, not {spans.height}"
        )
    by_duration = spans.sort(["duration_ns", "span_row"], descending=[True, False])
    k = min(n, spans.height // 2)
    slow = by_duration.head(k)
    rest = by_duration.slice(k)
    median = float(spans["duration_ns"].median())  # type: ignore[arg-type]
    typical = (
        rest.with_columns((pl.col("duration_ns") - median).abs().alias("_dist"))
        .sort(["_dist", "span_row"])
        .head(k)
        .drop("_dist")
    )
    ids, stype, unit = pick_profiles(join.profile, sample_type)
    slow_p = join.profile_of(slow["span_row"].to_list())
    typical_p = join.profile_of(typical["span_row"].to_list())
    table = distinguishing(
        function_diff(
            function_values(slow_p, ids),
            function_values(typical_p, ids),
            slow.height,
            typical.height,
        )
    )
    return CohortDiff(name, slow_p, typical_p, slow, typical, table, stype, unit)


def function_diff(slow: pl.DataFrame, base: pl.DataFrame, n_slow: int, n_base: int) -> pl.DataFrame:
    """Per function, self and total per span of the slow and the base spans and their
    deltas, largest self delta first (the span explorer's diff uses it too)."""
    both = slow.join(base, on="function", how="full", coalesce=True, suffix="_median")
    both = both.fill_null(0)
    return (
        both.select(
            "function",
            (pl.col("self") / n_slow).alias("slow_self"),
            (pl.col("self_median") / n_base).alias("median_self"),
            (pl.col("total") / n_slow).alias("slow_total"),
            (pl.col("total_median") / n_base).alias("median_total"),
        )
        .with_columns(
            (pl.col("slow_self") - pl.col("median_self")).alias("delta_self"),
            (pl.col("slow_total") - pl.col("median_total")).alias("delta_total"),
        )
        .sort(["delta_self", "function"], descending=[True, False])
    )


def distinguishing(functions: pl.DataFrame, explain: float = 0.5) -> pl.DataFrame:
    """A cohort diff's functions, most distinguishing first.

    A function *explains* the slowness when its extra total per slow span (``delta_total``)
    is at least ``explain`` of the largest: the callers on the way to the slow code and the
    slow code itself all do. Among those, the one the median cohort runs least relative to
    the slow cohort (``lift`` = slow_total / median_total; infinite, with ``only_slow``, when
    the median spans never run it) is the most specific: it tells the slow requests' code
    path apart from the shared code above and below it. A shared leaf that the slow path
    calls often has a large self share in the slow spans but a finite lift, because typical
    requests run it too. Ties go to the larger ``delta_total``, then to the name.
    """
    top = functions["delta_total"].max() if functions.height else None
    bar = explain * float(top) if top is not None and float(top) > 0 else float("inf")  # type: ignore[arg-type]
    lift = (
        pl.when(pl.col("median_total") > 0)
        .then(pl.col("slow_total") / pl.col("median_total"))
        .otherwise(pl.when(pl.col("slow_total") > 0).then(float("inf")).otherwise(0.0))
    )
    return functions.with_columns(
        (pl.col("median_total") == 0).alias("only_slow"),
        lift.alias("lift"),
        ((pl.col("delta_total") > 0) & (pl.col("delta_total") >= bar)).alias("explains"),
    ).sort(["explains", "lift", "delta_total", "function"], descending=[True, True, True, False])


def cpu_vs_wall(
    join: SpanJoin, cores: float, sample_type: str | None, by_span: bool
) -> pl.DataFrame:
    if not cores > 0:
        raise QueryError(f"cores must be positive, not {cores}")
    _, stype, unit = pick_profiles(join.profile, sample_type)
    factor = to_nanoseconds(unit)
    values = join.self_values(stype)
    n = join.spans.nodes
    sampled = subtree_sums(values, n["lpre"].to_numpy(), n["lpost"].to_numpy()) * factor
    spans = join.spans.with_duration().with_columns(
        pl.Series("cpu_sampled_ns", sampled, dtype=pl.Int64),
        pl.Series("cpu_known", _cpu_known(values, n["local_root_row"].to_numpy(), sampled)),
    )
    spans = spans.filter(pl.col("duration_ns") > 0).with_columns(
        (pl.col("duration_ns") * cores).alias("_cap")
    )
    spans = spans.with_columns(
        pl.when(pl.col("cpu_known"))
        .then(pl.min_horizontal("cpu_sampled_ns", "_cap"))
        .cast(pl.Int64)
        .alias("cpu_ns"),
        (pl.col("cpu_sampled_ns") > pl.col("_cap")).alias("capped"),
    ).drop("_cap")
    if by_span:
        return spans.select(
            "span_row",
            "trace_id",
            "span_id",
            "service",
            "name",
            "duration_ns",
            "cpu_ns",
            "cpu_sampled_ns",
            "cpu_known",
            "capped",
            (pl.col("cpu_ns") / pl.col("duration_ns")).alias("cpu_fraction"),
        )
    return _per_name(spans)


def _cpu_known(values: np.ndarray, local_root: np.ndarray, sampled: np.ndarray) -> np.ndarray:
    """Per span row: is its CPU known (see the module docstring)? Local roots always are; a
    child is when its subtree has samples or another child span of its local tree does."""
    rows = np.arange(len(values))
    is_root = local_root == rows
    child_values = np.where(is_root, 0, values).astype(np.float64)
    tree_children = np.bincount(local_root, weights=child_values, minlength=len(values))
    return is_root | (sampled > 0) | (tree_children[local_root] > 0)


def _per_name(spans: pl.DataFrame) -> pl.DataFrame:
    """CPU against wall summed per (service, name) over the spans whose CPU is known;
    ``cpu_fraction`` = cpu / wall of those spans; ``unknown`` counts the others."""
    known = pl.col("cpu_known")
    out = spans.group_by("service", "name").agg(
        pl.len().alias("spans"),
        pl.col("duration_ns").sum().alias("wall_ns"),
        pl.col("cpu_ns").sum().alias("cpu_ns"),
        pl.col("duration_ns").filter(known).sum().alias("_known_wall"),
        pl.col("duration_ns").median().alias("median_wall_ns"),
        pl.col("capped").sum().alias("capped"),
        (~known).sum().alias("unknown"),
    )
    fraction = pl.when(pl.col("_known_wall") > 0).then(pl.col("cpu_ns") / pl.col("_known_wall"))
    mostly = (
        pl.when(pl.col("unknown") == pl.col("spans"))
        .then(pl.lit("unknown"))
        .when(fraction >= 0.5)
        .then(pl.lit("cpu"))
        .otherwise(pl.lit("waiting"))
    )
    return (
        out.with_columns(fraction.alias("cpu_fraction"), mostly.alias("mostly"))
        .with_columns(pl.when(pl.col("unknown") < pl.col("spans")).then(pl.col("cpu_ns")))
        .drop("_known_wall")
        .sort(["wall_ns", "service", "name"], descending=[True, False, False], nulls_last=True)
    )
