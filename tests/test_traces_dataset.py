"""Trace-to-profile join on the real traced Go program (datasets/traced-order-service)."""

from __future__ import annotations

import polars as pl
import pytest

import profilelab
from profilelab import analysis, datasets


@pytest.fixture(scope="module")
def join() -> profilelab.SpanJoin:
    name = "traced-order-service"
    return profilelab.join_spans(datasets.load(name), profilelab.load_traces(datasets.traces(name)))


def test_labelled_samples_join_their_spans(join: profilelab.SpanJoin) -> None:
    j = join
    assert j.coverage.labelled_samples > 100
    assert j.coverage.sample_ratio >= 0.95


def test_cpu_per_span_never_exceeds_wall_times_cores(join: profilelab.SpanJoin) -> None:
    per_span = join.cpu_vs_wall(cores=2, by_span=True)
    assert per_span.height > 0
    assert (per_span["cpu_ns"] <= per_span["duration_ns"] * 2).all()


def test_slowest_spans_show_the_deliberately_slow_code(join: profilelab.SpanJoin) -> None:
    slow = join.slowest("pricing.compute", n=20)
    flat = (
        analysis.key_totals(slow, "function", skip=r"^runtime\.")
        .group_by("key")
        .agg(pl.col("flat").sum())
        .sort("flat", descending=True)
    )
    assert flat["key"][0] == "main.slowPricingRule"
    assert flat["flat"][0] > 0.5 * flat["flat"].sum()
