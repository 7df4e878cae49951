"""Analyses on the real Go datasets: the designed effects are found, the controls stay quiet."""

from __future__ import annotations

import polars as pl
import pytest

from profilelab import analysis, datasets


def test_growth_ranks_the_real_heap_leak_first() -> None:
    heap = datasets.load("heap-leak")
    res = analysis.growth(heap, key="function")
    assert res["key"][0] == "main.(*SessionCache).Put"
    assert res["growing"][0] and res["corr"][0] > 0.95
    stacks = analysis.name_stacks(heap, analysis.growth(heap))
    assert "main.(*SessionCache).Put" in stacks["stack"][0]


@pytest.mark.parametrize("variant", ["leaking", "fixed"])
def test_goroutine_growth_leaking_versus_fixed(variant: str) -> None:
    g = datasets.load("goroutine-leak", variant=variant)
    res = analysis.growth(g, key="function")
    growing = res.filter(pl.col("growing"))["key"].to_list()
    if variant == "fixed":
        assert growing == []
    else:
        assert growing and "startWatcher" in growing[0]


def test_version_regression_is_significant_on_order_service() -> None:
    orders = datasets.load("order-service")
    res = analysis.compare(orders, {"version": "v2.3.5"}, {"version": "v2.3.6"})
    row = res.filter(pl.col("key") == "main.(*DB).Query").row(0, named=True)
    assert row["significant"] and row["delta_share"] > 0.1
    assert row["ci_low"] > 0
