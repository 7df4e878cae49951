"""``profilelab report``: one offline HTML page with the playbooks' findings, checked as text
and in headless Chromium (charts and flame graphs drawn, nothing fetched)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from profilelab import datasets, playbooks, report
from profilelab.cli import main
from profilelab.errors import QueryError
from profilelab.playbooks import Finding
from profilelab.report.html import Section, Table, render
from tests.flame_browser import CANVAS_STATS, chromium

SRCDOC = re.compile(r'srcdoc="([^"]*)"')


class Links(HTMLParser):
    """Every URL-valued attribute of the document's tags (script bodies are not tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "data", "action", "poster") and value:
                self.urls.append((tag, value))


def external_urls(doc: str) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(doc)
    return [(t, u) for t, u in parser.urls if re.match(r"\s*(https?:)?//", u, re.IGNORECASE)]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of two datasets: charts (heap-leak) and flame and diff graphs (checkout)."""
    try:
        datasets.list()
    except datasets.DatasetError:
        pytest.skip("the datasets are not available")
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "heap-leak", "checkout-api", "-o", str(out)]) == 0
    return out


def documents(text: str) -> list[str]:
    """The page and every page embedded in an iframe's srcdoc."""
    return [text, *(html.unescape(m) for m in SRCDOC.findall(text))]


def test_report_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    docs = documents(text)
    assert len(docs) == 1 + 3  # flame of v1.4.0, diff v1.4.0 -> v1.5.0, growth flame graph
    for doc in docs:
        assert external_urls(doc) == []
        assert not re.search(r"<script[^>]*\ssrc=", doc, re.IGNORECASE)
    from plotly.offline import get_plotlyjs

    assert text.count(get_plotlyjs()[:200]) == 1  # plotly.js inlined once, for every chart
    assert text.count('sandbox="allow-scripts allow-same-origin"') == 3


def test_report_holds_the_findings_with_their_numbers(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    before = datasets.load("checkout-api", variant="before")
    hotspot = playbooks.cpu_hotspot(before, labels={"endpoint": "/checkout"})
    leak = playbooks.memory_leak(datasets.load("heap-leak"))
    for finding in (hotspot, leak):
        assert html.escape(finding.headline) in text
        for detail in finding.details:
            assert html.escape(detail) in text
    assert "encoding/json is on " in text and "main.(*SessionCache).Put holds " in text
    assert "Requests per second" in text and "Top functions by flat (self) time" in text


def test_report_escapes_names_from_the_data() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    table = Table("t", pl.DataFrame({"name": [hostile], "share": [0.5]}), ("share",))
    finding = Finding("p", "q", f"{hostile} grew", {}, (hostile,))
    text = render("r", [Section("s", "S", (finding,), (table,))])
    assert hostile not in text
    assert html.escape(hostile) in text and "50.0%" in text


def test_unknown_dataset_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "no-such-data", "-o", "x.html"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("profilelab: error: no report for dataset 'no-such-data'")
    assert "checkout-api" in err and "all" in err and "Traceback" not in err


def test_dataset_names_expand_all_without_repeats() -> None:
    assert report.names(["all"]) == list(report.STORIES)
    assert report.names(["heap-leak", "all"])[0] == "heap-leak"
    assert len(report.names(["heap-leak", "all"])) == len(report.STORIES)
    with pytest.raises(QueryError, match="name at least one"):
        report.names([])
    with pytest.raises(QueryError, match="unknown format"):
        report.build(["heap-leak"], format="json")


@pytest.mark.browser
def test_report_draws_charts_and_flame_graphs_offline(page: Path) -> None:
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1300, "height": 900})
        fetched: list[str] = []
        errors: list[str] = []
        tab.on("request", lambda r: fetched.append(r.url))
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(page.as_uri())
        tab.wait_for_selector(".js-plotly-plot .main-svg", state="attached")
        charts = tab.locator(".js-plotly-plot").count()
        frames = [f for f in tab.frames if f != tab.main_frame]
        stats = []
        for frame in frames:
            frame.wait_for_function(
                "window.__plf && window.__plf.length && window.__plf[0].view.tree"
            )
            stats.append(frame.evaluate(CANVAS_STATS))
    assert errors == []
    assert all(u.startswith(("file:", "data:", "about:", "blob:")) for u in fetched), fetched
    assert charts == 2  # in-use bytes over time, growth per hour
    assert len(stats) == 3
    for s in stats:
        assert s["w"] > 0 and s["painted"] > 0.05 and s["colours"] > 5, s
    assert stats[1]["red"] > 0 or stats[1]["blue"] > 0  # the diff graph is coloured


def test_report_of_the_java_recordings(tmp_path: Path) -> None:
    try:
        datasets.list()
    except datasets.DatasetError:
        pytest.skip("the datasets are not available")
    out = tmp_path / "java.html"
    assert main(["report", "java-service", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    finding = playbooks.java_hotspot_and_leak(datasets.load("java-service"), app="JavaService")
    assert html.escape(finding.headline) in text
    assert len(documents(text)) == 1 + 2  # the CPU and the live-object flame graphs


#: Resolves true when the frame renders (requestAnimationFrame runs), false after 1.5 s.
RENDERS = (
    "new Promise(r => { requestAnimationFrame(() => r(true)); setTimeout(() => r(false), 1500); })"
)
#: How far each flame page's side table overflows its panel, in pixels.
SIDE_OVERFLOW = (
    "[...document.querySelectorAll('.plf-side')].map(s => s.scrollWidth - s.clientWidth)"
)


@pytest.mark.browser
def test_report_at_1280_px_renders_off_screen_graphs_and_fits_their_tables(page: Path) -> None:
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1280, "height": 800})
        tab.goto(page.as_uri())
        frames = [f for f in tab.frames if f != tab.main_frame]
        for frame in frames:
            frame.wait_for_function("window.__plf && window.__plf.length")
        offscreen = tab.evaluate(
            "[...document.querySelectorAll('iframe')].filter(f => "
            "f.getBoundingClientRect().top > window.innerHeight).length"
        )
        renders = [frame.evaluate(RENDERS) for frame in frames]
        overflow = [px for frame in frames for px in frame.evaluate(SIDE_OVERFLOW)]
        page_width = tab.evaluate("document.documentElement.scrollWidth")
    assert offscreen == len(frames) == 3  # all below the fold, none scrolled to
    assert renders == [True, True, True]  # not suspended as cross-origin frames are
    assert overflow and max(overflow) <= 0, overflow  # "self by function" fits its panel
    assert page_width <= 1280
