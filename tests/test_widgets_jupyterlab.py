"""Every widget at notebook width, in a real JupyterLab driven by headless Chromium.

One notebook shows a FlameGraph (long Go names), a sandwich view, a DiffFlameGraph over a
tiny baseline and the SpanExplorer with a selection. At 800 px and at 1400 px of notebook
width the test checks what an analyst would see: every column of every table visible or
reachable by scrolling inside the widget, no control overlapping another, the span
histogram inside its pane, the weak-baseline warning; it saves a screenshot of each widget
under tests/artifacts/ (gitignored). At 1400 px it also zooms and searches, and checks the
readout against shares computed here from the profile's samples table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import profilelab
from tests.flame_browser import NODE_XY, chromium
from tests.flame_support import Sample, pprof_bytes
from tests.lab_driver import lab_page, run_cells, wait_for_kernel
from tests.test_flame_jupyterlab import ROOT, LabServer, jupyter_lab, notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = ROOT / "tests" / "artifacts"
#: the notebook being shown (JupyterLab keeps other open notebooks hidden in the page)
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

HTTP = ["main.main", "net/http.(*conn).serve", "net/http.serverHandler.ServeHTTP"]
HANDLER = "github.com/acme/checkout/internal/handlers.(*Checkout).ServeHTTP"
JSON = ["encoding/json.Marshal", "encoding/json.(*encodeState).marshal"]
STACKS: list[tuple[list[str], int]] = [
    ([*HTTP, HANDLER, *JSON, "encoding/json.(*encodeState).reflectValue"], 420),
    ([*HTTP, HANDLER, *JSON, "runtime.mallocgc"], 180),
    ([*HTTP, HANDLER, "github.com/acme/checkout/internal/db.(*Pool).Query"], 150),
    ([*HTTP, "net/http.(*response).finishRequest", "bufio.(*Writer).Flush"], 90),
    (["runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.scanobject"], 110),
    (["main.main", "encoding/json.Marshal", "runtime.mallocgc"], 50),
]
MS = 1_000_000


def cpu_profile(stacks: list[tuple[list[str], int]]) -> bytes:
    """A CPU profile: one sample per 10 ms."""
    return pprof_bytes([Sample(s, [v // 10, v * MS]) for s, v in stacks])


CELLS = [
    f"""import sys
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
import profilelab
from profilelab.widgets import DiffFlameGraph, FlameGraph
from profilelab.widgets.spans import SpanExplorer
p = profilelab.load("cpu.pb.gz")
tiny = profilelab.load("tiny.pb.gz")""",
    "fg = FlameGraph(p)\nfg",
    f"sw = FlameGraph(p)\nsw.sandwich_function = {JSON[1]!r}\nsw.view = 'sandwich'\nsw",
    "dg = DiffFlameGraph(tiny, p, normalize=True)\ndg",
    """from _tracefix import T0_NS, WRITERS, make_world, pprof_bytes
w = make_world()
last = max(s.end_ns for s in w.spans)
joined = profilelab.join_spans(
    profilelab.load(pprof_bytes(w.samples, T0_NS, last - T0_NS)),
    profilelab.load_traces(WRITERS["zipkin"](w)),
)
ex = SpanExplorer(joined)
ex.filter(name="GET /order")
ex.select(ex.visible().head(3)["span_row"].to_list())
ex""",
]

#: JS: problems with the tables of one widget (columns neither visible nor scrollable to).
TABLE_PROBLEMS = """(root) => {
  const bad = [], box = root.getBoundingClientRect();
  const heads = root.querySelectorAll('table th');
  if (heads.length && ![...heads].some((th) => th.getBoundingClientRect().width))
    bad.push('no table header is laid out');
  for (const th of heads) {
    const r = th.getBoundingClientRect();
    if (!r.width) continue;  // a collapsed table
    let scroller = null;
    for (let a = th.parentElement; a && a !== root; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll') { scroller = a; break; }
      if (ox === 'hidden' || ox === 'clip') {
        const ar = a.getBoundingClientRect();
        if (r.right > ar.right + 1) bad.push(`${th.textContent}: clipped by ${a.className}`);
      }
    }
    const outer = scroller ? scroller.getBoundingClientRect() : r;
    if (outer.right > box.right + 1 || outer.left < box.left - 1)
      bad.push(`${th.textContent}: outside the widget (${outer.right} > ${box.right})`);
  }
  return bad;
}"""

#: JS: pairs of controls of one widget whose boxes overlap, and dropdowns too narrow for
#: their text, and controls sticking out of the widget.
CONTROL_PROBLEMS = """(root) => {
  const sel = 'select, input, button, textarea, .plf-check, .modebar, summary, .nsewdrag';
  const shown = [...root.querySelectorAll(sel)].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && !e.closest('details:not([open]) > :not(summary)');
  });
  const bad = [], box = root.getBoundingClientRect();
  for (let i = 0; i < shown.length; i++) {
    const a = shown[i].getBoundingClientRect();
    if (a.right > box.right + 1)
      bad.push(`${shown[i].className || shown[i].tagName} sticks out: ${a.right} > ${box.right}`);
    for (let j = i + 1; j < shown.length; j++) {
      if (shown[i].contains(shown[j]) || shown[j].contains(shown[i])) continue;
      const b = shown[j].getBoundingClientRect();
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) bad.push(`${shown[i].className || shown[i].tagName} overlaps ` +
                                   `${shown[j].className || shown[j].tagName}`);
    }
  }
  const ctx = document.createElement('canvas').getContext('2d');
  for (const s of root.querySelectorAll('select:not([multiple])')) {
    const st = getComputedStyle(s);
    ctx.font = `${st.fontSize} ${st.fontFamily}`;
    const text = s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : '';
    const need = ctx.measureText(text).width + 20;  // the arrow and padding
    if (s.getBoundingClientRect().width > 0 && s.getBoundingClientRect().width < need)
      bad.push(`dropdown too narrow for "${text}"`);
  }
  return bad;
}"""

#: JS: the explorer's histogram against its pane, and its x axis against the data.
HISTOGRAM = """(root) => {
  const plot = root.querySelector('.js-plotly-plot');
  const svg = plot.querySelector('.main-svg').getBoundingClientRect();
  const pane = root.getBoundingClientRect();
  const xs = plot.data[0].x;
  return {svgLeft: svg.left, svgRight: svg.right, paneLeft: pane.left, paneRight: pane.right,
          axisMax: plot._fullLayout.xaxis.range[1], dataMax: Math.max(...xs), n: xs.length,
          axisType: plot._fullLayout.xaxis.title.text};
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabServer, Path]]:
    root = tmp_path_factory.mktemp("widgets-lab")
    (root / "cpu.pb.gz").write_bytes(cpu_profile(STACKS))
    (root / "tiny.pb.gz").write_bytes(cpu_profile([([*HTTP, HANDLER, *JSON], 5)]))
    for width in (800, 1400):
        (root / f"widgets-{width}.ipynb").write_text(json.dumps(notebook(CELLS)))
    (root / "search.ipynb").write_text(json.dumps(notebook(CELLS[:2])))
    with jupyter_lab(root) as server:
        yield server, root


def open_notebook(page: Any, url: str, width: int, cells: list[str] = CELLS) -> None:
    """The notebook at ``url`` run top to bottom with its notebook panel ``width`` px wide."""
    page.set_default_timeout(180_000)  # the machine may be busy: kernels start slowly
    page.goto(url)
    wait_for_kernel(page)
    panel = page.locator(PANEL).bounding_box()
    assert panel is not None
    page.set_viewport_size({"width": width + 400 + (width - round(panel["width"])), "height": 1000})
    run_cells(page, range(len(cells)))
    if cells is not CELLS:
        page.wait_for_function(f"document.querySelector('{PANEL} .plf-root canvas')")
        return
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .plf-root canvas').length >= 5")
    page.wait_for_function(  # the histogram's data, not plotly's empty placeholder
        f"() => {{ const p = document.querySelector('{PANEL} .plx-explorer .js-plotly-plot');"
        " return p && p.data && p.data.length && p.data[0].x && p.data[0].x.length; }"
    )
    page.wait_for_selector(f"{PANEL} .plf-sandwich .plf-callees canvas")
    page.wait_for_timeout(800)  # the resize-triggered redraws settle
    no = page.get_by_role("button", name="No", exact=True)
    if no.count():  # JupyterLab's question about news covers the last output
        no.first.click()


def widgets(page: Any) -> dict[str, Any]:
    roots = page.locator(PANEL).locator(".jp-Cell .jp-OutputArea-output")
    cells = page.locator(PANEL).locator(".jp-Cell")
    return {
        "flamegraph": cells.nth(1).locator(".plf-root").first,
        "sandwich": cells.nth(2).locator(".plf-root").first,
        "diff": cells.nth(3).locator(".plf-root").first,
        "explorer": cells.nth(4).locator(".plx-explorer").first,
        "_outputs": roots,
    }


@pytest.mark.parametrize("width", [800, 1400])
def test_widgets_fit_the_notebook(served: tuple[LabServer, Path], width: int) -> None:
    server, _ = served
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        chromium() as browser,
        lab_page(
            browser, server, f"widgets-{width}", viewport={"width": width + 400, "height": 1000}
        ) as page,
    ):
        open_notebook(page, server.url(f"widgets-{width}.ipynb"), width)
        panel = page.locator(PANEL).bounding_box()
        assert panel is not None and abs(panel["width"] - width) <= 2, panel
        found = widgets(page)
        problems: dict[str, list[str]] = {}
        for name in ("flamegraph", "sandwich", "diff", "explorer"):
            root = found[name]
            root.scroll_into_view_if_needed()  # JupyterLab skips laying out far-away cells
            page.wait_for_timeout(300)
            handle = root.element_handle()
            problems[name] = page.evaluate(TABLE_PROBLEMS, handle) + page.evaluate(
                CONTROL_PROBLEMS, handle
            )
            output = page.evaluate(
                "(e) => [e.getBoundingClientRect().right,"
                " e.closest('.jp-OutputArea-output').getBoundingClientRect().right]",
                handle,
            )
            assert output[0] <= output[1] + 1, (name, output)  # the widget fits its output
        assert not any(problems.values()), problems

        found["explorer"].scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        hist = page.evaluate(HISTOGRAM, found["explorer"].element_handle())
        # (screenshots last: a capture taller than the window resizes it for a moment)
        for name in ("flamegraph", "sandwich", "diff", "explorer"):
            found[name].scroll_into_view_if_needed()
            found[name].screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))

        # every table column is there: the flame graphs' tables and the explorer's detail
        heads = found["diff"].locator("table th").all_text_contents()
        assert heads == ["function", "base", "new", "delta", "change"]
        assert found["flamegraph"].locator("table th").all_text_contents() == [
            "function", "self", "self %", "total", "total %",
        ]  # fmt: skip

        # the tiny baseline is called out, and the diff says what its colours mean
        warning = found["diff"].locator(".plf-warning").text_content()
        assert "the totals differ ×200" in warning  # 5 ms against 1 s
        assert "grew" in found["diff"].locator(".plf-legend").text_content()

        # the view is named, and the sandwich's view control says "sandwich"
        assert found["flamegraph"].locator(".plf-status").text_content().startswith("flame graph")
        assert found["sandwich"].locator("select.plf-view-kind").input_value() == "sandwich"
        assert found["sandwich"].locator(".plf-status").text_content().startswith("sandwich view")

        # the explorer: histogram inside its pane, log axis over every span, list header
        assert hist["paneLeft"] - 1 <= hist["svgLeft"] and hist["svgRight"] <= hist["paneRight"] + 1
        assert hist["axisMax"] >= hist["dataMax"] and "log" in hist["axisType"]
        assert hist["n"] == 30  # every GET /order span
        head = found["explorer"].locator(".plx-list-head").text_content().split()
        assert head == ["duration", "samples", "service", "name", "trace/span"]
        listed = found["explorer"].locator("select[multiple] option:checked").count()
        assert listed == 3 and "<b>" not in (found["explorer"].text_content() or "")
        assert found["explorer"].get_by_text("3 spans").count() >= 1


def test_zoomed_search_readout_matches_the_samples(served: tuple[LabServer, Path]) -> None:
    server, root = served
    with (
        chromium() as browser,
        lab_page(browser, server, "search", viewport={"width": 1800, "height": 1000}) as page,
    ):
        open_notebook(page, server.url("search.ipynb"), 1400, CELLS[:2])
        node = page.evaluate(NODE_XY, HANDLER)
        page.mouse.click(node["x"], node["y"])  # zoom into the handler
        crumbs = page.locator(".plf-crumbs").first.inner_text()
        assert crumbs.rstrip().endswith("(*Checkout).ServeHTTP")
        page.locator(".plf-search").first.fill("json")
        info = page.locator(".plf-search-info").first
        # the kernel's exact shares arrive after the browser's own figures
        page.wait_for_function(
            "() => { const i = document.querySelector('.plf-search-info');"
            " return i && i.dataset.ofTotal && i.dataset.ofZoom; }"
        )
        page.wait_for_timeout(1500)
        text = info.inner_text()
        of_zoom, of_total = (
            float(v) for v in info.evaluate("(e) => [e.dataset.ofZoom, e.dataset.ofTotal]")
        )
    zoom_share, total_share = shares_from_samples(root / "cpu.pb.gz", "json", [*HTTP, HANDLER])
    assert of_zoom == pytest.approx(zoom_share) and of_total == pytest.approx(total_share)
    assert f"{100 * zoom_share:.1f}% of zoomed frame" in text, text
    assert f"{100 * total_share:.1f}% of total" in text, text
    assert re.match(r"\d+ matching frames in the zoomed frame", text), text


def shares_from_samples(path: Path, pattern: str, zoom: list[str]) -> tuple[float, float]:
    """(share of the zoomed frame, share of all cpu) of the samples with a function matching
    ``pattern`` at or below the zoomed frame, straight from the samples table."""
    p = profilelab.load(path)
    cpu = p.profiles.filter(pl.col("sample_type") == "cpu")["profile_id"]
    names = p.frames.select("frame_id", "function")
    stacks = (
        p.stacks.explode("frame_ids")
        .rename({"frame_ids": "frame_id"})
        .join(names, on="frame_id")
        .group_by("stack_id", maintain_order=True)
        .agg(pl.col("function").reverse().alias("path"))  # root first
    )
    rows = p.samples.filter(pl.col("profile_id").is_in(cpu.implode())).join(stacks, on="stack_id")
    total = zoomed = hit_all = hit_zoom = 0
    for value, path in rows.select("value", "path").iter_rows():
        total += value
        matches = [re.search(pattern, f, re.I) is not None for f in path]
        hit_all += value * any(matches)
        if path[: len(zoom)] == zoom:
            zoomed += value
            hit_zoom += value * any(matches[len(zoom) - 1 :])
    return hit_zoom / zoomed, hit_all / total
