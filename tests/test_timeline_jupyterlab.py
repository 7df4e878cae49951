"""The Timeline and a linked FlameGraph in a real JupyterLab, driven by headless Chromium.

At 800 px and 1400 px of notebook width: drag across the timeline's lanes with the mouse;
the linked flame graph (drawn by the browser from what the kernel sent) then totals exactly
the samples whose ``samples.time_ns`` falls in the range the kernel reports; a profile
without timestamps shows the timeline's message instead of lanes. Screenshots go to
tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from tests.flame_browser import chromium
from tests.lab_driver import lab_page, run_cells, wait_for_kernel
from tests.test_flame_jupyterlab import ROOT, LabServer, jupyter_lab, notebook
from tests.timeline_support import STEP, timed_profile

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = ROOT / "tests" / "artifacts"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
REPEAT = 40  # 320 samples, 10 ms apart, in four thread lanes

CELLS = [
    f"""import sys
sys.path[:0] = [{str(ROOT)!r}]
from profilelab.widgets import FlameGraph, Timeline
from tests.timeline_support import timed_profile
p = timed_profile(repeat={REPEAT})
flame = FlameGraph(p)
timeline = Timeline(p, flame=flame)""",
    "timeline",
    "flame",
    "Timeline(timed_profile(timed=False))",
    "print('RANGE=' + repr(timeline.range_ns))",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    root = tmp_path_factory.mktemp("timeline-lab")
    for width in (800, 1400):
        (root / f"timeline-{width}.ipynb").write_text(json.dumps(notebook(CELLS)))
    with jupyter_lab(root) as server:
        yield server


def _run_all(page: Any, width: int) -> None:
    """Run the notebook's cells with its panel ``width`` px wide, the last one left out."""
    wait_for_kernel(page)
    panel = page.locator(PANEL).bounding_box()
    page.set_viewport_size({"width": width + 400 + (width - round(panel["width"])), "height": 1000})
    run_cells(page, range(len(CELLS) - 1))
    page.wait_for_function(
        "window.__plt && window.__plt.length >= 2 && window.__plt.some((a) => a.dens)"
        " && window.__plf && window.__plf.some((a) => a.view.tree)"
    )
    page.wait_for_timeout(800)  # the resize-triggered redraws settle
    no = page.get_by_role("button", name="No", exact=True)
    if no.count():  # JupyterLab's question about news covers the last output
        no.first.click()


def _drag(page: Any, t0: float, t1: float) -> None:
    """Drag across the timeline with lanes from relative time t0 to t1 (ns)."""
    xy = page.evaluate(
        "([a, b]) => { const app = window.__plt.find((x) => x.dens);"
        " app.canvas.scrollIntoView({block: 'center'});"
        " const r = app.canvas.getBoundingClientRect();"
        " return [r.left + app.xOfT(a), r.left + app.xOfT(b), r.top + 10]; }",
        [t0, t1],
    )
    page.mouse.move(xy[0], xy[2])
    page.mouse.down()
    page.mouse.move((xy[0] + xy[1]) / 2, xy[2] + 20, steps=4)
    page.mouse.move(xy[1], xy[2] + 20, steps=2)
    page.mouse.up()


SHOWN_TOTAL = "() => window.__plf.find((a) => a.view.tree).view.tree.total[0]"


@pytest.mark.parametrize("width", [800, 1400])
def test_brushing_in_jupyterlab_narrows_the_flame_graph(served: LabServer, width: int) -> None:
    p = timed_profile(repeat=REPEAT)
    whole = int(p.samples["value"].sum())
    with (
        chromium() as browser,
        lab_page(
            browser, served, f"timeline-{width}", viewport={"width": width + 400, "height": 1000}
        ) as page,
    ):
        page.set_default_timeout(180_000)  # the machine may be busy: kernels start slowly
        page.goto(served.url(f"timeline-{width}.ipynb"))
        _run_all(page, width)
        assert page.evaluate(SHOWN_TOTAL) == whole

        # no timestamps: the message, not an empty canvas
        cells = page.locator(PANEL).locator(".jp-Cell")
        message = cells.nth(3).locator(".plf-tl-message")
        assert "no timestamps" in message.inner_text()
        assert cells.nth(3).locator(".plf-tl-canvas").is_hidden()

        _drag(page, 52.5 * STEP, 201.5 * STEP)
        page.wait_for_function(f"({SHOWN_TOTAL})() !== {whole}")
        shown = page.evaluate(SHOWN_TOTAL)
        status = cells.nth(2).locator(".plf-status").inner_text()
        # the lane chart of the busiest thread, for the screenshot and its own check
        lanes = cells.nth(1).locator(".plf-tl-canvas")
        box = lanes.bounding_box()
        page.mouse.click(box["x"] + 20, box["y"] + 10)
        cells.nth(1).locator(".plf-tl-chart").wait_for(state="visible")
        page.wait_for_timeout(500)
        title = cells.nth(1).locator(".plf-tl-chart-title").inner_text()

        last = cells.nth(len(CELLS) - 1)
        run_cells(page, [len(CELLS) - 1])
        out = last.locator(".jp-OutputArea-output")
        out.wait_for()
        text = out.inner_text()

        ARTIFACTS.mkdir(exist_ok=True)
        for i, name in ((1, "timeline"), (2, "flame"), (3, "no-timestamps")):
            cells.nth(i).scroll_into_view_if_needed()
            shot = cells.nth(i).locator(".jp-OutputArea-output").first
            shot.screenshot(path=str(ARTIFACTS / f"timeline-{name}-{width}.png"))
    start, end = json.loads(text.split("RANGE=", 1)[1].strip())
    t = pl.col("time_ns")
    in_range = int(p.samples.filter((t >= start) & (t < end))["value"].sum())
    assert abs(start - (p.samples["time_ns"].min() + 52.5 * STEP)) < STEP  # within a pixel
    assert shown == in_range and 0 < in_range < whole
    assert title.startswith("main: stacks in time order"), title
    assert "time range" in status and f"({(end - start) / 1e9:.3g} s)" in status, status
