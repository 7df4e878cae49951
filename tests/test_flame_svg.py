"""Static SVG flame graphs: what notebooks show without a kernel (GitHub, nbviewer, nbconvert)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest

from profilelab.render.flame_html import STATIC
from profilelab.render.flame_svg import drawn_nodes, flame_svg, package_colour
from profilelab.views import diff_tree, flame_tree
from tests.flame_support import make_profile
from tests.test_views_diff import BASE, NEW
from tests.test_views_flame import SMALL

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = ['<script>alert("x")</script>', "a&b<c", 'it\'s "quoted"']


def _rects(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}rect"))


def test_one_rect_per_drawn_node_with_widths_proportional_to_values() -> None:
    tree = flame_tree(make_profile(SMALL), width_px=800)
    svg = flame_svg(tree, width_px=800)
    rects = _rects(svg)
    nodes = drawn_nodes(tree, 800)
    assert len(rects) == len(nodes) == len(tree)  # SMALL has no node below half a pixel
    total = float(tree.total[0])
    for rect, node in zip(rects, nodes.tolist(), strict=True):
        assert float(rect.get("width", "0")) == pytest.approx(
            800 * tree.total[node] / total, abs=0.01
        )
        assert float(rect.get("x", "0")) == pytest.approx(800 * tree.start[node] / total, abs=0.01)
        assert float(rect.get("y", "0")) == 17 * int(tree.depth[node])
    titles = [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}title")]
    assert [t.split(":")[0] for t in titles] == tree.names()


def test_narrow_nodes_are_not_drawn() -> None:
    tree = flame_tree(make_profile(SMALL), width_px=800)
    narrow = drawn_nodes(tree, 4)
    assert 0 < len(narrow) < len(tree)
    assert len(_rects(flame_svg(tree, width_px=4))) == len(narrow)


def test_hostile_names_are_escaped() -> None:
    stacks = [(["main", name], 10 + i) for i, name in enumerate(HOSTILE)]
    tree = flame_tree(make_profile(stacks), width_px=600)
    svg = flame_svg(tree, width_px=600, title='<b>"t"</b>')
    assert "<script" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)  # well-formed XML: every name was escaped
    titles = " ".join(t.text or "" for t in root.iter(f"{SVG}title"))
    for name in HOSTILE:
        assert name in titles


def test_palette_matches_flame_js() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    packages = ["main", "runtime", "net/http", "", "ünï€😀"]
    script = (
        f"import {{packageColour}} from {json.dumps(str(STATIC / 'flame.js'))};"
        f"console.log(JSON.stringify({json.dumps(packages)}.map((p) => packageColour(p))));"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [package_colour(p) for p in packages]


def test_diff_svg_colours_growth_red_and_shrink_blue() -> None:
    tree = diff_tree(make_profile(BASE), make_profile(NEW), width_px=600, width_by="max")
    rects = _rects(flame_svg(tree, width_px=600))
    assert len(rects) == len(drawn_nodes(tree, 600))
    fills = {r.get("fill", "") for r in rects}
    assert any(f.startswith("hsl(0,80%") for f in fills)
    assert any(f.startswith("hsl(215,80%") for f in fills)


def test_widget_bundles_carry_a_static_view() -> None:
    pytest.importorskip("anywidget")
    from profilelab.widgets import DiffFlameGraph, FlameGraph

    w = FlameGraph(make_profile(SMALL), width_px=700)
    data = w._repr_mimebundle_()
    bundle = data[0] if isinstance(data, tuple) else data
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert len(_rects(bundle["image/svg+xml"])) == len(drawn_nodes(w._current, 700))
    assert bundle["text/html"].count("<rect") == len(_rects(bundle["image/svg+xml"]))
    w.root = ["main"]  # the snapshot follows the current view
    data = w._repr_mimebundle_()
    zoomed = (data[0] if isinstance(data, tuple) else data)["image/svg+xml"]
    assert "<title>main:" in zoomed and "<title>all:" not in zoomed
    w.root = []
    w.sandwich_function = "main"
    w.view = "sandwich"
    data = w._repr_mimebundle_()
    assert (
        "sandwich view needs a kernel"
        in (data[0] if isinstance(data, tuple) else data)["text/html"]
    )
    d = DiffFlameGraph(make_profile(BASE), make_profile(NEW))
    data = d._repr_mimebundle_()
    assert "hsl(0,80%" in (data[0] if isinstance(data, tuple) else data)["image/svg+xml"]


NOTEBOOK = """
import sys
sys.path.insert(0, {tests!r})
from flame_support import make_profile
from profilelab.widgets import FlameGraph
p = make_profile([(["main", "work", "<script>x</script>"], 30), (["main", "idle"], 10)])
FlameGraph(p)
"""


@pytest.mark.slow
def test_exported_notebook_shows_a_flame_graph_without_a_kernel(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    from tests.notebook_support import kernel_env

    tests = str(Path(__file__).resolve().parent)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(NOTEBOOK.format(tests=tests)),
        nbformat.v4.new_code_cell("p"),
    ]
    # as a notebook saved from JupyterLab (which does not save widget state by default)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", store_widget_state=False
    )
    client.execute(env=kernel_env())
    page, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    (tmp_path / "out.html").write_text(page)
    # nbconvert re-serializes the HTML (attributes sorted, </rect> closed): count elements
    svgs = re.findall(r'<svg[^>]*class="profilelab-flame".*?</svg>', page, re.S)
    assert svgs, "no static flame graph in the exported HTML"
    assert svgs[0].count("<rect") == 5  # all, main, work, idle, the hostile frame
    assert "&lt;script&gt;x&lt;/script&gt;" in svgs[0] and "<script>x</script>" not in page
    assert "FlameGraph object at" not in page
    # the Profile display: a summary table and a flame graph
    assert 'class="profilelab-summary"' in page
    assert re.search(r"<iframe[^>]*srcdoc=", page)


def test_trend_widget_carries_a_static_line_chart() -> None:
    pytest.importorskip("ipywidgets")
    pytest.importorskip("plotly")
    from profilelab.widgets.trend import Trend
    from tests.test_trend_widget import _profiles

    w = Trend(_profiles(), step="1m")
    data = w._repr_mimebundle_()
    bundle = data[0] if isinstance(data, tuple) else data
    assert "application/vnd.jupyter.widget-view+json" in bundle
    svg = bundle["image/svg+xml"]
    assert "<script" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    root = ET.fromstring(svg)
    lines = list(root.iter(f"{SVG}polyline"))
    keys = w.data["key"].unique(maintain_order=True).to_list()
    assert len(lines) == len(keys)
    hot = w.data.filter(pl.col("key") == "<script>alert(1)</script>")["share"].to_list()
    line = lines[keys.index("<script>alert(1)</script>")]
    ys = [float(p.split(",")[1]) for p in line.get("points", "").split()]
    top, plot_h, ymax = 10, 260, float(w.data["share"].max())  # type: ignore[arg-type]
    assert ys == pytest.approx([top + plot_h * (1 - s / ymax) for s in hot], abs=0.06)
    assert bundle["text/html"].count("<polyline") == len(keys)
