"""FlameGraph / DiffFlameGraph Python side: traits drive re-queries; payloads decode."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from profilelab.views.encode import decode
from tests.flame_support import Sample, make_profile
from tests.test_views_diff import BASE, NEW
from tests.test_views_flame import SMALL

pytest.importorskip("anywidget")

from profilelab.widgets import DiffFlameGraph, FlameGraph


def wide_profile() -> list[tuple[list[str], int]]:
    return [(["main", "a", f"x{i}"], 1) for i in range(50)] + [(["main", "b"], 10_000)]


def test_zoom_requeries_only_when_detail_is_missing() -> None:
    w = FlameGraph(make_profile(wide_profile()), width_px=200)
    meta, arrays, strings = decode(w._tree)
    assert meta["root_path"] == [] and "x0" not in strings
    first = w._tree
    w.root = ["main"]  # main is as wide as the root: the payload already has full detail
    assert w._tree is first
    w.root = ["main", "a"]  # 50 of 10050: its children were folded, so Python rebuilds
    meta, arrays, strings = decode(w._tree)
    assert meta["root_path"] == ["main", "a"] and "x0" in strings and arrays["total"][0] == 50
    w.root = []
    assert decode(w._tree)[0]["root_path"] == []


def test_filters_views_and_errors() -> None:
    prof = make_profile(
        [
            Sample(["main", "serve", "parse"], [1, 10], {"endpoint": "/a"}),
            Sample(["main", "gc"], [1, 40], {"endpoint": "/b"}),
        ]
    )
    w = FlameGraph(prof)
    assert w.sample_types == ["samples", "cpu"] and w.sample_type == "cpu"
    assert w.label_choices == {"endpoint": ["/a", "/b"]} or w.label_choices == {
        "endpoint": ["/b", "/a"]
    }
    w.labels = {"endpoint": "/a"}
    assert decode(w._tree)[1]["total"][0] == 10
    w.labels = {}
    w.focus_regex = "(("
    assert "parsing focus regexp" in w.error
    w.focus_regex = "gc"
    assert w.error == "" and decode(w._tree)[1]["total"][0] == 40
    w.focus_regex = ""
    w.sample_type = "samples"
    assert decode(w._tree)[1]["total"][0] == 2
    w.view = "inverted"
    assert decode(w._tree)[0]["kind"] == "inverted"
    w.sandwich_function = "serve"
    w.view = "sandwich"
    callers, callees = decode(w._callers), decode(w._callees)
    assert callers[0]["kind"] == "callers" and callees[1]["total"][0] == 1
    w.root = ["nope"]
    assert "no frame named 'nope'" in w.error
    table = decode(w._table)
    assert set(table[2]) == {"parse", "gc"}


def test_widget_to_html(tmp_path: Path) -> None:
    w = FlameGraph(make_profile(SMALL))
    w.granularity = "file"
    out = w.to_html(tmp_path / "w.html")
    assert out.read_text().startswith("<!DOCTYPE html>")
    d = DiffFlameGraph(make_profile(BASE), make_profile(NEW), width_by="max")
    assert decode(d._tree)[0]["width_by"] == "max"
    d.normalize = True
    assert set(d.table()["status"]) >= {"appeared", "disappeared"}
    assert d.to_html(tmp_path / "d.html").stat().st_size > 1000


def test_profile_notebook_display_escapes_names() -> None:
    evil = "<img src=x onerror=alert(1)>"
    bundle = make_profile([*SMALL, (["main", evil], 5)])._repr_mimebundle_()
    assert bundle["text/plain"].startswith("<Profile")
    page = bundle["text/html"]
    assert "<table" in page and "<iframe srcdoc=" in page and 'sandbox="allow-scripts"' in page
    assert evil not in page and "<img" not in page  # only inside escaped srcdoc
    srcdoc = page.split('srcdoc="', 1)[1].split('"', 1)[0]
    assert html.unescape(srcdoc).startswith("<!DOCTYPE html>")
