"""Call-tree transforms: exact effects on small profiles, totals on corpus files, pprof parity."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import utc_timezone
from flame_support import TRANSFORM_STACKS, make_profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import core, views
from profilelab.core import transforms
from profilelab.errors import QueryError
from profilelab.model.names import frame_function_names
from profilelab.ops.options import ReportOptions
from profilelab.render.report import report

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import cases as C

STACKS = TRANSFORM_STACKS
TOTAL = 27


def stacks_of(p: profilelab.Profile) -> dict[str, int]:
    """root;...;leaf -> cpu value of a profile's samples (function names)."""
    frames = p.frames.select("frame_id", "function")
    rows = (
        p.samples.join(p.profiles.filter(pl.col("sample_type") == "cpu"), on="profile_id")
        .join(p.stacks, on="stack_id")
        .select("value", pl.col("frame_ids").list.reverse())
        .with_row_index("i")
        .explode("frame_ids")
        .join(frames, left_on="frame_ids", right_on="frame_id", how="left", maintain_order="left")
        .group_by("i", maintain_order=True)
        .agg(pl.col("value").first(), pl.col("function").drop_nulls().str.join(";"))
    )
    out: dict[str, int] = {}
    for value, path in rows.select("value", "function").iter_rows():
        out[path] = out.get(path, 0) + value
    return out


def run(*specs: tuple[str, str | None]) -> dict[str, int]:
    return stacks_of(
        transforms.apply(make_profile(STACKS), core.Selection(transforms=specs).transforms)
    )


def test_merge_function_gives_its_time_to_the_caller() -> None:
    got = run(("merge_function", "^b$"))
    assert got["main;a;c"] == 10 and got["main;a"] == 5


def test_merge_call_node_only_at_that_path() -> None:
    got = run(("merge_call_node", "main;x;a"))
    assert got["main;x;x;a;y"] == 7 and got["main;a;b;c"] == 10


def test_focus_function_makes_it_the_root_and_drops_the_rest() -> None:
    got = run(("focus_function", "^a$"))
    assert got == {"a;b;c": 10, "a;b": 5, "a;x;a;y": 7}


def test_focus_subtree_keeps_the_path_below_its_last_frame() -> None:
    assert run(("focus_subtree", "main;a")) == {"a;b;c": 10, "a;b": 5}


def test_drop_function_removes_exactly_those_samples() -> None:
    got = run(("drop_function", "^x$"))
    assert sum(got.values()) == TOTAL - 7 and "main;x;a;x;a;y" not in got


def test_collapse_recursion_direct_and_indirect() -> None:
    assert run(("collapse_recursion", "^(a|r)$"))["main;x;a;y"] == 7
    assert run(("collapse_recursion", "^r$"))["main;r"] == 2
    direct = run(("collapse_direct_recursion", "^r$"))
    assert direct["main;r"] == 2 and direct["main;x;a;x;a;y"] == 7


def test_collapse_package_into_one_frame() -> None:
    got = run(("collapse_package", "^net/http"))
    assert got["main;net/http;io.copy"] == 3


def test_tagroot_and_tagleaf_add_label_frames() -> None:
    root = run(("tagroot", "region"))
    assert root["eu;main;a;b;c"] == 10 and root["us;main;a;b"] == 5
    assert root[";main;net/http.serve;net/http.read;io.copy"] == 3  # no label: empty name
    leaf = run(("tagleaf", "region"))
    assert leaf["main;a;b;c;eu"] == 10


def test_left_heavy_orders_siblings_by_weight() -> None:
    p = make_profile(STACKS)
    plain = views.Selection(p, "cpu").flame(width_px=10**6)
    heavy = views.Selection(
        p, selection=core.Selection(sample_index="cpu", transforms=[("left_heavy", None)])
    ).flame(width_px=10**6)
    assert sorted(plain.names()) == sorted(heavy.names())
    kids = [heavy.names()[i] for i in range(len(heavy)) if heavy.depth[i] == 2]
    assert kids[0] == "a"  # 15 before x (7), net/http.serve (3), r (2)
    assert int(heavy.total[0]) == int(plain.total[0]) == TOTAL


def test_transforms_reach_every_consumer() -> None:
    p = make_profile(STACKS)
    spec = [("merge_function", "^a$")]
    top = p.top(sample_index="cpu", transforms=spec)
    assert "a" not in top["name"].to_list() and int(top["flat"].sum()) == TOTAL
    sel = views.Selection(p, selection=core.Selection(sample_index="cpu", transforms=spec))
    assert "a" not in sel.top()["name"].to_list() and sel.total == TOTAL


def test_a_view_applies_and_undoes_transforms() -> None:
    sel = views.Selection(make_profile(STACKS), "cpu")
    merged = sel.with_transforms([["merge_function", "^a$"], ["left_heavy", None]])
    assert "a" not in merged.top()["name"].to_list() and merged.left_heavy
    undone = merged.with_transforms([])
    assert undone.top().equals(sel.top()) and not undone.left_heavy


def test_bad_transform_arguments_are_one_error() -> None:
    with pytest.raises(QueryError, match="call path ';' is empty"):
        transforms.apply(make_profile(STACKS), (("focus_subtree", ";"),))
    with pytest.raises(QueryError, match="parsing focus_function regexp"):
        core.Selection(transforms=[["focus_function", "("]])


LABELLED = "parca-dev-parca/pkg/query/testdata/profile-with-labels.pb.gz"
CORPUS_FILES = [
    "google-pprof/internal/report/testdata/sample.cpu",
    "parca-dev-parca/pkg/query/testdata/fib.pb.gz",
    "google-pprof/internal/driver/testdata/cppbench.cpu",
    LABELLED,
]
KEEPING = [
    n for n in core.TRANSFORMS if n not in ("focus_function", "focus_subtree", "drop_function")
]


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_transforms_conserve_totals_on_corpus_files(corpus: Path, data: st.DataObject) -> None:
    path = corpus / data.draw(st.sampled_from(CORPUS_FILES))
    if not path.exists():
        pytest.skip(f"{path} is missing")
    p = profilelab.load(path)
    names = frame_function_names(p.frames).unique().sort().to_list()
    name = data.draw(st.sampled_from(names))
    regex = "^" + "".join("\\" + c if not c.isalnum() else c for c in name) + "$"
    kind = data.draw(st.sampled_from(sorted(core.TRANSFORMS)))
    args = {"regex": regex, "path": name, "keys": "key1,thread_name", None: None}
    arg = args[core.TRANSFORMS[kind]]
    out = transforms.apply(p, core.Selection(transforms=[(kind, arg)]).transforms)
    out.check()
    before, after = int(p.samples["value"].sum()), int(out.samples["value"].sum())
    if kind in KEEPING:
        assert after == before and out.samples.height == p.samples.height
    else:
        kept = out.samples.select("profile_id", "sample_index")
        dropped = p.samples.join(kept, on=["profile_id", "sample_index"], how="anti")
        assert after == before - int(dropped["value"].sum())
        if kind == "drop_function":
            assert bool(
                transforms.apply(p, (("focus_function", regex),)).samples.height == dropped.height
            )


GO_CASES = [
    ("google-pprof/internal/driver/testdata/cppbench.cpu", ["-tagroot=key1"]),
    ("parca-dev-parca/pkg/query/testdata/profile-with-labels.pb.gz", ["-tagleaf=thread_name"]),
    (
        "parca-dev-parca/pkg/query/testdata/profile-with-labels.pb.gz",
        ["-tagroot=thread_name,thread_id"],
    ),
    ("google-pprof/internal/report/testdata/sample.cpu", ["-hide=runtime"]),
    ("google-pprof/internal/report/testdata/sample.cpu", ["-show=main"]),
]


@pytest.mark.golang
@pytest.mark.parametrize("file,flags", GO_CASES, ids=[f"{Path(f).name}{g}" for f, g in GO_CASES])
def test_tagroot_tagleaf_hide_show_equal_go_tool_pprof(
    corpus: Path, file: str, flags: list[str]
) -> None:
    if shutil.which("go") is None:
        pytest.skip("go is not installed")
    path = corpus / file
    if not path.exists():
        pytest.skip(f"{file} is missing")
    base = ["-nodecount=1000000", "-nodefraction=0", "-edgefraction=0"]
    case = C.Case("core", file, "top", [*base, *flags])
    want = C.run_pprof(corpus, case)
    kw: dict[str, object] = {"nodecount": 1000000, "nodefraction": 0.0, "edgefraction": 0.0}
    specs = []
    for flag in flags:
        key, _, value = flag.lstrip("-").partition("=")
        if key in ("tagroot", "tagleaf"):
            specs.append((key, value))
        else:
            kw[key] = value
    with utc_timezone():
        got = report(profilelab.load(path), "top", ReportOptions(transforms=specs, **kw))  # type: ignore[arg-type]
    assert got == want
