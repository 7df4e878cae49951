"""The exported HTML in real headless Chromium: it draws, zooms, searches, stays safe."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from profilelab.render.flame_html import diff_html, flame_html, write
from profilelab.views import Comparison, sandwich
from profilelab.views.encode import encode_tree
from tests.flame_browser import CANVAS_STATS, NODE_XY, chromium
from tests.flame_support import Sample, make_profile
from tests.test_views_diff import BASE, NEW
from tests.test_views_flame import SMALL

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__pwned=1">'
EVIL2 = "<script>window.__pwned2=1</script>"
UNI = "naïve::日本語::😀::fn"  # non-ASCII, astral plane: UTF-16 offsets must line up


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def open_page(browser: Any, path: Path) -> Any:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("window.__plfFirstPaint !== undefined", timeout=15_000)
    page.errors = errors
    return page


def test_export_draws_zooms_searches_and_zooms_out(browser: Any, tmp_path: Path) -> None:
    out = write(tmp_path / "flame.html", flame_html(make_profile(SMALL)))
    page = open_page(browser, out)
    stats = page.evaluate(CANVAS_STATS)
    assert stats["colours"] > 4 and stats["painted"] > 0.2  # not blank
    width = page.evaluate("document.querySelector('.plf-canvas').getBoundingClientRect().width")

    node = page.evaluate(NODE_XY, "serve")
    page.mouse.click(node["x"], node["y"])
    crumbs = page.locator(".plf-crumbs").inner_text()
    assert crumbs.replace("\u203a", ">").split(">")[-1].strip() == "serve"
    zoomed = page.evaluate(
        "() => { const v = window.__plf[0].view; return [v.zoomNode, v.tree.width[v.zoomNode]"
        " * v.scale]; }"
    )
    assert zoomed[0] == node["i"] and zoomed[1] == pytest.approx(width, abs=1)
    # the zoomed frame fills the first row: its colour spans the canvas width
    row0 = page.evaluate(
        "() => { const c = document.querySelector('.plf-canvas');"
        " const d = c.getContext('2d').getImageData(0, 2, c.width, 1).data;"
        " return [d.slice(0, 3).join(), d.slice((c.width - 3) * 4, (c.width - 3) * 4 + 3)"
        ".join()]; }"
    )
    assert row0[0] == row0[1]

    page.fill(".plf-search", "^parse$")
    info = page.locator(".plf-search-info").inner_text()
    # parse holds 44 of serve's 69 (the recursive parse is not counted twice)
    assert info.startswith("2 matching frames") and "63.8% of zoomed frame" in info
    assert "52.4% of total" in info  # 44 of all 84
    assert page.evaluate(CANVAS_STATS)["magenta"] > 0

    page.click(".plf-canvas", position={"x": 5, "y": 40})  # focus the canvas
    page.evaluate("() => window.__plf[0].view.zoom(window.__plf[0].view.zoomNode)")
    before = page.evaluate("() => window.__plf[0].view.zoomNode")
    page.keyboard.press("Escape")
    after = page.evaluate("() => window.__plf[0].view.zoomNode")
    t_parent = page.evaluate(f"() => window.__plf[0].view.tree.parent[{before}]")
    assert after == t_parent
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    assert page.evaluate("() => window.__plf[0].view.zoomNode") == 0
    assert page.locator(".plf-crumbs").inner_text().strip() == "all"
    assert page.errors == []


def test_tooltip_and_table(browser: Any, tmp_path: Path) -> None:
    out = write(tmp_path / "flame.html", flame_html(make_profile(SMALL)))
    page = open_page(browser, out)
    node = page.evaluate(NODE_XY, "write")
    page.mouse.move(node["x"], node["y"])
    tip = page.locator(".plf-tip").inner_text()
    assert "write" in tip and "main/write.go:" in tip
    assert "total: 25 ns" in tip and "of parent" in tip
    rows = page.locator(".plf-table tbody tr")
    assert rows.count() == 6  # the functions of SMALL with self time
    rows.nth(0).click()  # the top row (parse) becomes an exact search
    assert page.input_value(".plf-search") == "^parse$"


def test_html_in_names_is_text_and_runs_nothing(browser: Any, tmp_path: Path) -> None:
    stacks = [*SMALL, (["main", EVIL, EVIL2], 40), (["main", EVIL2], 20), (["main", UNI], 30)]
    out = write(tmp_path / "evil.html", flame_html(make_profile(stacks), title=EVIL))
    page = open_page(browser, out)
    node = page.evaluate(NODE_XY, EVIL)
    page.mouse.move(node["x"], node["y"])
    assert EVIL in page.locator(".plf-tip").inner_text()
    page.mouse.click(node["x"], node["y"])
    assert EVIL in page.locator(".plf-crumbs").inner_text()
    assert EVIL2 in page.locator(".plf-table").inner_text()
    page.wait_for_timeout(200)
    assert page.evaluate("() => [window.__pwned, window.__pwned2]") == [None, None]
    assert page.locator("img").count() == 0
    assert EVIL in page.title()
    page.keyboard.press("Escape")  # back to the root, where the unicode frame is drawn
    uni = page.evaluate(NODE_XY, UNI)
    page.mouse.move(uni["x"], uni["y"])
    assert page.locator(".plf-tip-name").inner_text() == UNI
    assert page.errors == []


def test_diff_export_shows_growth_and_shrinkage(browser: Any, tmp_path: Path) -> None:
    cmp = Comparison(make_profile(BASE), make_profile(NEW))
    out = write(tmp_path / "diff.html", diff_html(cmp, width_by="max"))
    page = open_page(browser, out)
    stats = page.evaluate(CANVAS_STATS)
    assert stats["red"] > 0 and stats["blue"] > 0  # x grew, gone shrank
    node = page.evaluate(NODE_XY, "x")
    page.mouse.move(node["x"], node["y"])
    tip = page.locator(".plf-tip").inner_text()
    assert "base: 10 ns" in tip and "new: 40 ns" in tip and "+30 ns (+300.0%)" in tip
    page.check(".plf-normalize")
    page.mouse.move(node["x"] + 1, node["y"])
    tip = page.locator(".plf-tip").inner_text()
    assert "(normalized)" in tip and "base: 17.8 ns" in tip
    table = page.locator(".plf-table").inner_text()
    assert "appeared" in table and "disappeared" in table
    nested = """() => { const t = window.__plf[0].view.tree; let bad = 0;
      for (let i = 1; i < t.n; i++) { const p = t.parent[i];
        if (t.start[i] < t.start[p] - 1e-9) bad++;
        if (t.start[i] + t.width[i] > t.start[p] + t.width[p] + 1e-6) bad++; }
      return bad; }"""
    assert page.evaluate(nested) == 0  # the browser's max(base, new) layout nests
    page.select_option(".plf-width-by", "new")
    assert page.evaluate(nested) == 0
    assert page.errors == []


def test_sandwich_view_draws_callers_above_callees(browser: Any, tmp_path: Path) -> None:
    prof = make_profile(SMALL)
    out = write(tmp_path / "flame.html", flame_html(prof))
    sw = sandwich(prof, "parse")
    payloads = [base64.b64encode(encode_tree(t)).decode() for t in (sw.callers, sw.callees)]
    page = open_page(browser, out)
    page.evaluate(
        """([a, b]) => { const m = window.__plfModule;
        const tree = (s) => new m.Tree(m.decodePayload(m.base64ToBytes(s)));
        window.__plf[0].showSandwich(tree(a), tree(b), 'parse'); }""",
        payloads,
    )
    assert "sandwich of parse" in page.locator(".plf-sandwich").inner_text()
    canvases = page.locator(".plf-sandwich .plf-canvas")
    assert canvases.count() == 2
    for part in ("callers", "callees"):
        stats = page.evaluate(CANVAS_STATS, f".plf-{part} canvas")
        assert stats["painted"] > 0.2 and stats["h"] > 0
    # callers grow upwards: the function is the bottom row of the upper canvas
    rows = page.evaluate("() => window.__plf[0].extra.map((v) => [v.rows, v.opts.orientation])")
    assert rows == [[3, "flame"], [3, "icicle"]]
    page.click(".plf-back")
    assert page.locator(".plf-sandwich").count() == 0
    assert page.errors == []


#: JS: the worst label contrast over the palettes (package hues, self shares, diff changes).
WORST_CONTRAST = """(dark) => { const m = window.__plfModule; let worst = 99, at = '';
  const fills = [];
  for (let k = 0; k < 400; k++) fills.push(m.packageColour('pkg' + k + '/x', dark));
  for (let s = 0; s <= 1.0001; s += 0.02) fills.push(m.selfColour(s, dark));
  for (let r = -1; r <= 1.0001; r += 0.02) fills.push(m.diffColour(r, dark));
  fills.push(m.diffColour(0, dark), m.diffColour(5, dark), m.diffColour(-5, dark));
  for (const f of fills) { const c = m.contrast(f, m.labelColour(f));
    if (c < worst) { worst = c; at = f; } }
  return [worst, at]; }"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_label_contrast_is_at_least_4_5(browser: Any, tmp_path: Path, scheme: str) -> None:
    out = write(tmp_path / "flame.html", flame_html(make_profile(SMALL)))
    page = browser.new_page(viewport={"width": 1000, "height": 700}, color_scheme=scheme)
    page.goto(out.as_uri())
    page.wait_for_function("window.__plfFirstPaint !== undefined")
    dark = page.evaluate("() => window.__plf[0].view.dark")
    assert dark == (scheme == "dark")  # the palette follows the page's theme
    worst, fill = page.evaluate(WORST_CONTRAST, dark)
    assert worst >= 4.5, fill
    # the strongest diff red and blue, which had black labels at about 3.7:1
    for rel in (1, -1):
        ratio = page.evaluate(
            "([r, d]) => { const m = window.__plfModule, f = m.diffColour(r, d);"
            " return m.contrast(f, m.labelColour(f)); }",
            [rel, dark],
        )
        assert ratio >= 4.5


def test_labels_are_shortened_in_the_middle(browser: Any, tmp_path: Path) -> None:
    page = open_page(browser, write(tmp_path / "f.html", flame_html(make_profile(SMALL))))
    short = page.evaluate(
        "(xs) => xs.map(([s, n]) => window.__plfModule.shortenLabel(s, n))",
        [
            ["encoding/json.(*encodeState).marshal", 30],
            ["encoding/json.(*encodeState).marshal", 16],
            ["net/http.(*conn).serve", 16],
            ["main.run", 20],
        ],
    )
    # the package path goes first; then the middle of what is left, never the end
    assert short == [
        "en…json.(*encodeState).marshal",
        "json.…e).marshal",
        "http.…onn).serve",
        "main.run",
    ]


def test_diff_over_a_tiny_baseline_warns(browser: Any, tmp_path: Path) -> None:
    tiny = make_profile([Sample(["main", "a"], [5])], (("samples", "count"),))
    big = make_profile([Sample(["main", "a"], [870])], (("samples", "count"),))
    cmp = Comparison(tiny, big)
    page = open_page(browser, write(tmp_path / "d.html", diff_html(cmp, normalize=True)))
    warning = page.locator(".plf-warning")
    assert warning.is_visible()
    text = warning.inner_text()
    assert "base side rests on about 5 samples" in text and "totals differ ×174" in text
    legend = page.locator(".plf-legend").inner_text()
    assert "grew" in legend and "shrank" in legend
    same = Comparison(big, big)
    page = open_page(browser, write(tmp_path / "s.html", diff_html(same)))
    assert page.locator(".plf-warning").inner_text() == ""
