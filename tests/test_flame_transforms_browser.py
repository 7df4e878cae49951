"""The FlameGraph transform menu and chips in real headless Chromium (the widget's own ESM
against the Python widget, see tests/widget_page.py): right-click a frame, merge it, undo
the chip; the keyboard way; the menu at the right edge; escaped names; errors as text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from profilelab.widgets import FlameGraph
from tests.flame_browser import NODE_XY, chromium
from tests.flame_support import make_profile
from tests.test_flame_transforms_widget import EVIL, STACKS, TOTAL, exact, menu_specs
from tests.widget_page import WidgetPage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def synced(wp: WidgetPage, before: int) -> None:
    """Wait until the page sent a change after ``before``, then send Python's state back."""
    wp.page.wait_for_function(f"(window.__synced || 0) > {before}")
    wp.push()


def count(wp: WidgetPage) -> int:
    return int(wp.page.evaluate("() => window.__synced || 0"))


def shown(wp: WidgetPage) -> tuple[float, list[str]]:
    return tuple(  # type: ignore[return-value]
        wp.page.evaluate(
            "() => { const t = window.__plf[0].view.tree; const names = [];"
            " for (let i = 0; i < t.n; i++) names.push(t.nameOf(i)); return [t.total[0], names]; }"
        )
    )


def test_right_click_merge_then_remove_the_chip(browser: Any) -> None:
    w = FlameGraph(make_profile(STACKS))
    wp = WidgetPage(browser, {"flame": w}, width=1000)
    page = wp.page
    assert page.locator(".plf-transforms-hint").is_visible()
    node = page.evaluate(NODE_XY, "a")
    page.mouse.click(node["x"], node["y"], button="right")
    menu = page.locator(".plf-menu")
    assert menu.is_visible() and page.locator(".plf-menu-title").inner_text() == "a"
    assert page.evaluate("() => document.activeElement.dataset.transform") == "merge_function"
    n = count(wp)
    page.click(".plf-menu-item[data-transform='merge_function']")
    synced(wp, n)
    assert w.transforms == [["merge_function", "^a$"]]
    total, names = shown(wp)
    assert total == TOTAL and "a" not in names
    chip = page.locator(".plf-chip")
    assert chip.count() == 1 and chip.inner_text().startswith("1. merge function")
    assert "--merge-function '^a$'" in (page.locator(".plf-command").text_content() or "")
    assert menu.count() == 0  # the menu closed

    n = count(wp)
    page.click(".plf-chip-remove")
    synced(wp, n)
    total, names = shown(wp)
    assert w.transforms == [] and total == TOTAL and "a" in names
    assert page.locator(".plf-chip").count() == 0 and not wp.errors


def test_keyboard_menu_and_chips_undo_any_one(browser: Any) -> None:
    w = FlameGraph(make_profile(STACKS), transforms=[["merge_function", "^x$"]])
    wp = WidgetPage(browser, {"flame": w}, width=1000)
    page = wp.page
    page.focus(".plf-canvas")
    page.keyboard.press("Shift+F10")  # the zoomed frame: "all" at first
    assert page.locator(".plf-menu-title").inner_text() == "all samples"
    assert page.evaluate("() => document.activeElement.dataset.transform") == "left_heavy"
    page.keyboard.press("Escape")
    assert page.locator(".plf-menu").count() == 0
    assert page.evaluate("() => document.activeElement.classList.contains('plf-canvas')")
    # zoom into "b" (through a click), then the keyboard menu is about b
    node = page.evaluate(NODE_XY, "b")
    n = count(wp)
    page.mouse.click(node["x"], node["y"])
    synced(wp, n)
    page.keyboard.press("Shift+F10")
    assert page.locator(".plf-menu-title").inner_text() == "b"
    for _ in range(4):  # merge function, merge call node, focus function, focus subtree
        page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.transform") == "drop_function"
    n = count(wp)
    page.keyboard.press("Enter")
    synced(wp, n)
    assert w.transforms == [["merge_function", "^x$"], ["drop_function", "^b$"]]
    assert shown(wp)[0] == TOTAL - 10 - 5 - 4  # the samples through b are gone
    # remove the first chip: the second stays
    n = count(wp)
    page.locator(".plf-chip-remove").first.click()
    synced(wp, n)
    assert w.transforms == [["drop_function", "^b$"]]
    assert page.locator(".plf-chip").inner_text().startswith("1. drop function")
    assert not wp.errors


def test_arrow_keys_choose_the_frame_of_the_keyboard_menu(browser: Any) -> None:
    w = FlameGraph(make_profile(STACKS))
    wp = WidgetPage(browser, {"flame": w}, width=1000)
    page = wp.page
    page.focus(".plf-canvas")
    page.keyboard.press("ArrowDown")  # main
    page.keyboard.press("ArrowDown")  # its first child (siblings are sorted by name)
    assert page.locator(".plf-sr").inner_text() == f"{EVIL}: 1 ns"
    page.keyboard.press("ArrowRight")  # the next sibling
    assert page.locator(".plf-sr").inner_text() == "a: 15 ns"
    name = "a"
    node = page.evaluate(NODE_XY, name)
    box = page.locator(".plf-cursor").bounding_box()
    assert box is not None and box["x"] <= node["x"] <= box["x"] + box["width"]
    assert box["y"] <= node["y"] <= box["y"] + box["height"]  # outlined where it is drawn
    page.keyboard.press("Shift+F10")
    assert page.locator(".plf-menu-title").inner_text() == name
    page.keyboard.press("Escape")
    n = count(wp)
    page.keyboard.press("Enter")  # zoom into it, as a click does
    synced(wp, n)
    assert w.focus == name and w.root == ["main", name]
    assert not wp.errors


def test_menu_entries_are_the_core_transforms(browser: Any) -> None:
    w = FlameGraph(make_profile(STACKS), width_px=4000)
    wp = WidgetPage(browser, {"flame": w}, width=1000)
    got = wp.page.evaluate(
        "() => { const app = window.__plf[0], t = app.view.tree, out = [];"
        " for (let i = 0; i < t.n; i++) for (const e of app.transformMenu.entries(i))"
        "   if (!e.disabled) out.push(e.spec);"
        " return out; }"
    )
    assert {tuple(s) for s in got} == set(menu_specs(w))
    assert ["merge_function", exact("std::vector<int>::at(x) [y]")] in got


def test_menu_stays_inside_near_the_right_edge(browser: Any) -> None:
    w = FlameGraph(make_profile(STACKS))
    wp = WidgetPage(browser, {"flame": w}, width=1000)
    page = wp.page
    box = page.locator(".plf-canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 3, box["y"] + 9, button="right")
    rect = page.evaluate(
        "() => { const r = document.querySelector('.plf-menu').getBoundingClientRect();"
        " return [r.left, r.right, r.top, r.bottom, window.innerWidth, window.innerHeight]; }"
    )
    left, right, top, bottom, vw, vh = rect
    assert left >= 0 and right <= vw and top >= 0 and bottom <= vh
    page.mouse.click(5, 5)  # a click elsewhere closes it
    assert page.locator(".plf-menu").count() == 0


def test_names_are_text_and_errors_are_messages(browser: Any) -> None:
    w = FlameGraph(
        make_profile(STACKS),
        transforms=[
            ["merge_function", exact(EVIL)],
            ["merge_call_node", "nowhere;x"],
            ["collapse_package", "^net/http\\b"],
        ],
    )
    wp = WidgetPage(browser, {"flame": w}, width=1000)
    page = wp.page
    chip = page.locator(".plf-chip").first
    assert EVIL in chip.inner_text()  # the name, shown as text
    assert page.evaluate("() => window.__pwned") is None
    assert "transform 2: merge call node nowhere;x changes nothing" in (
        page.locator(".plf-transform-notes").inner_text()
    )
    assert "plf-chip-inert" in (page.locator(".plf-chip").nth(1).get_attribute("class") or "")
    assert page.locator(".plf-chip").nth(2).inner_text().startswith("3. collapse package net/http")
    w.transforms = [["focus_function", "(("]]
    wp.push()
    assert "parsing focus_function regexp" in page.locator(".plf-error").inner_text()
    assert not wp.errors
