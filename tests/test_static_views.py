"""Views that survive without a kernel: every widget's output, and every plotly figure
profilelab returns, carries a static image of what it shows (``image/svg+xml`` and/or
``text/html``, no scripts); an executed notebook exported with nbconvert shows them in a
browser that has no kernel."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.timeline_support import STEP, T0, timed_profile

pytest.importorskip("anywidget")
pytest.importorskip("plotly")
SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<img src=x onerror=alert(1)>"


def _bundle(obj: Any) -> dict[str, Any]:
    data = obj._repr_mimebundle_()
    return dict(data[0] if isinstance(data, tuple) else data)


def test_timeline_output_carries_its_lanes_and_brush() -> None:
    from profilelab.widgets import Timeline

    p = timed_profile()
    timeline = Timeline(p)
    bundle = _bundle(timeline)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    root = ET.fromstring(bundle["image/svg+xml"])
    names = [t.text for t in root.iter(f"{SVG}text")]
    assert [n for n in names if n in timeline.density.lanes] == timeline.density.lanes  # type: ignore[union-attr]
    paths = list(root.iter(f"{SVG}path"))
    # one path per lane, a bar per non-empty bin
    assert len(paths) == len(timeline.density.lanes)  # type: ignore[union-attr]
    assert [p.get("d", "").count("z") for p in paths] == [
        int(np.count_nonzero(row))
        for row in timeline.density.values  # type: ignore[union-attr]
    ]
    assert 'stroke="rgba(9,105,218,0.9)"' not in bundle["image/svg+xml"]  # no brush yet
    timeline.range_ns = [T0 + 8 * STEP, T0 + 16 * STEP]  # the snapshot shows the brush
    brushed = _bundle(timeline)
    assert 'stroke="rgba(9,105,218,0.9)"' in brushed["image/svg+xml"]
    assert "time range" in brushed["text/html"] and "<script" not in brushed["text/html"]


def test_timeline_output_escapes_lane_names_and_says_when_there_are_no_times() -> None:
    from profilelab.widgets import Timeline
    from tests._synth import build, raw_from_stacks

    raw = raw_from_stacks([["main"], ["x"]], [1, 2], sample_labels=[{"thread.name": EVIL}] * 2)
    raw.sample_time_ns = np.array([10, 20], dtype=np.int64)
    raw.sample_time_valid = np.ones(2, dtype=bool)
    svg = _bundle(Timeline(build([raw])))["image/svg+xml"]
    assert EVIL not in svg and "&lt;img src=x" in svg
    ET.fromstring(svg)
    untimed = _bundle(Timeline(timed_profile(timed=False)))
    assert "no timestamps" in untimed["text/html"] and "image/svg+xml" not in untimed


def _versions() -> Any:
    """Ten one-minute profiles, v1 then v2, where one function doubles."""
    from tests._synth import build, raw_from_stacks

    raws = [
        raw_from_stacks(
            [("main", EVIL), ("main", "json.Marshal")],
            [100 + 5 * i if i < 5 else 300 + 5 * i, 200],
            time_ns=1_700_000_000 * 10**9 + i * 60 * 10**9,
            labels={"version": "v1" if i < 5 else "v2"},
            source_id=i + 1,
        )
        for i in range(10)
    ]
    return build(raws)


def test_plotly_figures_carry_a_static_svg() -> None:
    from profilelab import analysis
    from profilelab.render.trends import compare_figure, trend_figure

    p = _versions()
    result = analysis.compare(p, {"version": "v1"}, {"version": "v2"}, n_boot=50)
    bars = _bundle(compare_figure(result))
    assert "application/vnd.plotly.v1+json" in bars or "text/html" in bars
    root = ET.fromstring(bars["image/svg+xml"])
    tips = [t.text or "" for t in root.iter(f"{SVG}title")]
    assert len(tips) == min(result.height, 20)
    # the bar of the doubled function: its tooltip names it (escaped once) with its change
    row = result.filter(pl.col("key") == EVIL)
    assert f"{EVIL}: {row['delta_share'][0] * 100:.4g}" in tips
    assert "&lt;img" in bars["text/html"] and EVIL not in bars["text/html"]
    trend = analysis.trend(p, step="1m")
    lines = _bundle(trend_figure(trend))
    polylines = list(ET.fromstring(lines["image/svg+xml"]).iter(f"{SVG}polyline"))
    assert len(polylines) == trend["key"].n_unique()
    assert all(len(pl_.get("points", "").split()) == 10 for pl_ in polylines)


def test_static_wraps_plotly_express_figures() -> None:
    """Figures a notebook makes itself (plotly express: numpy data, datetimes, a series per
    colour) get the same static view through ``static()``."""
    import pandas as pd
    import plotly.express as px

    from profilelab.render.chart_svg import StaticFigure, static

    df = pd.DataFrame(
        {
            "time": pd.to_datetime([0, 1, 2, 0, 1, 2], unit="m"),
            "share": [0.1, 0.2, 0.3, 0.9, 0.8, 0.7],
            "version": ["v1"] * 3 + ["v2"] * 3,
        }
    )
    for make in (px.bar, px.line):  # stacked bars over time are drawn as a line per series
        fig = static(make(df, x="time", y="share", color="version"))
        assert isinstance(fig, StaticFigure)
        root = ET.fromstring(_bundle(fig)["image/svg+xml"])
        lines = {
            g.find(f"{SVG}title").text: g.find(f"{SVG}polyline").get("points", "")  # type: ignore[union-attr]
            for g in root.iter(f"{SVG}g")
        }
        assert sorted(lines) == ["v1", "v2"]
        v1 = [float(pt.split(",")[1]) for pt in lines["v1"].split()]
        assert v1 == sorted(v1, reverse=True)  # rising shares: y goes up the image
        texts = [t.text for t in root.iter(f"{SVG}text")]
        assert "1970-01-01 00:00:00" in texts and "1970-01-01 00:02:00" in texts


def test_span_explorer_output_shows_histogram_list_and_selection(tmp_path: Path) -> None:
    import profilelab
    from profilelab.widgets.spans import SpanExplorer
    from tests._tracefix import T0_NS, WRITERS, make_world, pprof_bytes

    world = make_world()
    last = max(s.end_ns for s in world.spans)
    joined = profilelab.join_spans(
        profilelab.load(pprof_bytes(world.samples, T0_NS, last - T0_NS)),
        profilelab.load_traces(WRITERS["zipkin"](world)),
    )
    ex = SpanExplorer(joined)
    ex.filter(name="GET /order")
    before = _bundle(ex)["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in _bundle(ex)
    assert "30 spans; 0 selected" in before and "profilelab-flame" not in before
    hist = re.search(r"<svg.*?</svg>", before, re.S)
    assert hist and sum(int(c) for c in re.findall(r"<title>[^<]*: (\d+)</title>", hist[0])) == 30
    ex.select(ex.visible().head(3)["span_row"].to_list())
    after = _bundle(ex)["text/html"]
    assert "3 selected" in after and after.count("▶ ") == 3
    assert 'class="profilelab-flame"' in after  # the selection's flame graph


NOTEBOOK = [
    """import sys
sys.path[:0] = [{root!r}]
import numpy as np
import profilelab
from profilelab import analysis
from profilelab.render.trends import compare_figure, trend_figure
from profilelab.widgets import DiffFlameGraph, FlameGraph, Timeline
from profilelab.widgets.spans import SpanExplorer
from profilelab.widgets.trend import Trend
from tests.timeline_support import STEP, T0, timed_profile
from tests.test_static_views import _versions
from tests._tracefix import T0_NS, WRITERS, make_world, pprof_bytes
p = timed_profile()
v = _versions()""",
    "FlameGraph(p)",
    "DiffFlameGraph(timed_profile(repeat=2), p)",
    "t = Timeline(p, flame=FlameGraph(p))\nt.range_ns = [T0 + 8 * STEP, T0 + 24 * STEP]\nt",
    "Timeline(timed_profile(timed=False))",
    "Trend(v, step='1m')",
    "trend_figure(analysis.trend(v, step='1m'))",
    "compare_figure(analysis.compare(v, {{'version': 'v1'}}, {{'version': 'v2'}}, n_boot=50))",
    """w = make_world()
last = max(s.end_ns for s in w.spans)
ex = SpanExplorer(profilelab.join_spans(
    profilelab.load(pprof_bytes(w.samples, T0_NS, last - T0_NS)),
    profilelab.load_traces(WRITERS["zipkin"](w)),
))
ex.filter(name="GET /order")
ex.select(ex.visible().head(3)["span_row"].to_list())
ex""",
]

#: JS: per output cell, what a reader sees: the static SVGs' classes, their drawn size,
#: rectangles, texts and tooltips.
SEEN = """() => [...document.querySelectorAll('.jp-Cell-outputArea, .output_area')].map((o) => {
  const svgs = [...o.querySelectorAll('svg[class^="profilelab-"]')];
  return svgs.map((s) => { const r = s.getBoundingClientRect();
    return {cls: s.getAttribute('class'), w: r.width, h: r.height,
            rects: s.querySelectorAll('rect, path').length,
            lines: s.querySelectorAll('polyline').length,
            texts: [...s.querySelectorAll('text')].map((t) => t.textContent),
            titles: [...s.querySelectorAll('title')].map((t) => t.textContent)}; });
})"""


@pytest.mark.slow
@pytest.mark.browser
def test_executed_notebook_exported_to_html_shows_every_view(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    from tests.flame_browser import chromium
    from tests.notebook_support import ROOT, kernel_env

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c.format(root=str(ROOT))) for c in NOTEBOOK]
    # as saved from JupyterLab, which does not save widget state by default
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", store_widget_state=False
    )
    client.execute(env=kernel_env())
    page_html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert " object at 0x" not in page_html
    out = tmp_path / "views.html"
    out.write_text(page_html)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.route(re.compile(r"^https?://"), lambda route: route.abort())  # offline
        page.goto(out.as_uri())
        seen = page.evaluate(SEEN)
        text = page.inner_text("body")
        page.close()
    cells = seen  # (the first cell only imports: it has no output area)
    kinds = [[s["cls"] for s in c] for c in cells]
    assert kinds == [
        ["profilelab-flame"],
        ["profilelab-flame"],
        ["profilelab-timeline"],
        [],
        ["profilelab-trend"],
        ["profilelab-chart"],
        ["profilelab-chart"],
        ["profilelab-chart", "profilelab-flame"],
    ], kinds
    for c in cells:
        for s in c:
            assert s["w"] > 200 and s["h"] > 20 and s["rects"] + s["lines"] > 2, s  # drawn
    flame, diff, timeline, _, trend, lines, bars, explorer = cells
    assert {t.split(":")[0] for t in flame[0]["titles"]} >= {"main", "serve", "parse", "gc"}
    assert flame[0]["rects"] >= 10 and diff[0]["rects"] >= 3
    assert [t for t in timeline[0]["texts"] if t in {"main", "worker-1", "worker-2", "gc"}] == [
        "main", "worker-1", "worker-2", "gc",
    ]  # fmt: skip
    assert timeline[0]["rects"] >= 4 + 3  # a path per lane, stripes and the brush
    assert "no timestamps" in text
    assert trend[0]["lines"] == 3 and lines[0]["lines"] == 3  # main, json.Marshal, EVIL
    assert any(t.startswith(EVIL) for t in bars[0]["titles"])  # shown as text, escaped
    assert explorer[0]["rects"] >= 30 and explorer[1]["rects"] >= 3


@pytest.mark.slow
@pytest.mark.parametrize("stem", ["04-version-regression", "06-fleet-trends-and-alerts"])
def test_executed_playbook_exports_a_static_view_of_every_widget_and_chart(stem: str) -> None:
    """Every widget or plotly output of an executed playbook carries its static view, and
    the exported HTML shows it (as the docs promise for notebooks viewed without a kernel)."""
    nbconvert = pytest.importorskip("nbconvert")
    from tests.notebook_support import NOTEBOOKS
    from tests.test_notebooks import datasets_available

    if not datasets_available():
        pytest.skip("the datasets are not available")
    import nbclient
    import nbformat

    from tests.notebook_support import kernel_env, with_parameters

    path = NOTEBOOKS / f"{stem}.ipynb"
    nb = with_parameters(nbformat.read(path, as_version=4), {"FORMAT": "pprof"})
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=kernel_env())
    live = ("application/vnd.jupyter.widget-view+json", "application/vnd.plotly.v1+json")
    views = [
        o["data"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if any(k in o.get("data", {}) for k in live)
    ]
    assert len(views) >= 3
    for data in views:
        assert "profilelab-static" in data.get("text/html", ""), sorted(data)
    page, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert page.count('class="profilelab-static"') == len(views)
    assert " object at 0x" not in page
