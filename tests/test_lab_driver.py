"""The JupyterLab driver of the browser tests (tests/lab_driver.py) in a real JupyterLab.

Cells run although the server answers the session list late (the moment in which the
execution indicator already says "idle" but the notebook has no kernel, where Shift+Enter
ran nothing: a widget test waited 180 s in CI); a wait that runs out and a cell that fails
are reported with what the page and the server showed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.flame_browser import chromium
from tests.lab_driver import ARTIFACTS, lab_page, run_cells, wait_for_kernel
from tests.test_flame_jupyterlab import LabServer, jupyter_lab, notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: JS for the page: the server's answers to GET /api/sessions after the first (JupyterLab's
#: start waits for that one) are held back until the test calls ``__releaseSessions()``,
#: which keeps the notebook from asking for a kernel while its execution indicator shows
#: "idle", as a busy server answering late does
HELD_SESSION_LIST = """(() => {
  const fetch = window.fetch;
  let release, first = true;
  const released = new Promise((ok) => { release = ok; });
  window.__releaseSessions = () => release();
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    const method = (init && init.method) || (typeof input === 'string' ? 'GET' : input.method);
    if (/\\/api\\/sessions\\?/.test(url) && method === 'GET' && !first)
      return released.then(() => fetch(input, init));
    if (/\\/api\\/sessions\\?/.test(url) && method === 'GET') first = false;
    return fetch(input, init);
  };
})()"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    root = tmp_path_factory.mktemp("driver-lab")
    (root / "two.ipynb").write_text(json.dumps(notebook(["x = 6 * 7", "print('x =', x)"])))
    (root / "fails.ipynb").write_text(json.dumps(notebook(["y = 1", "1 / 0", "z = 2"])))
    with jupyter_lab(root) as lab:
        yield lab


def test_cells_run_when_the_session_list_comes_late(server: LabServer) -> None:
    with chromium() as browser, lab_page(browser, server, "driver-late") as page:
        page.set_default_timeout(120_000)
        page.add_init_script(HELD_SESSION_LIST)
        page.goto(server.url("two.ipynb"))
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        # the indicator says idle while the notebook has no kernel yet: the old cue to press
        # Shift+Enter, which then ran nothing; the session list arrives a second later
        kernel = page.evaluate(
            "() => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session"
            "?.kernel; setTimeout(window.__releaseSessions, 1000); return k ?? null; }"
        )
        run_cells(page, [0, 1])
        out = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output").inner_text()
    assert kernel is None
    assert out.strip() == "x = 42"


def test_a_failure_says_what_the_page_showed(server: LabServer) -> None:
    with chromium() as browser:
        with (
            pytest.raises(pytest.fail.Exception) as failed,
            lab_page(browser, server, "driver-fails") as page,
        ):
            page.set_default_timeout(120_000)
            page.goto(server.url("fails.ipynb"))
            run_cells(page, [0, 1, 2])
        report = str(failed.value)
        with (
            pytest.raises(pytest.fail.Exception) as timed_out,
            lab_page(browser, server, "driver-timeout") as page,
        ):
            page.goto(server.url("fails.ipynb"))
            wait_for_kernel(page)
            page.evaluate("() => console.error('a console error')")
            page.wait_for_selector(".no-such-widget", timeout=2_000)
        timeout_report = str(timed_out.value)
    lines = report.splitlines()
    assert lines[0] == (
        "running cells [0, 1, 2] of fails.ipynb: results [True, False], error None, "
        "cells without an execution count [2]"
    )
    notebook_line = "notebook fails.ipynb (shown, command mode, active cell 1): kernel python3"
    assert f"{notebook_line} connected/idle" in lines
    assert "  cell 0 [1] outputs [] shows ''" in lines
    assert any(
        line.startswith("  cell 1 [2] outputs ['error ZeroDivisionError: division by zero']")
        for line in lines
    ), report
    assert "  cell 2 [ ] outputs [] shows ''" in lines
    assert f"screenshot: {ARTIFACTS / 'driver-fails-failed.png'}" in lines
    assert (ARTIFACTS / "driver-fails-failed.png").stat().st_size > 0
    assert "server session fails.ipynb: kernel python3 idle" in report
    assert f"server log {server.log} (last " in report and server.token not in report
    assert "Timeout 2000ms exceeded" in timeout_report.splitlines()[0]
    assert "console error: a console error" in timeout_report
    assert any(
        line.startswith("notebook fails.ipynb (shown,") and line.endswith(" connected/idle")
        for line in timeout_report.splitlines()
    ), timeout_report
