"""The FlameGraph widget's source panel and call-graph payloads (no browser): per-line costs
are Profile.list's, a missing file names every place looked in, the graph is
Profile.graph's laid out by dot, hostile names stay data, and a missing dot is one line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

import profilelab
from profilelab.ops.sources import SourceReader
from profilelab.render.graph_layout import layout_svg
from profilelab.widgets import FlameGraph
from profilelab.widgets.flame_panels import default_source_path, exact
from tests.flame_support import Sample, make_profile
from tests.test_views_flame import SMALL

ROOT = Path(__file__).resolve().parent.parent
DATASET_CPU = ROOT / "datasets/order-service/v2.3.6/order-euw1-0/cpu-00.pb.gz"
EVIL = '<img src=x onerror="window.__pwned=1">'
EVIL2 = 'a&b</title><script>window.__pwned2=1</script>"q'
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is missing")


def source_tree(root: Path) -> Path:
    """main/<fn>.go files for SMALL's functions, 60 numbered lines each."""
    for name in ("main", "serve", "parse", "alloc", "write", "gc"):
        path = root / "main" / f"{name}.go"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"// {name} line {i}\n" for i in range(1, 61)))
    return root


def clicked(w: FlameGraph, path: list[str]) -> None:
    """What a click on the frame at ``path`` sets."""
    w.selected = path
    w.focus = path[-1]


def as_table(routine: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(
        routine["lines"],
        schema={"line": pl.Int64, "flat": pl.Int64, "cum": pl.Int64, "source": pl.Utf8},
        orient="row",
    )


def test_source_panel_lines_equal_profile_list(tmp_path: Path) -> None:
    profile = make_profile(SMALL)
    src = str(source_tree(tmp_path))
    w = FlameGraph(profile, source_path=src)
    assert w._source == {}  # nothing clicked yet
    clicked(w, ["main", "serve", "parse"])
    payload = w._source
    (routine,) = payload["routines"]
    want = profile.list("^parse$", source_path=src)
    assert as_table(routine).equals(want.select("line", "flat", "cum", "source"))
    assert routine["found"] == str(tmp_path / "main" / "parse.go") and routine["error"] is None
    # parse's sampled line: flat 30 (the only stack ending in it), cum 30 + 10 + 4 (the
    # recursive stack once)
    assert routine["hottest"] == 31 and routine["flat"] == 30 and routine["cum"] == 44
    assert payload["unit"] == "nanoseconds" and payload["total"] == 84
    w.show_source = False
    assert w._source == {}


def test_source_panel_follows_the_selection(tmp_path: Path) -> None:
    profile = make_profile(SMALL)
    src = str(source_tree(tmp_path))
    w = FlameGraph(profile, source_path=src)
    clicked(w, ["main", "serve", "parse", "alloc"])
    assert w._source["routines"][0]["cum"] == 14
    w.ignore_regex = "^serve$"  # no stack left through alloc
    assert "no matches" in w._source["message"]
    w.ignore_regex = ""
    w.focus_regex = "^parse$"
    assert w._source["routines"][0]["cum"] == 14


def test_missing_source_file_names_every_place_looked_in(tmp_path: Path) -> None:
    profile = make_profile(SMALL)
    a, b = tmp_path / "a" / "b", tmp_path / "c"
    a.mkdir(parents=True)
    b.mkdir()
    w = FlameGraph(profile, source_path=f"{a}{os.pathsep}{b}")
    clicked(w, ["main", "serve"])
    (routine,) = w._source["routines"]
    assert routine["file"] == "main/serve.go" and routine["found"] is None
    assert routine["error"] == f"could not find file main/serve.go on path {a}:{b}"
    looked = routine["looked_in"]
    assert looked[:3] == [
        str(a / "main/serve.go"),
        str(a.parent / "main/serve.go"),
        str(tmp_path / "main/serve.go"),
    ]
    assert str(b / "main/serve.go") in looked and looked[-1] == "/main/serve.go"
    assert looked == SourceReader(f"{a}:{b}").looked_in("main/serve.go")
    # the sampled line is still listed, without text
    assert routine["lines"] == [[21, 0, 69, None]]


def test_shipped_dataset_lists_its_generator_source_out_of_the_box() -> None:
    if not DATASET_CPU.exists():
        pytest.skip("the shipped datasets are not in this checkout")
    assert str(ROOT / "datasets" / "generators") in default_source_path().split(os.pathsep)
    profile = profilelab.load(DATASET_CPU)
    w = FlameGraph(profile)
    clicked(w, ["main.riskScore"])
    (routine,) = w._source["routines"]
    assert routine["error"] is None and routine["found"].endswith("order-service/pricing.go")
    want = profile.list(r"^main\.riskScore$", source_path=default_source_path())
    assert as_table(routine).equals(want.select("line", "flat", "cum", "source"))
    assert routine["hottest"] == want.sort("cum", "flat", descending=True)["line"][0]


def test_exact_regex_escapes_names() -> None:
    """Matched by the core (Rust regex, where ``\\<`` would be a word boundary) and by re."""
    import re

    from profilelab.core.selection import label_matchers

    names = ["main.(*Tracer).Do", EVIL, EVIL2, "a|b", "x[1]+y^$", "naïve::日本語", "a-b ~#&"]
    for name in names:
        assert re.fullmatch(exact(name), name) and not re.fullmatch(exact(name), name + "x")
        hits = pl.Series([name, name + "x"]).str.contains(exact(name)).to_list()
        assert hits == [True, False], name
    labelled = [("a", 5, "a<b"), ("b", 3, "c d"), ("c", 2, "x")]
    profile = make_profile([Sample(["main", f], [1, v], {"k": k}) for f, v, k in labelled])
    assert profile.top(labels={"k": ["a<b", "c d"]})["flat"].sum() == 8
    (m,) = label_matchers({"k": ["a<b", "c d"]})  # several values: one escaped alternation
    assert pl.Series(["a<b", "c d", "ab"]).str.contains(f"^(?:{m.value})$").to_list() == [
        True,
        True,
        False,
    ]


@needs_dot
def test_graph_payload_is_profile_graph_laid_out() -> None:
    profile = make_profile(SMALL)
    w = FlameGraph(profile)
    assert w._graph == {}  # computed when the tab is shown
    w.tab = "graph"
    g = w._graph
    nodes, edges = profile.graph(names="full")
    drawn = sorted((i["name"], i["cum"]) for i in g["items"] if i["kind"] == "node")
    assert drawn == sorted(nodes.select("name", "cum").iter_rows())
    assert g["nodes"] == nodes.height and g["edges"] == edges.height
    assert g["width"] > 0 and g["height"] > 0 and g["unit"] == "nanoseconds"
    for item in (i for i in g["items"] if i["kind"] == "node"):  # centres inside the drawing
        assert 0 < item["at"][0] < g["width"] and 0 < item["at"][1] < g["height"]
    texts = [s["text"] for i in g["items"] for s in i["shapes"] if s["t"] == "text"]
    assert "parse" in texts
    w.nodecount = 2
    assert w._graph["nodes"] == 2
    json.dumps(w._graph)  # plain data


@needs_dot
def test_graph_node_click_focuses_the_function() -> None:
    profile = make_profile(SMALL)
    w = FlameGraph(profile, tab="graph")
    w.focus_function = "parse"
    assert w.tab == "flame" and w.root == ["parse"] and w.focus == "parse"
    tree = w.tree
    assert tree is not None and tree.root_path == ("parse",)
    cum = profile.top().filter(pl.col("name") == "parse")["cum"][0]
    assert int(tree.total[0]) == cum == 44
    w.tab = "graph"  # the graph of the focused selection: parse and what it calls
    assert {i["name"] for i in w._graph["items"] if i["kind"] == "node"} == {"parse", "alloc"}
    w.focus_function = ""
    assert w.root == [] and int(w.tree.total[0]) == 84  # type: ignore[union-attr]


@needs_dot
def test_hostile_names_stay_data_and_are_escaped_in_the_static_svg() -> None:
    profile = make_profile([(["main", EVIL, EVIL2], 5), (["main", "ok"], 3)])
    w = FlameGraph(profile, tab="graph")
    items = w._graph["items"]
    assert {i["name"] for i in items if i["kind"] == "node"} == {"main", EVIL, EVIL2, "ok"}
    for item in items:
        for s in item["shapes"]:
            if s["t"] == "path":
                assert set(s["d"]) <= set("MLCZ0123456789., -")
            if s["t"] != "text":
                assert s["fill"] == "none" or s["fill"].startswith("#")
    svg = layout_svg(w._graph)
    assert "<img" not in svg and "<script" not in svg and "&lt;img" in svg
    bundle = w._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["image/svg+xml"] == svg and "call graph" in data["text/html"]
    w.tab = "flame"
    data = w._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "flame graph" in data["text/html"] and data["image/svg+xml"] != svg


def test_missing_dot_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    w = FlameGraph(make_profile(SMALL), tab="graph")
    message = w._graph["message"]
    assert "\n" not in message and "'dot'" in message and "graphviz" in message
    assert w.error == ""  # the flame graph itself still works


def test_source_is_prepared_once_per_selection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click (selected and focus set together) lists once; other functions of the same
    selection reuse the prepared lines; a new filter prepares again."""
    from profilelab.ops import pipeline, report_list

    prepares, lists = [], []
    real_prepare, real_list = pipeline.prepare, report_list.source_list
    monkeypatch.setattr(
        pipeline, "prepare", lambda *a, **k: prepares.append(1) or real_prepare(*a, **k)
    )
    monkeypatch.setattr(
        report_list, "source_list", lambda *a, **k: lists.append(1) or real_list(*a, **k)
    )
    w = FlameGraph(make_profile(SMALL), source_path=str(source_tree(tmp_path)))
    for path in (["main", "serve"], ["main", "serve", "parse"]):
        with w.hold_trait_notifications():  # as a widget message applies both
            clicked(w, path)
    assert len(prepares) == 1 and len(lists) == 2
    w.focus_regex = "^parse$"
    assert len(prepares) == 2 and w._source["routines"][0]["cum"] == 44


@needs_dot
def test_focus_function_applies_after_the_transforms() -> None:
    """The call graph's focus comes after the menu's transforms; their notes stay theirs."""
    profile = make_profile(SMALL)
    w = FlameGraph(profile, transforms=[["merge_function", "^alloc$"]])
    w.focus_function = "parse"
    assert w.transforms == [["merge_function", "^alloc$"]] and len(w.transform_notes) == 1
    tree = w.tree
    assert tree is not None and tree.root_path == ("parse",) and int(tree.total[0]) == 44
    assert tree.find(["alloc"]) < 0  # merged into parse
    w.tab = "graph"
    assert {i["name"] for i in w._graph["items"] if i["kind"] == "node"} == {"parse"}
