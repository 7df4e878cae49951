"""The span explorer in a real JupyterLab, driven by headless Chromium (Playwright).

A JupyterLab server on loopback runs a notebook that shows the explorer; the test picks
the slowest requests in the span list, as a user would, and waits for the selection's
profile (the slow function on top) to appear beside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flame_browser import chromium
from tests.lab_driver import lab_page, run_cells
from tests.test_flame_jupyterlab import LabServer, jupyter_lab, notebook

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.browser

CODE = f"""
import sys
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
import profilelab
from _tracefix import T0_NS, WRITERS, make_world, pprof_bytes
from profilelab.widgets.spans import SpanExplorer
w = make_world()
last = max(s.end_ns for s in w.spans)
joined = profilelab.join_spans(
    profilelab.load(pprof_bytes(w.samples, T0_NS, last - T0_NS)),
    profilelab.load_traces(WRITERS["zipkin"](w)),
)
ex = SpanExplorer(joined)
ex.filter(name="GET /order")
ex.widget
"""


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[LabServer]:
    (tmp_path / "explore.ipynb").write_text(json.dumps(notebook([CODE])))
    with jupyter_lab(tmp_path) as server:
        yield server


def test_picking_slow_spans_shows_their_profile(lab: LabServer) -> None:
    with chromium() as browser, lab_page(browser, lab, "span-explorer") as page:
        page.goto(lab.url("explore.ipynb"))
        run_cells(page, [0], timeout=120_000)
        span_list = page.locator(".widget-select-multiple select")
        span_list.wait_for(timeout=120_000)
        options = span_list.locator("option")
        assert options.count() == 30
        assert "GET /order" in options.first.inner_text().replace("\xa0", " ")
        # brush the right half of the latency histogram: the three slow requests
        drag = page.locator(".js-plotly-plot .nsewdrag").first
        drag.wait_for(timeout=60_000)
        drag.scroll_into_view_if_needed()
        box = drag.bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.6, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=5)
        page.mouse.move(box["x"] + box["width"] * 0.995, y, steps=5)
        page.mouse.up()
        headline = page.locator(".widget-html-content", has_text="3 spans")
        headline.first.wait_for(timeout=60_000)
        # the headline names the top function, whatever draws the profile below it
        assert "top: main.applyDiscountsSlow" in headline.first.inner_text()
        # then pick five spans in the list, as a user would
        span_list.select_option(index=[0, 1, 2, 3, 4])
        page.get_by_text("5 spans").first.wait_for(timeout=60_000)
