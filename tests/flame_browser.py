"""Headless Chromium for the flame-graph browser tests (skips when it is missing)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched Playwright Chromium browser; skips the test when it cannot start."""
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


#: JS: where (page coordinates) the node named ``name`` is drawn in the first app's view.
NODE_XY = """(name) => {
  const v = window.__plf[0].view, t = v.tree;
  let i = -1;
  for (let k = 0; k < t.n; k++) if (t.nameOf(k) === name) { i = k; break; }
  if (i < 0) return null;
  const r = v.canvas.getBoundingClientRect();
  const x = r.left + (t.start[i] - t.start[v.zoomNode] + t.width[i] / 2) * v.scale;
  const row = t.depth[i] - t.depth[v.zoomNode];
  const y = r.top + (v.opts.orientation === 'flame' ? v.rows - 1 - row : row) * 18 + 9;
  return {i, x, y};
}"""

#: JS: colour statistics of the first view's canvas (distinct colours, non-background share).
CANVAS_STATS = """(sel) => {
  const c = document.querySelector(sel || '.plf-canvas');
  const ctx = c.getContext('2d');
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const bg = '255,255,255';  // the light page background
  const colours = new Set(); let painted = 0, magenta = 0, red = 0, blue = 0;
  for (let p = 0; p < d.length; p += 4) {
    const key = [d[p], d[p+1], d[p+2]].join();
    colours.add(key);
    if (key !== bg) painted++;
    if (d[p] > 150 && d[p+1] < 60 && d[p+2] > 150) magenta++;
    if (d[p] > d[p+2] + 60 && d[p+1] < d[p] - 40) red++;
    if (d[p+2] > d[p] + 60) blue++;
  }
  return {w: c.width, h: c.height, colours: colours.size, painted: painted / (d.length / 4),
          magenta, red, blue};
}"""
