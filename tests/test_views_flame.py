"""Flame-tree views: totals, layout, pruning, zoom, inversion, sandwich, filters.

Every tree is checked against a plain-Python oracle computed from the same samples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import core
from profilelab.errors import QueryError
from profilelab.views import Selection, flame_tree, sandwich, top_table
from profilelab.views.tree import OTHER_NAME, FlameTree
from tests.flame_support import Sample, make_profile

Stacks = list[tuple[list[str], int]]

SMALL: Stacks = [
    (["main", "serve", "parse"], 30),
    (["main", "serve", "parse", "alloc"], 10),
    (["main", "serve", "write"], 25),
    (["main", "gc"], 5),
    (["main"], 2),
    (["runtime.mcall", "runtime.park"], 8),
    (["main", "serve", "parse", "parse", "alloc"], 4),  # recursion
]


def prefix_totals(stacks: Stacks, root: Sequence[str] = ()) -> Counter[tuple[str, ...]]:
    """Oracle: total of every node path (below ``root``) of a top-down tree."""
    out: Counter[tuple[str, ...]] = Counter()
    n = len(root)
    for stack, value in stacks:
        if tuple(stack[:n]) != tuple(root):
            continue
        for d in range(n, len(stack) + 1):
            out[tuple(stack[n:d])] += value
    return out


def tree_totals(tree: FlameTree) -> dict[tuple[str, ...], int]:
    names = tree.names()
    paths: list[tuple[str, ...]] = []
    for i in range(len(tree)):
        p = int(tree.parent[i])
        paths.append(() if p < 0 else (*paths[p], names[i]))
    return {paths[i]: int(tree.total[i]) for i in range(len(tree))}


def check_invariants(tree: FlameTree) -> None:
    """Totals conserved at every node (an "other" node is a leaf standing for its folded
    frames); children nest inside their parent."""
    n = len(tree)
    child_sum = np.bincount(tree.parent[1:], weights=tree.total[1:], minlength=n)
    other = tree.is_other()
    got = np.where(other, tree.total, tree.self_value + child_sum.astype(np.int64))
    assert np.array_equal(got, tree.total)
    assert np.all(tree.folded[other] > 0) and np.all(tree.self_value[other] == 0)
    assert tree.parent[0] == -1 and tree.depth[0] == 0
    p = tree.parent[1:]
    assert np.all(p < np.arange(1, n))  # parents first
    assert np.all(tree.depth[1:] == tree.depth[p] + 1)
    assert np.all(tree.width[1:] <= tree.width[p] + 1e-6)
    assert np.all(tree.start[1:] >= tree.start[p] - 1e-6)
    assert np.all(tree.start[1:] + tree.width[1:] <= tree.start[p] + tree.width[p] + 1e-6)


def test_flame_tree_matches_oracle_exactly() -> None:
    prof = make_profile(SMALL)
    tree = flame_tree(prof, width_px=10**9)  # nothing is narrow enough to fold
    check_invariants(tree)
    assert tree.sample_type == "cpu" and tree.unit == "nanoseconds"  # pprof's default: last
    assert tree_totals(tree) == dict(prefix_totals(SMALL))
    assert tree.grand_total == sum(v for _, v in SMALL)
    by_name = dict(zip(tree.names(), tree.self_value.tolist(), strict=True))
    assert by_name["main"] == 2


def test_sample_type_choice_and_error() -> None:
    prof = make_profile(SMALL)
    counts = flame_tree(prof, sample_type="samples")
    assert int(counts.total[0]) == len(SMALL)
    with pytest.raises(QueryError, match="sample_index 'wall' must be one of: 0=samples, 1=cpu"):
        flame_tree(prof, sample_type="wall")


def test_pruning_folds_narrow_nodes_into_other_without_losing_value() -> None:
    stacks: Stacks = [(["main", f"f{i:03d}"], 1) for i in range(300)] + [(["main", "big"], 700)]
    prof = make_profile(stacks)
    tree = flame_tree(prof, width_px=100)  # half a pixel = 0.5% of 1000 = 5
    check_invariants(tree)
    names = tree.names()
    assert "big" in names and "f000" not in names
    other = names.index(OTHER_NAME)
    assert int(tree.total[other]) == 300 and int(tree.folded[other]) == 300
    assert int(tree.total[0]) == 1000


def test_zoom_reroots_and_refines() -> None:
    stacks: Stacks = [(["main", "a", f"x{i}"], 1) for i in range(50)] + [(["main", "b"], 10_000)]
    prof = make_profile(stacks)
    whole = flame_tree(prof, width_px=200)
    assert "x0" not in whole.names()  # folded at full view
    zoomed = flame_tree(prof, width_px=200, root=("main", "a"))
    check_invariants(zoomed)
    assert zoomed.root_path == ("main", "a") and zoomed.names()[0] == "a"
    assert int(zoomed.total[0]) == 50 and "x0" in zoomed.names()
    assert zoomed.root_path_totals == (10_050, 50)
    assert zoomed.path(zoomed.names().index("x7")) == ("main", "a", "x7")
    assert tree_totals(zoomed) == dict(prefix_totals(stacks, ("main", "a")))
    with pytest.raises(QueryError, match="no frame named 'nope'"):
        flame_tree(prof, root=("main", "nope"))


def test_inverted_tree_starts_at_leaves() -> None:
    prof = make_profile(SMALL)
    inv = flame_tree(prof, inverted=True, width_px=10**9)
    check_invariants(inv)
    leaf_first = [(list(reversed(s)), v) for s, v in SMALL]
    assert tree_totals(inv) == dict(prefix_totals(leaf_first))


def test_sandwich_totals_equal_cum_with_recursion_once() -> None:
    prof = make_profile(SMALL)
    sw = sandwich(prof, "parse", width_px=10**9)
    cum = sum(v for s, v in SMALL if "parse" in s)
    assert int(sw.callers.total[0]) == cum == int(sw.callees.total[0])
    check_invariants(sw.callers)
    check_invariants(sw.callees)
    # callers: parse <- serve <- main; callees from the outermost parse
    assert tree_totals(sw.callers)[("serve", "main")] == cum
    callees = tree_totals(sw.callees)
    assert callees[("alloc",)] == 10 and callees[("parse", "alloc")] == 4
    top = top_table(prof)
    row = top.filter(top["name"] == "parse").row(0, named=True)
    assert row["total"] == cum and row["self"] == 30


def test_top_table_matches_oracle() -> None:
    prof = make_profile(SMALL)
    top = top_table(prof)
    flat: Counter[str] = Counter()
    cum: Counter[str] = Counter()
    for s, v in SMALL:
        flat[s[-1]] += v
        for name in set(s):
            cum[name] += v
    got = {r["name"]: (r["self"], r["total"]) for r in top.iter_rows(named=True)}
    assert got == {k: (flat[k], cum[k]) for k in cum}
    assert top["self"].to_list() == sorted(top["self"].to_list(), reverse=True)


def test_focus_ignore_and_label_filters() -> None:
    samples = [
        Sample(["main", "serve", "parse"], [1, 10], {"endpoint": "/a"}),
        Sample(["main", "serve", "write"], [1, 20], {"endpoint": "/b"}),
        Sample(["main", "gc"], [1, 40]),
    ]
    prof = make_profile(samples)
    assert int(flame_tree(prof, focus="serve").total[0]) == 30
    assert int(flame_tree(prof, ignore="^gc$").total[0]) == 30
    assert int(flame_tree(prof, focus="serve", ignore="wr.te").total[0]) == 10
    assert int(flame_tree(prof, labels={"endpoint": "/b"}).total[0]) == 20
    assert int(flame_tree(prof, labels={"endpoint": ["/a", "/b"]}).total[0]) == 30
    with pytest.raises(QueryError, match="parsing focus regexp"):
        flame_tree(prof, focus="(unclosed")


def test_with_filters_shares_the_stack_index() -> None:
    prof = make_profile(SMALL)
    sel = Selection(prof)
    other = sel.with_filters(focus="gc")
    assert other.index is sel.index and other.total == 5


def test_granularities() -> None:
    prof = make_profile(SMALL)
    by_file = flame_tree(prof, granularity="file", width_px=10**9)
    check_invariants(by_file)
    assert "runtime/runtime.mcall.go" in by_file.names()
    by_line = flame_tree(prof, granularity="line", width_px=10**9)
    assert any(n.startswith("parse parse.go:") for n in by_line.names())
    by_addr = flame_tree(prof, granularity="address", width_px=10**9)
    assert any(n.startswith("main 0x") for n in by_addr.names())
    with pytest.raises(QueryError, match=r"granularity .* is not one of"):
        flame_tree(prof, granularity="module")


def test_function_granularity_keeps_tooltip_fields() -> None:
    prof = make_profile(SMALL)
    df = flame_tree(prof).to_polars()
    row = df.filter(df["name"] == "runtime.park").row(0, named=True)
    assert row["file"] == "runtime/runtime.park.go" and row["package"] == "runtime"
    assert row["line"] > 0


stack_st = st.lists(st.sampled_from("abcde"), min_size=0, max_size=6)
stacks_st = st.lists(st.tuples(stack_st, st.integers(1, 1000)), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks=stacks_st, width=st.sampled_from([3, 20, 10**9]))
def test_property_totals_conserved_and_pruning_keeps_value(stacks: Stacks, width: int) -> None:
    prof = make_profile(stacks)
    sel = Selection(prof)
    tree = sel.flame(width_px=width)
    check_invariants(tree)
    assert int(tree.total[0]) == sum(v for _, v in stacks)
    oracle = prefix_totals(stacks)
    others = tree.is_other()
    for path, total in tree_totals(tree).items():
        if path and path[-1] == OTHER_NAME:
            continue
        assert oracle[path] == total  # every shown node carries its exact value
    # an "other" node holds exactly what its parent's shown children and self leave over
    assert all(int(tree.total[i]) >= 0 for i in np.flatnonzero(others))
    full = sel.flame(fraction=0.0)
    assert tree_totals(full) == dict(oracle)
    inv = sel.flame(inverted=True, width_px=width)
    check_invariants(inv)
    for name in {n for s, _ in stacks for n in s}:
        sw = sel.sandwich(name, width_px=width)
        cum = sum(v for s, v in stacks if name in s)
        assert int(sw.callers.total[0]) == cum == int(sw.callees.total[0])
        check_invariants(sw.callers)
        check_invariants(sw.callees)


def test_corpus_profile_trees(corpus: Path) -> None:
    prof = profilelab.load(corpus / "google-pprof/internal/proftest/testdata/large.cpu")
    sel = Selection(prof)
    tree = sel.flame(width_px=800)
    check_invariants(tree)
    total = int(
        prof.samples.filter(prof.samples["profile_id"].is_in(sel.index.profile_ids))["value"].sum()
    )
    assert int(tree.total[0]) == total
    assert len(tree) < len(prof.frames)  # pruned to what 800 px can show
    top = sel.top()
    fn = str(top["name"][0])
    sw = sel.sandwich(fn, width_px=800)
    assert int(sw.callees.total[0]) == int(top["total"][0])
    for g in ("line", "file", "address"):
        check_invariants(sel.flame(granularity=g, width_px=800))


def test_top_limit_is_the_head_of_the_full_table() -> None:
    stacks: Stacks = [(["main", f"f{i % 13}", f"g{i % 7}"], 1 + i) for i in range(60)]
    sel = Selection(make_profile(stacks))
    full = sel.top()
    assert sel.top(limit=5).equals(full.head(5))
    assert sel.top(limit=1000).equals(full.filter(full["self"] > 0))


def test_the_profiles_drop_frames_prune_views_as_they_prune_reports() -> None:
    """pprof prunes what a profile's drop_frames names (an allocator's frames, say) from
    every profile it loads: beneath the root-most other frame, each stack is cut at the
    first match. The flame view's tree and top agree with the report's; a selection with
    ``drop_frames=False`` keeps those frames, as ``--no-drop-frames`` does."""
    stacks: Stacks = [
        (["main", "alloc", "malloc", "mmap"], 10),  # cut at malloc: alloc's self
        (["main", "alloc", "operator new"], 5),
        (["main", "work"], 7),
        (["malloc", "x"], 3),  # nothing beneath the root-most other frame matches
    ]
    prof = make_profile(stacks, drop_frames="malloc|operator new")

    def view_top(**kw: object) -> set[tuple[str, int, int]]:
        sel = core.Selection(sample_index="cpu", **kw)  # type: ignore[arg-type]
        rows = Selection(prof, selection=sel).top().select("name", "self", "total").rows()
        return set(rows)

    def report_top(**kw: object) -> set[tuple[str, int, int]]:
        rows = prof.top(sample_index="cpu", **kw).select("name", "flat", "cum").rows()
        return {r for r in rows if r[2]}

    pruned = {("alloc", 15, 15), ("work", 7, 7), ("x", 3, 3), ("main", 0, 22), ("malloc", 0, 3)}
    assert view_top() == report_top() == pruned
    assert int(Selection(prof, selection=core.Selection(sample_index="cpu")).total) == 25
    # focus sees the pruned stacks: only the root malloc is left to match
    focused = core.Selection(sample_index="cpu", focus="^malloc$")
    assert int(Selection(prof, selection=focused).flame().total[0]) == 3
    assert view_top(focus="^malloc$") == report_top(focus="^malloc$")
    kept = view_top(drop_frames=False)
    assert kept == report_top(drop_frames=False)
    assert ("mmap", 10, 10) in kept and ("operator new", 5, 5) in kept
