"""One aggregation and one report dispatch: every consumer sums and reports the same way."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import core, views
from profilelab.analysis import key_totals
from profilelab.cli import main
from profilelab.core.aggregate import per_function, per_label, per_profile
from profilelab.model.names import frame_function_names
from profilelab.traces.functions import function_values

FIB = "parca-dev-parca/pkg/query/testdata/fib.pb.gz"
SAMPLE_CPU = "google-pprof/internal/report/testdata/sample.cpu"


def test_api_top_honours_edgefraction_and_agrees_with_the_cli(corpus: Path, capsys) -> None:
    p = profilelab.load(corpus / FIB)
    default = p.top()
    assert not default["inline"].equals(p.top(edgefraction=0.0)["inline"])
    assert set(p.top(edgefraction=1.0)["inline"]) == {""}
    assert main(["top", str(corpus / FIB), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["inline"] for r in rows] == default["inline"].to_list()
    assert main(["top", str(corpus / FIB), "--format", "csv"]) == 0
    csv = pl.read_csv(capsys.readouterr().out.encode())
    assert csv["flat"].to_list() == default["flat"].to_list()
    assert csv["name"].to_list() == default["name"].to_list()


def test_every_consumer_gets_the_same_flat_and_cum(corpus: Path) -> None:
    p = profilelab.load(corpus / SAMPLE_CPU)
    top = p.top(sample_index="cpu").select("name", "flat", "cum").sort("name")
    ids = p.profiles.filter(pl.col("sample_type") == "cpu")["profile_id"]
    core = per_function(p, ids).sort("key")
    assert core["key"].to_list() == top["name"].to_list()
    assert core["flat"].to_list() == top["flat"].to_list()
    assert core["cum"].to_list() == top["cum"].to_list()
    analysis = key_totals(p, "function", ids).sort("key")
    assert analysis["cum"].to_list() == top["cum"].to_list()
    spans = function_values(p, ids.to_list()).sort("function")
    assert spans["total"].to_list() == top["cum"].to_list()
    flame = views.Selection(p, "cpu").top("functions").sort("name")
    assert flame["total"].to_list() == top["cum"].to_list()
    assert flame["self"].to_list() == top["flat"].to_list()


def test_top_total_equals_flame_root_and_sandwich_equals_cum(corpus: Path) -> None:
    p = profilelab.load(corpus / SAMPLE_CPU)
    sel = views.Selection(p, "cpu")
    top = p.top(sample_index="cpu")
    assert int(sel.flame().total[0]) == int(top["flat"].sum())
    name, cum = top.sort("cum", descending=True).row(1, named=True)["name"], None
    cum = int(top.filter(pl.col("name") == name)["cum"][0])
    sandwich = sel.sandwich(name)
    assert int(sandwich.callers.total[0]) == cum == int(sandwich.callees.total[0])


def test_per_label_and_per_profile_totals(corpus: Path) -> None:
    p = profilelab.load(corpus / SAMPLE_CPU)
    assert int(per_profile(p)["total"].sum()) == int(p.samples["value"].sum())
    key = str(p.labels["key"][0]) if p.labels.height else "none"
    assert int(per_label(p, key)["total"].sum()) == int(p.samples["value"].sum())


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_selections_agree_across_api_cli_and_views(
    corpus: Path, data: st.DataObject, capsys
) -> None:
    path = corpus / data.draw(st.sampled_from([SAMPLE_CPU, FIB]))
    p = profilelab.load(path)
    names = frame_function_names(p.frames).unique().sort().to_list()
    pick = data.draw(st.sampled_from(names))
    exact = "^" + re.escape(pick) + "$"
    stype = data.draw(st.sampled_from(p.profiles["sample_type"].unique().sort().to_list()))
    gran = data.draw(st.sampled_from(["function", "files", "lines"]))
    extra = data.draw(
        st.sampled_from([[], ["--focus", exact], ["--ignore", exact], ["--merge-function", exact]])
    )
    argv = ["top", str(path), "--format", "csv", "--sample-index", stype]
    argv += ["--granularity", gran, *extra]
    assert main(argv) == 0
    cli = pl.read_csv(capsys.readouterr().out.encode(), infer_schema_length=None)
    kw: dict[str, object] = {"sample_index": stype, "granularity": gran}
    if extra and extra[0] == "--merge-function":
        kw["transforms"] = [("merge_function", exact)]
    elif extra:
        kw[extra[0].lstrip("-")] = exact
    api = p.top(**kw)
    assert cli["flat"].to_list() == api["flat"].to_list()
    assert cli["cum"].to_list() == api["cum"].to_list()
    if gran == "function" or "transforms" in kw:
        sel = views.Selection(p, selection=core.Selection(**kw))  # type: ignore[arg-type]
        assert sel.total == int(api["flat"].sum())


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_sandwich_total_equals_function_cum(corpus: Path, data: st.DataObject) -> None:
    p = profilelab.load(corpus / data.draw(st.sampled_from([SAMPLE_CPU, FIB])))
    stype = data.draw(st.sampled_from(sorted(set(p.profiles["sample_type"]))))
    top = p.top(sample_index=stype).filter(pl.col("cum") != 0)
    name = data.draw(st.sampled_from(top["name"].to_list()))
    cum = int(top.filter(pl.col("name") == name)["cum"][0])
    sandwich = views.Selection(p, stype).sandwich(name, width_px=10**9)
    assert int(sandwich.callers.total[0]) == cum == int(sandwich.callees.total[0])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([-(2**62), -5, 0, 7, 2**62]),  # stack ids (hashes: any int64)
            st.integers(-3, 40),  # node keys, repeated within a stack (recursion)
            st.integers(-4, 9),  # the stack's value
        ),
        max_size=40,
    ),
    as_text=st.booleans(),
)
def test_flat_cum_counts_each_node_once_per_stack(
    rows: list[tuple[int, int, int]], as_text: bool
) -> None:
    """flat_cum against a per-stack reference: integer keys take the packed-pair path,
    text keys the two-column one; both count a recurring node once per stack."""
    from profilelab.core.aggregate import flat_cum

    value_of = {s: v for s, _, v in rows}  # one value per stack: its last draw
    frames = pl.DataFrame(
        {
            "stack_id": [s for s, _, _ in rows],
            "key": [str(k) if as_text else k for _, k, _ in rows],
            "leaf": [i == 0 or rows[i - 1][0] != s for i, (s, _, _) in enumerate(rows)],
        },
        schema={"stack_id": pl.Int64, "key": pl.Utf8 if as_text else pl.Int64, "leaf": pl.Boolean},
    )
    values = pl.DataFrame(
        {"stack_id": list(value_of), "value": list(value_of.values())},
        schema={"stack_id": pl.Int64, "value": pl.Int64},
    )
    cum: dict[object, int] = {}
    flat: dict[object, int] = {}
    for s, v in value_of.items():
        for k in {
            key for key, stack in zip(frames["key"], frames["stack_id"], strict=True) if stack == s
        }:
            cum[k] = cum.get(k, 0) + v
    for stack, key, leaf in frames.iter_rows():
        if leaf:
            flat[key] = flat.get(key, 0) + value_of[stack]
    want = {
        k: (flat.get(k, 0), cum.get(k, 0))
        for k in set(cum) | set(flat)
        if flat.get(k, 0) or cum.get(k, 0)
    }
    got = flat_cum(frames, values)
    assert {k: (f, c) for k, f, c in got.iter_rows()} == want


@settings(max_examples=80, deadline=None)
@given(
    frames=st.lists(
        st.tuples(
            st.sampled_from([1, 2, 3, 4]),  # stack
            st.sampled_from(["a", "b", "c", None]),  # key, null included, repeated (recursion)
            st.booleans(),  # leaf (a stack may have several)
        ),
        max_size=25,
    ),
    values=st.lists(
        st.tuples(
            st.sampled_from([1, 2, 3, 5, None]),  # stack (5: no frames; null: counts nowhere)
            st.sampled_from([10, 20, None]),  # group
            st.integers(-5, 9),  # w
            st.integers(-3, 3),  # dw
        ),
        max_size=25,
    ),
)
def test_flat_cum_by_groups_against_a_reference(
    frames: list[tuple[int, str | None, bool]],
    values: list[tuple[int | None, int | None, int, int]],
) -> None:
    """Groups, several value columns, several value rows of one (group, stack), null keys
    and null groups: the sums a plain loop gives."""
    from profilelab.core.aggregate import flat_cum

    f = pl.DataFrame(
        frames, schema={"stack_id": pl.Int64, "key": pl.Utf8, "leaf": pl.Boolean}, orient="row"
    )
    v = pl.DataFrame(
        values,
        schema={"stack_id": pl.Int64, "g": pl.Int64, "w": pl.Int64, "dw": pl.Int64},
        orient="row",
    )
    want: dict[tuple[object, object], list[int]] = {}
    for stack, group, w, dw in values:
        if stack is None:
            continue
        keys = [k for s, k, _ in frames if s == stack]
        leaves = [k for s, k, leaf in frames if s == stack and leaf]
        for k in set(keys):
            sums = want.setdefault((group, k), [0, 0, 0, 0])
            sums[2] += w
            sums[3] += dw
        for k in leaves:
            sums = want.setdefault((group, k), [0, 0, 0, 0])
            sums[0] += w
            sums[1] += dw
    want = {gk: s for gk, s in want.items() if any(s)}
    got = flat_cum(f, v, by=["g"], value_cols=("w", "dw"))
    assert got.columns == ["g", "key", "flat_w", "flat_dw", "cum_w", "cum_dw"]
    assert got.schema["g"] == pl.Int64 and got.schema["key"] == pl.Utf8
    assert {(g, k): [a, b, c, d] for g, k, a, b, c, d in got.iter_rows()} == want


INT64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=150, deadline=None)
@given(
    frames=st.lists(
        st.tuples(
            st.integers(0, 6),  # stack
            st.sampled_from(["a", "b", "c", "d", None]),  # key (recursion: repeated)
            st.one_of(st.booleans(), st.none()),  # leaf, several or none per stack
        ),
        max_size=30,
    ),
    values=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 8), st.none()),  # stack (7, 8: no frames)
            st.sampled_from([3, 1, 2, None]),  # group
            st.sampled_from(["x", "y"]),  # second group column
            st.one_of(st.integers(-5, 9), INT64, st.none()),  # w: sums wrap at 2^64
            st.integers(-1000, 1000),  # dw (Int32, summed as Int32)
        ),
        max_size=30,
    ),
    by=st.sampled_from([[], ["g"], ["g", "h"]]),
)
# every key touched by the group (the kernel's list of touched keys full), twice
@example(frames=[(0, "a", True)], values=[(0, 3, "x", 1, 0), (0, 3, "x", None, 0)], by=[])
# a group whose stack has no frames: no cell at all
@example(frames=[(0, "a", None)], values=[(1, 3, "x", None, -205)], by=["g"])
def test_the_compiled_sums_equal_the_sparse_products(
    frames: list[tuple[int, str | None, bool | None]],
    values: list[tuple[int | None, int | None, str, int | None, int]],
    by: list[str],
) -> None:
    """flat_cum by the compiled kernel and by SciPy's sparse products (its fallback): the
    same rows in the same order, dtypes included."""
    from profilelab.core import aggregate

    f = pl.DataFrame(
        frames, schema={"stack_id": pl.Int64, "key": pl.Utf8, "leaf": pl.Boolean}, orient="row"
    )
    v = pl.DataFrame(
        values,
        schema={"stack_id": pl.Int64, "g": pl.Int64, "h": pl.Utf8, "w": pl.Int64, "dw": pl.Int32},
        orient="row",
    )
    assert aggregate._lookup is not None
    fast = aggregate.flat_cum(f, v, by=by, value_cols=("w", "dw"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aggregate, "_lookup", None)
        reference = aggregate.flat_cum(f, v, by=by, value_cols=("w", "dw"))
    assert fast.schema == reference.schema
    assert fast.to_dicts() == reference.to_dicts()


def test_float_values_are_summed_by_the_sparse_products() -> None:
    from profilelab.core.aggregate import flat_cum

    f = pl.DataFrame({"stack_id": [1, 1, 2], "key": ["a", "b", "a"], "leaf": [True, False, True]})
    v = pl.DataFrame({"stack_id": [1, 2, 2], "value": [0.5, 0.25, 1.0]})
    got = flat_cum(f, v).sort("key")
    assert got.to_dicts() == [
        {"key": "a", "flat_value": 1.75, "cum_value": 1.75},
        {"key": "b", "flat_value": 0.0, "cum_value": 0.5},
    ]


def test_the_group_sums_kernel_refuses_bad_buffers() -> None:
    from profilelab.core import aggregate

    k = aggregate._lookup
    assert k is not None
    one, two = np.zeros(1, dtype=np.int64), np.array([0, 1], dtype=np.int64)
    leaf = b"\x01"
    with pytest.raises(ValueError, match="a key is outside"):
        k.group_flat_cum(two, one + 1, leaf, two, one, one, 1, 1)
    with pytest.raises(ValueError, match="a stack is outside"):
        k.group_flat_cum(two, one, leaf, two, one + 1, one, 1, 1)
    with pytest.raises(ValueError, match="offsets must not decrease"):
        rows = np.zeros(2, np.int64)
        k.group_flat_cum(two, one, leaf, np.array([0, 3, 2]), rows, rows, 1, 1)
    with pytest.raises(ValueError, match="values: expected 16 bytes"):
        k.group_flat_cum(two, one, leaf, two, one, one, 2, 1)
    with pytest.raises(ValueError, match="leaf: expected 1 bytes"):
        k.group_flat_cum(two, one, b"", two, one, one, 1, 1)
    cells, sums = k.group_flat_cum(two, one, leaf, two, one, one, 1, 1)  # a zero value: no cell
    assert cells == sums == b""
