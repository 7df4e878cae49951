"""The span explorer's Python-side behaviour, and the ``spans`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from _tracefix import T0_NS, WRITERS, World, make_world, pprof_bytes

import profilelab
from profilelab.cli import main

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

SLOW = "main.applyDiscountsSlow"


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def files(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("spans")
    trace, prof = d / "traces.json", d / "cpu.pb"
    trace.write_bytes(WRITERS["zipkin"](world))
    last = max(s.end_ns for s in world.spans)
    prof.write_bytes(pprof_bytes(world.samples, T0_NS, last - T0_NS))
    return trace, prof


@pytest.fixture()
def explorer(files: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    from profilelab.widgets.spans import SpanExplorer

    trace, prof = files
    joined = profilelab.join_spans(profilelab.load(prof), profilelab.load_traces(trace))
    return SpanExplorer(joined)


def test_table_filters_and_sorts(explorer) -> None:  # type: ignore[no-untyped-def]
    assert explorer.visible().height == 180
    explorer.filter(service="orders", name="GET /order")
    vis = explorer.visible()
    assert vis.height == 30 and set(vis["name"]) == {"GET /order"}
    assert vis["duration_ns"].to_list() == sorted(vis["duration_ns"].to_list(), reverse=True)
    assert len(explorer._list.options) == 30
    assert (explorer._service_box.value, explorer._name_box.value) == ("orders", "GET /order")
    explorer._name_box.value = "render"  # a change in the dropdown filters too
    assert set(explorer.visible()["name"]) == {"render"}
    explorer.filter(service="orders", name="GET /order")
    # the histogram bins log10(ms) of every filtered span, not only the listed ones
    ms = list(10 ** np.asarray(explorer._histogram.data[0].x))
    assert ms == pytest.approx((explorer.filtered()["duration_ns"] / 1e6).to_list())
    explorer.sort("duration (shortest first)")
    assert explorer.visible()["duration_ns"].is_sorted()
    with pytest.raises(ValueError):
        explorer.sort("colour")


def test_list_cap_is_said_and_histogram_counts_every_span(files: tuple[Path, Path]) -> None:
    from profilelab.widgets.spans import HEADER, SpanExplorer

    trace, prof = files
    joined = profilelab.join_spans(profilelab.load(prof), profilelab.load_traces(trace))
    ex = SpanExplorer(joined, max_rows=20)
    assert len(ex._list.options) == 20 and len(ex._histogram.data[0].x) == 180
    assert "20 of 180 spans in the list" in ex._cap_note.value
    assert "the histogram counts all 180" in ex._cap_note.value
    assert HEADER.split() == ["duration", "samples", "service", "name", "trace/span"]
    assert ex._list_head.value.count("samples") == 1
    assert "drag across the histogram" in ex._detail.children[0].value  # the hint


def test_brushed_spans_are_highlighted_and_counted_alike(explorer) -> None:  # type: ignore[no-untyped-def]
    from plotly.callbacks import BoxSelector

    explorer.filter(name="GET /order")
    explorer._on_brush(None, None, BoxSelector(xrange=[np.log10(150.0), np.log10(10_000.0)]))
    rows = explorer.selected_rows
    assert len(rows) == 3 and sorted(explorer._list.value) == sorted(rows)
    chosen = explorer.table.filter(pl.col("span_row").is_in(rows))
    summary = explorer._detail.children[0].value
    assert "<b>3 spans</b>, median" in summary
    # the summary counts samples as the list's "samples" column does
    assert f"{chosen['local_samples'].sum()} samples" in summary


def test_brushing_the_histogram_shows_the_slow_spans_profile(explorer, world: World) -> None:  # type: ignore[no-untyped-def]
    from plotly.callbacks import BoxSelector

    explorer.filter(name="GET /order")
    explorer._on_brush(None, None, BoxSelector(xrange=[np.log10(150.0), np.log10(10_000.0)]))
    chosen = explorer.table.filter(pl.col("span_row").is_in(explorer.selected_rows))
    assert set(chosen["trace_id"]) == world.slow_traces
    profile = explorer.selected_profile
    assert profile is not None
    assert profile.samples.height == explorer.join.profile_of(explorer.selected_rows).samples.height
    assert explorer.detail_kind in ("flame", "table")
    assert f"top: <code>{SLOW}</code>" in explorer._detail.children[0].value
    if explorer.detail_kind == "table":  # no FlameGraph widget in this checkout
        assert explorer.notes and "FlameGraph" in explorer.notes[0]
        html = explorer._detail.children[1].value
        assert html.index(SLOW) < html.index("encoding/json.Marshal")


def test_selecting_in_the_table_and_diff_mode(explorer, world: World) -> None:  # type: ignore[no-untyped-def]
    explorer.filter(name="GET /order")
    slow_rows = explorer.visible().head(3)["span_row"].to_list()
    explorer._list.value = tuple(slow_rows)  # what a click in the browser does
    assert explorer.selected_rows == slow_rows
    explorer.set_mode("diff")
    assert explorer.detail_kind in ("diff", "table")
    assert explorer.diff_functions["function"][0] == SLOW
    explorer.select([])
    assert explorer.selected_profile is None and explorer.detail_kind == "none"


def test_cohort_diff_widget(explorer) -> None:  # type: ignore[no-untyped-def]
    import ipywidgets

    widget = explorer.join.cohort_diff("GET /order", n=3).widget()
    assert isinstance(widget, ipywidgets.DOMWidget)
    if isinstance(widget, ipywidgets.HTML):  # the table fallback
        assert SLOW in widget.value


def test_names_are_escaped() -> None:
    from profilelab.widgets.spans import diff_table_html

    df = pl.DataFrame(
        {
            "function": ["<script>x</script>"],
            "slow_self": [1.0],
            "median_self": [0.0],
            "delta_self": [1.0],
        }
    )
    assert "<script>" not in diff_table_html(df)


def test_cli_spans_with_profile(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    trace, prof = files
    assert (
        main(
            ["spans", str(trace), "--profile", str(prof), "--name", "GET /order", "--slowest", "3"]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out[1:] if "GET /order" in line]
    assert len(rows) == 3
    for line in rows:
        dur, cpu = float(line.split()[0]), float(line.split()[1])
        assert 0 <= cpu <= dur  # --cores 1
    assert any(line.startswith("samples: 90/92") for line in out)


def test_cli_bad_input_is_one_line(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, prof = files
    assert main(["spans", str(prof)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a trace" in err and "Traceback" not in err
