"""The FlameGraph widget inside a real JupyterLab server, driven by headless Chromium.

Starts ``jupyter lab`` on 127.0.0.1 with a token in a temporary directory, opens a notebook
that displays the widget, runs it, clicks a frame on the canvas, then runs a cell that
prints ``widget.focus`` from the kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.flame_browser import NODE_XY, chromium
from tests.flame_support import Sample, pprof_bytes
from tests.lab_driver import LAB_ARGS, lab_page, run_cells
from tests.test_views_flame import SMALL

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def notebook(cells: list[str]) -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": c, "outputs": []}
            | {"execution_count": None}
            for c in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


class LabServer(NamedTuple):
    base: str  # http://127.0.0.1:PORT
    token: str
    log: Path

    def url(self, notebook: str) -> str:
        """The address that opens ``notebook`` alone (a fresh workspace)."""
        return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"


@contextlib.contextmanager
def jupyter_lab(root: Path) -> Iterator[LabServer]:
    """A JupyterLab server serving ``root`` on a free loopback port, logging to
    ``root/lab.log``."""
    if shutil.which("jupyter") is None:
        pytest.skip("jupyter is not installed")
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[var] = str(root / var.lower())
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--allow-root",
        f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
        "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *LAB_ARGS,
    ]  # fmt: skip
    log = (root / "lab.log").open("wb")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(root / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("jupyter lab did not start within 40 s")
                time.sleep(0.3)
        yield LabServer(base, token, root / "lab.log")
    finally:
        # the server and its kernels share the process group we created for it
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[LabServer, Path]]:
    """A JupyterLab server on a free loopback port; yields (the server, its root dir)."""
    with jupyter_lab(tmp_path) as server:
        yield server, tmp_path


#: JS: the names of the nodes the first flame graph shows
NAMES = (
    "Array.from({length: window.__plf[0].view.tree.n}, (_, i) => "
    "window.__plf[0].view.tree.nameOf(i))"
)


def merge_from_the_menu(page: Any, name: str) -> dict[str, Any]:
    """Right-click the frame ``name``, choose "Merge function" and wait for the kernel's
    tree without it: its total, and the chip's text."""
    node = page.evaluate(NODE_XY, name)
    page.mouse.click(node["x"], node["y"], button="right")
    assert page.locator(".jp-contextmenu").count() == 0  # not JupyterLab's own menu
    page.locator(".plf-menu-item[data-transform='merge_function']").click()
    page.wait_for_function(f"!{NAMES}.includes({name!r})")
    page.locator(".plf-chip").wait_for()
    total = page.evaluate("() => window.__plf[0].view.tree.meta.grand_total")
    return {"total": total, "chip": page.locator(".plf-chip-text").inner_text()}


def draw_first_cell(page: Any) -> None:
    """Run the notebook's first cell and wait for its flame graph. The kernel's start and
    its first imports (Polars, NumPy, Arrow, the widget) come with it: on a loaded machine
    they take several times the 30 s the later steps are given."""
    run_cells(page, [0], timeout=120_000)
    page.wait_for_function(
        "window.__plf && window.__plf.length && window.__plf[0].view.tree", timeout=120_000
    )


def test_click_in_jupyterlab_sets_widget_focus(lab: tuple[LabServer, Path]) -> None:
    server, root = lab
    (root / "small.pb.gz").write_bytes(pprof_bytes([Sample(s, [1, v]) for s, v in SMALL]))
    cells = [
        "import profilelab\nfrom profilelab.widgets import FlameGraph\n"
        "w = FlameGraph(profilelab.load('small.pb.gz'))\nw",
        "print('FOCUS=' + repr(w.focus), 'SELECTED=' + repr(w.selected), 'ROOT=' + repr(w.root))",
        "print('TRANSFORMS=' + repr(w.transforms), 'TOTAL=' + str(int(w.tree.total[0])))",
    ]
    (root / "flame.ipynb").write_text(json.dumps(notebook(cells)))
    with (
        chromium() as browser,
        lab_page(browser, server, "flame-focus", viewport={"width": 1400, "height": 1000}) as page,
    ):
        page.set_default_timeout(30_000)
        page.goto(server.url("flame.ipynb"))
        draw_first_cell(page)
        node = page.evaluate(NODE_XY, "serve")
        page.mouse.click(node["x"], node["y"])
        crumbs = page.locator(".plf-crumbs").inner_text()
        assert crumbs.rstrip().endswith("serve")
        second = page.locator(".jp-Notebook .jp-Cell").nth(1)
        run_cells(page, [1])
        out = second.locator(".jp-OutputArea-output")
        out.wait_for()
        text = out.inner_text()
        # a row of the top table opens the sandwich of its function (computed by the kernel)
        page.locator(".plf-table tbody tr").nth(0).click()
        page.wait_for_selector(".plf-sandwich .plf-callees canvas")
        title = page.locator(".plf-sandwich-title").inner_text()
        page.locator(".plf-back").click()
        transformed = merge_from_the_menu(page, "parse")
        third = page.locator(".jp-Notebook .jp-Cell").nth(2)
        run_cells(page, [2])
        third.locator(".jp-OutputArea-output").wait_for()
        kernel = third.locator(".jp-OutputArea-output").inner_text()
        page.locator(".plf-chip-remove").click()  # undo: parse is back
        page.wait_for_function(f"{NAMES}.includes('parse')")
        assert page.locator(".plf-chip").count() == 0
    assert transformed == {"total": 84, "chip": "1. merge function parse"}
    assert "TRANSFORMS=[['merge_function', '^parse$']]" in kernel and "TOTAL=84" in kernel
    assert "FOCUS='serve'" in text
    assert title == "sandwich of parse"  # parse has the most self time
    assert "SELECTED=['main', 'serve']" in text and "ROOT=['main', 'serve']" in text


def test_source_panel_and_call_graph_in_jupyterlab(lab: tuple[LabServer, Path]) -> None:
    """A frame click lists its source with Profile.list's costs; a call-graph node click
    focuses the flame graph on the function (total: Profile.top's cum); a source path
    without the file lists where it looked."""
    from tests.test_flame_panels import source_tree
    from tests.test_flame_panels_browser import GRAPH_NODE, ROWS

    if shutil.which("dot") is None:
        pytest.skip("Graphviz dot is missing")
    server, root = lab
    data = pprof_bytes([Sample(s, [1, v]) for s, v in SMALL])
    (root / "small.pb.gz").write_bytes(data)
    src = source_tree(root / "src")
    cells = [
        "import profilelab\nfrom profilelab.widgets import FlameGraph\n"
        f"w = FlameGraph(profilelab.load('small.pb.gz'), source_path={str(src)!r})\nw",
        "w.source_path = '/nonexistent-src'",
    ]
    (root / "flame.ipynb").write_text(json.dumps(notebook(cells)))
    import profilelab

    profile = profilelab.load(data)
    with (
        chromium() as browser,
        lab_page(browser, server, "flame-source", viewport={"width": 1400, "height": 1000}) as page,
    ):
        page.set_default_timeout(30_000)
        page.goto(server.url("flame.ipynb"))
        draw_first_cell(page)
        for name in ("serve", "parse"):
            node = page.evaluate(NODE_XY, name)
            page.mouse.click(node["x"], node["y"])
        page.wait_for_function(
            "() => [...document.querySelectorAll('.plf-src-fn')]"
            ".some((e) => e.textContent === 'parse')"
        )
        rows = page.evaluate(ROWS)
        want = profile.list("^parse$", source_path=str(src))
        assert [r[:3] for r in rows] == [
            list(r) for r in want.select("line", "flat", "cum").iter_rows()
        ]
        assert [r[5] for r in rows] == want["source"].to_list()
        assert next(r for r in rows if r[0] == 31)[3:5] == ["30 ns", "44 ns"]

        page.click(".plf-tab-graph")
        page.wait_for_selector(".plf-gnode", state="attached")
        xy = page.evaluate(GRAPH_NODE, "alloc")
        page.mouse.click(xy["x"], xy["y"])
        page.wait_for_function("() => window.__plf[0].view.tree.meta.root_path[0] === 'alloc'")
        shown = page.evaluate(
            "() => { const v = window.__plf[0].view, t = v.tree; return [t.nameOf(v.zoomNode),"
            " t.total[v.zoomNode]]; }"
        )
        top = profile.top()
        assert shown == ["alloc", top.filter(top["name"] == "alloc")["cum"][0]]
        assert page.locator(".plf-canvas").is_visible()

        run_cells(page, [1])  # a source path without the file
        page.wait_for_selector(".plf-src-missing")
        text = page.locator(".plf-src-missing").inner_text()
        looked = page.locator(".plf-src-looked li").all_inner_texts()
    assert "could not find the source file main/alloc.go" in text and "looked in:" in text
    assert looked == ["/nonexistent-src/main/alloc.go", "/main/alloc.go"]
