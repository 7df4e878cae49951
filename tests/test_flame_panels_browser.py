"""The FlameGraph widget's source panel and call-graph view in real headless Chromium (the
widget's own front end, Python state synced as in a notebook): per-line costs equal
Profile.list, a missing file lists where it was looked for, clicking a call-graph node
focuses the flame graph, pan and zoom move the drawing, hostile names stay text."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from profilelab.widgets import FlameGraph
from tests.flame_browser import NODE_XY, chromium
from tests.flame_support import make_profile
from tests.test_flame_panels import EVIL, EVIL2, source_tree
from tests.test_views_flame import SMALL
from tests.widget_page import WidgetPage

pytestmark = pytest.mark.browser
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is missing")

#: JS: the source panel's rows as [line, flat, cum, flat text, cum text, code].
ROWS = """() => [...document.querySelectorAll('.plf-src-row')].map((r) => [+r.dataset.line,
  +r.dataset.flat, +r.dataset.cum, r.children[1].textContent, r.children[2].textContent,
  r.children[3].textContent])"""

#: JS: the centre (page coordinates) of the call-graph node of function ``name``.
GRAPH_NODE = """(name) => {
  const g = [...document.querySelectorAll('.plf-gnode')].find((n) => n.dataset.name === name);
  if (!g) return null;
  const r = g.querySelector('path').getBoundingClientRect();
  return {x: r.left + r.width / 2, y: r.top + r.height / 2};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def synced(wp: WidgetPage, act: Any) -> None:
    """Do ``act`` (a click), wait for the widget's state to reach Python, send it back."""
    before = wp.page.evaluate("() => window.__synced || 0")
    act()
    wp.page.wait_for_function(f"(window.__synced || 0) > {before}")
    wp.push()


def click_frame(wp: WidgetPage, name: str) -> None:
    node = wp.page.evaluate(NODE_XY, name)
    synced(wp, lambda: wp.page.mouse.click(node["x"], node["y"]))


def test_source_panel_shows_profile_list_costs(browser: Any, tmp_path: Path) -> None:
    profile = make_profile(SMALL)
    src = str(source_tree(tmp_path))
    w = FlameGraph(profile, source_path=src)
    wp = WidgetPage(browser, {"flame": w}, width=1000)
    assert not wp.page.locator(".plf-source").is_visible()
    click_frame(wp, "serve")
    click_frame(wp, "parse")
    wp.page.wait_for_selector(".plf-src-row")
    rows = wp.page.evaluate(ROWS)
    want = profile.list("^parse$", source_path=src)
    assert [r[:3] for r in rows] == [
        list(r) for r in want.select("line", "flat", "cum").iter_rows()
    ]
    assert [r[5] for r in rows] == want["source"].to_list()
    hot = next(r for r in rows if r[0] == 31)
    assert hot[3:5] == ["30 ns", "44 ns"]  # both numbers, in the profile's unit
    assert all(r[3] == "." and r[4] == "." for r in rows if r[0] != 31)
    head = wp.page.locator(".plf-src-head").inner_text()
    assert "source of parse" in head and "nanoseconds" in head
    assert wp.page.locator(".plf-src-hot").get_attribute("data-line") == "31"
    # the hottest line is scrolled into the listing's view
    inside = wp.page.evaluate(
        "() => { const w = document.querySelector('.plf-src-lines'), h = w.querySelector("
        "'.plf-src-hot'); return h.offsetTop >= w.scrollTop && h.offsetTop + h.offsetHeight"
        " <= w.scrollTop + w.clientHeight; }"
    )
    assert inside
    # a sandwich replaces the canvas above the panel: the panel stays under it
    w.sandwich_function = "parse"
    w.view = "sandwich"
    wp.push()
    wp.page.wait_for_selector(".plf-sandwich .plf-callees canvas")
    tops = wp.page.evaluate(
        "() => [document.querySelector('.plf-sandwich').getBoundingClientRect().bottom,"
        " document.querySelector('.plf-source').getBoundingClientRect().top]"
    )
    assert tops[0] <= tops[1]
    wp.page.click(".plf-src-close")
    assert not wp.page.locator(".plf-source").is_visible()
    assert wp.errors == []


def test_missing_file_says_where_it_looked(browser: Any, tmp_path: Path) -> None:
    profile = make_profile([(["main", EVIL], 5), (["main", "ok"], 3)])
    w = FlameGraph(profile, source_path=str(tmp_path))
    wp = WidgetPage(browser, {"flame": w}, width=800)
    click_frame(wp, EVIL)
    wp.page.wait_for_selector(".plf-src-missing")
    text = wp.page.locator(".plf-src-missing").inner_text()
    (routine,) = w._source["routines"]
    assert routine["file"].endswith(f"/{EVIL}.go")
    assert f"could not find the source file {routine['file']}" in text
    assert "looked in:" in text and "source_path" in text
    looked = wp.page.locator(".plf-src-looked li").all_inner_texts()
    assert looked == routine["looked_in"] and looked[0] == str(tmp_path / routine["file"])
    assert wp.page.locator(".plf-src-fn").inner_text() == EVIL
    assert wp.page.evaluate("() => window.__pwned") is None
    assert wp.errors == []


@needs_dot
def test_call_graph_node_click_focuses_the_flame_graph(browser: Any) -> None:
    profile = make_profile(SMALL)
    w = FlameGraph(profile)
    wp = WidgetPage(browser, {"flame": w}, width=1000)
    page = wp.page
    synced(wp, lambda: page.click(".plf-tab-graph"))
    page.wait_for_selector(".plf-gnode", state="attached")
    assert page.locator(".plf-canvas").is_hidden() and page.locator(".plf-graph-box").is_visible()
    nodes, _ = profile.graph(names="full")
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('.plf-gnode')].map((g) => g.dataset.name)"
    )
    assert sorted(drawn) == sorted(nodes["name"].to_list())

    # pan (drag) and zoom (wheel, buttons) move the drawing; reset fits it again
    transform = "() => document.querySelector('.plf-graph-svg > g').getAttribute('transform')"
    fitted = page.evaluate(transform)
    box = page.locator(".plf-graph-box").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.wheel(0, -300)
    zoomed = page.evaluate(transform)
    assert zoomed != fitted and float(zoomed.split("scale(")[1][:-1]) > float(
        fitted.split("scale(")[1][:-1]
    )
    page.mouse.move(box["x"] + 30, box["y"] + 30)
    page.mouse.down()
    page.mouse.move(box["x"] + 90, box["y"] + 70, steps=4)
    page.mouse.up()
    panned = page.evaluate(transform)
    assert panned.split(" scale")[0] != zoomed.split(" scale")[0]
    page.click(".plf-graph-out")
    assert page.evaluate(transform) != panned
    page.click(".plf-graph-reset")
    assert page.evaluate(transform) == fitted
    page.click(".plf-graph-fit")  # SMALL's graph is readable whole: its first view
    assert page.evaluate(transform) == fitted

    xy = page.evaluate(GRAPH_NODE, "parse")
    synced(wp, lambda: page.mouse.click(xy["x"], xy["y"]))
    page.wait_for_function("() => window.__plf[0].view.tree.meta.root_path[0] === 'parse'")
    view = page.evaluate(
        "() => { const v = window.__plf[0].view, t = v.tree; return [t.nameOf(v.zoomNode),"
        " t.total[v.zoomNode], v.canvas.getBoundingClientRect().width > 0]; }"
    )
    cum = profile.top().filter(pl.col("name") == "parse")["cum"][0]
    assert view == ["parse", cum, True]
    assert w.focus_function == "parse" and w.tab == "flame"
    chip = " ".join(page.locator(".plf-focus-chip").inner_text().split())
    assert chip == "focused on parse ×"
    crumbs = page.locator(".plf-crumbs").inner_text()
    assert crumbs.rstrip().endswith("parse")
    synced(wp, lambda: page.click(".plf-chip-clear"))
    page.wait_for_function("() => window.__plf[0].view.tree.meta.root_path.length === 0")
    assert page.evaluate("() => window.__plf[0].view.tree.total[0]") == 84
    # the keyboard reaches nodes too: Enter on a focused node focuses its function
    synced(wp, lambda: page.click(".plf-tab-graph"))
    page.evaluate(
        "() => [...document.querySelectorAll('.plf-gnode')]"
        ".find((g) => g.dataset.name === 'write').focus()"
    )
    synced(wp, lambda: page.keyboard.press("Enter"))
    assert w.focus_function == "write" and w.tab == "flame"
    assert wp.errors == []


@needs_dot
def test_hostile_names_in_the_call_graph_stay_text(browser: Any) -> None:
    profile = make_profile([(["main", EVIL, EVIL2], 5), (["main", "ok"], 3)])
    w = FlameGraph(profile, tab="graph")
    wp = WidgetPage(browser, {"flame": w}, width=900)
    page = wp.page
    page.wait_for_selector(".plf-gnode", state="attached")
    texts = page.evaluate(
        "() => [...document.querySelectorAll('.plf-graph-svg text')].map((t) => t.textContent)"
    )
    assert EVIL in texts or any(EVIL[:10] in t for t in texts)
    assert (
        page.evaluate("() => document.querySelectorAll('.plf-graph img, .plf-graph script').length")
        == 0
    )
    xy = page.evaluate(GRAPH_NODE, EVIL2)
    synced(wp, lambda: page.mouse.click(xy["x"], xy["y"]))
    assert w.focus_function == EVIL2
    page.wait_for_function("() => window.__plf[0].view.tree.meta.root_path.length === 1")
    assert page.evaluate("() => window.__plf[0].view.tree.meta.root_path[0]") == EVIL2
    assert page.evaluate("() => [window.__pwned, window.__pwned2]") == [None, None]
    assert wp.errors == []


@needs_dot
def test_a_big_graph_opens_readable_at_its_hottest_function(browser: Any) -> None:
    """Too big to read whole in 800 px: the first view is at a readable scale around the
    function with the largest cum; "whole graph" fits it all."""
    stacks = [
        (["main", f"svc{i}", f"handler{i}", f"db{i % 7}", f"leaf{i}"], 10 + i) for i in range(40)
    ]
    w = FlameGraph(make_profile(stacks), tab="graph")
    wp = WidgetPage(browser, {"flame": w}, width=800)
    page = wp.page
    page.wait_for_selector(".plf-gnode", state="attached")
    scale = (
        "() => +document.querySelector('.plf-graph-svg > g').getAttribute('transform')"
        ".split('scale(')[1].slice(0, -1)"
    )
    assert page.evaluate(scale) == pytest.approx(0.8)
    xy = page.evaluate(GRAPH_NODE, "main")  # the largest cum, in view
    box = page.locator(".plf-graph-box").bounding_box()
    assert (
        box["x"] < xy["x"] < box["x"] + box["width"]
        and box["y"] < xy["y"] < box["y"] + box["height"]
    )
    page.click(".plf-graph-fit")
    fit = page.evaluate(scale)
    assert fit < 0.8 and fit * w._graph["width"] <= box["width"] + 1
    page.click(".plf-graph-reset")
    assert page.evaluate(scale) == pytest.approx(0.8)
    assert wp.errors == []


def test_without_dot_the_view_says_so(browser: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    w = FlameGraph(make_profile(SMALL), tab="graph")
    wp = WidgetPage(browser, {"flame": w}, width=800)
    message = wp.page.locator(".plf-graph-message").inner_text()
    assert "'dot'" in message and "graphviz" in message and "\n" not in message.strip()
    assert wp.page.locator(".plf-graph-box").is_hidden()
    assert wp.errors == []
