"""The span explorer in a real JupyterLab, driven by headless Chromium (Playwright).

A JupyterLab server on loopback runs a notebook that shows the explorer; the test picks
the slowest requests in the span list, as a user would, and waits for the selection's
profile (the slow function on top) to appear beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
TOKEN = "profilelab-test"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook(path: Path) -> None:
    code = f"""
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
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": code,
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    pytest.importorskip("playwright")
    if shutil.which("jupyter") is None and not _has_module("jupyterlab"):
        pytest.skip("jupyterlab is not installed")
    _notebook(tmp_path / "explore.ipynb")
    port = _free_port()
    log = (tmp_path / "lab.log").open("wb")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={tmp_path}",
            "--LabApp.news_url=None",
            "--LabApp.extension_manager=readonly",
            "--allow-root",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(f"{url}/api/status?token={TOKEN}", proc, tmp_path / "lab.log")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("jupyter lab exited at start:\n" + log.read_text()[-2000:])
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail("jupyter lab did not start within 90 s:\n" + log.read_text()[-2000:])


def test_picking_slow_spans_shows_their_profile(lab: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{lab}/lab/tree/explore.ipynb?token={TOKEN}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
            # run only once the kernel is up, or the request is dropped
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Shift+Enter")
            span_list = page.locator(".widget-select-multiple select")
            try:
                span_list.wait_for(timeout=120_000)
            except Exception:
                page.screenshot(path=os.environ.get("PROFILELAB_SHOT", "/tmp/explorer-fail.png"))
                raise AssertionError(page.locator(".jp-OutputArea").all_inner_texts()) from None
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
        finally:
            browser.close()
