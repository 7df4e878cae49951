"""The main job end to end: ``profilelab lab`` opens 00-start-here in a real JupyterLab, a
headless Chromium runs all its cells, and the flame graph is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flame_browser import CANVAS_STATS, chromium
from tests.lab_driver import lab_page, wait_for_kernel
from tests.lab_support import profilelab_lab
from tests.test_notebooks import datasets_available

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_start_here_runs_in_jupyterlab_and_draws_a_flame_graph(tmp_path: Path) -> None:
    if not datasets_available():
        pytest.skip("the datasets are not available")
    with (
        profilelab_lab(tmp_path) as lab,
        chromium() as browser,
        lab_page(browser, lab, "start-here", viewport={"width": 1400, "height": 1000}) as page,
    ):
        page.set_default_timeout(180_000)
        page.goto(lab.opened_url())  # where `profilelab lab` sent the browser
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        tab = page.locator(".lm-TabBar-tab.jp-mod-current").inner_text()
        # "Run All Cells" before the notebook has a kernel runs nothing (tests/lab_driver.py)
        wait_for_kernel(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        # the flame graph of section 3 is drawn on its canvas
        page.wait_for_function("window.__plf && window.__plf.length && window.__plf[0].view.tree")
        flame = page.evaluate(CANVAS_STATS)
        # the last cell (the asserts) has run: every code cell has an execution count
        page.wait_for_function(
            """() => {
              const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
              return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }"""
        )
        # JupyterLab renders an error (traceback) as stderr text
        stderr = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        errors = [t for t in stderr.all_inner_texts() if "Error" in t or "Traceback" in t]
        text = page.locator(".jp-Notebook").inner_text()
    assert "00-start-here" in tab
    assert flame["w"] > 0 and flame["painted"] > 0.05 and flame["colours"] > 5, flame
    assert errors == [], errors
    assert "encoding/json went from" in text
