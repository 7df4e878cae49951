"""Diff trees and diff tables: self-diff is zero, values match an oracle, normalization."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profilelab.errors import QueryError
from profilelab.views import Selection, comparison, diff_tree
from profilelab.views.diff import Comparison
from profilelab.views.tree import DiffTree
from tests.flame_support import Sample, make_profile
from tests.test_views_flame import Stacks, prefix_totals

BASE: Stacks = [(["main", "a", "x"], 10), (["main", "b"], 30), (["main", "gone"], 5)]
NEW: Stacks = [(["main", "a", "x"], 40), (["main", "b"], 30), (["main", "fresh"], 10)]


def diff_totals(tree: DiffTree) -> dict[tuple[str, ...], tuple[int, int]]:
    names = tree.names()
    paths: list[tuple[str, ...]] = []
    for i in range(len(tree)):
        p = int(tree.parent[i])
        paths.append(() if p < 0 else (*paths[p], names[i]))
    return {paths[i]: (int(tree.base_total[i]), int(tree.new_total[i])) for i in range(len(tree))}


def check_nesting(tree: DiffTree) -> None:
    p = tree.parent[1:]
    assert np.all(tree.width[1:] <= tree.width[p] + 1e-6)
    assert np.all(tree.start[1:] + tree.width[1:] <= tree.start[p] + tree.width[p] + 1e-6)
    n = len(tree)
    for total, self_ in ((tree.base_total, tree.base_self), (tree.new_total, tree.new_self)):
        kids = np.bincount(p, weights=total[1:], minlength=n).astype(np.int64)
        assert np.array_equal(np.where(tree.is_other(), total, self_ + kids), total)


def test_diff_values_match_both_sides() -> None:
    tree = diff_tree(make_profile(BASE), make_profile(NEW), width_px=10**9)
    check_nesting(tree)
    base, new = prefix_totals(BASE), prefix_totals(NEW)
    got = diff_totals(tree)
    assert got == {p: (base[p], new[p]) for p in set(base) | set(new)}
    assert tree.scale == pytest.approx(80 / 45)


def test_normalized_scales_the_base() -> None:
    tree = diff_tree(make_profile(BASE), make_profile(NEW), normalize=True, width_px=10**9)
    root = 0
    assert tree.base_scaled[root] == pytest.approx(80.0)
    assert tree.delta[root] == pytest.approx(0.0)
    absolute = diff_tree(make_profile(BASE), make_profile(NEW), width_px=10**9)
    assert absolute.delta[root] == pytest.approx(35.0)


def test_width_by_max_nests() -> None:
    tree = diff_tree(make_profile(BASE), make_profile(NEW), width_by="max", width_px=10**9)
    check_nesting(tree)
    names = tree.names()
    assert tree.width[names.index("gone")] == 5  # disappeared, still drawn
    by_new = diff_tree(make_profile(BASE), make_profile(NEW), width_px=10**9)
    assert by_new.width[by_new.names().index("gone")] == 0
    with pytest.raises(QueryError):
        diff_tree(make_profile(BASE), make_profile(NEW), width_by="sum")


def test_diff_table_statuses_and_order() -> None:
    cmp = Comparison(make_profile(BASE), make_profile(NEW))
    table = cmp.table()
    rows = {r["name"]: r for r in table.iter_rows(named=True)}
    assert rows["fresh"]["status"] == "appeared" and rows["fresh"]["delta_self"] == 10
    assert rows["gone"]["status"] == "disappeared" and rows["gone"]["delta_self"] == -5
    assert rows["b"]["status"] == "same" and rows["x"]["delta_self"] == 30
    deltas = [abs(d) for d in table["delta_self"].to_list()]
    assert deltas == sorted(deltas, reverse=True)


def test_label_selections_of_one_profile() -> None:
    prof = make_profile(
        [
            Sample(["main", "a"], [1, 10], {"version": "v1"}),
            Sample(["main", "a"], [1, 25], {"version": "v2"}),
            Sample(["main", "b"], [1, 7], {"version": "v2"}),
        ]
    )
    cmp = comparison(prof, base_labels={"version": "v1"}, new_labels={"version": "v2"})
    assert cmp.base.index is cmp.new.index
    got = diff_totals(cmp.tree(width_px=10**9))
    assert got[("main", "a")] == (10, 25) and got[("main", "b")] == (0, 7)


stacks_st = st.lists(
    st.tuples(st.lists(st.sampled_from("abcd"), max_size=5), st.integers(1, 500)),
    min_size=1,
    max_size=20,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks=stacks_st, width=st.sampled_from([4, 50, 10**9]), by=st.sampled_from(["new", "max"]))
def test_property_self_diff_is_zero(stacks: Stacks, width: int, by: str) -> None:
    sel = Selection(make_profile(stacks))
    tree = Comparison(sel, sel).tree(width_px=width, width_by=by, normalize=True)
    check_nesting(tree)
    assert np.array_equal(tree.base_total, tree.new_total)
    assert np.all(tree.delta == 0)
    assert np.all(Comparison(sel, sel).table()["delta_total"].to_numpy() == 0)
    # two separate loads of the same input (different stack indexes) diff to zero too
    other = Selection(make_profile(stacks))
    tree2 = Comparison(sel, other).tree(width_px=width)
    assert np.array_equal(tree2.base_total, tree2.new_total)


def test_a_thin_side_or_far_apart_totals_warn() -> None:
    from profilelab.views.diff import MAX_DIFF_SCALE, MIN_DIFF_SAMPLES, sample_count

    few = make_profile([Sample(["main", "a"], [3, 3])])
    many = make_profile([Sample(["main", "a"], [400, 400]), Sample(["main", "b"], [600, 600])])
    thin = comparison(few, many, sample_type="samples")
    assert sample_count(thin.base) == 3 and sample_count(thin.new) == 1000
    said = thin.warnings()
    assert len(said) == 2, said
    assert f"base side rests on about 3 samples (under {MIN_DIFF_SAMPLES})" in said[0]
    assert f"×333 (over ×{MAX_DIFF_SCALE:g})" in said[1]
    assert comparison(many, many, sample_type="samples").warnings() == []
    empty = comparison(few, many, base_labels={"nope": "x"}, sample_type="samples")
    assert "base side is empty" in empty.warnings()[0]
