"""SpanExplorer: a span list, a latency histogram and, below them, the selection's profile.

Pick spans in the list (sorted by duration, filtered by service and name) or brush a range
of the latency histogram (log time axis, every filtered span counted; the list shows at
most ``max_rows`` and says so): the panel below shows the flame graph of the selected
spans' samples, or, in "diff" mode, the diff of the selection against spans of the same
name near the median duration. The flame graphs are profilelab's ``FlameGraph`` and
``DiffFlameGraph`` widgets when they can be imported; otherwise a top-functions table
(``detail_kind`` says which, ``notes`` why).

The layout is stacked (controls, list, histogram, then the profile) so that it works from
700 px to full width. All state lives in Python (``filter``, ``sort``, ``select``,
``select_duration``, ``selected_rows``, ``selected_profile``), so the behaviour is testable
without a browser;
the ipywidgets/plotly parts only draw it. Function and span names are escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from profilelab.model.profile import Profile
from profilelab.traces.functions import function_values, pick_profiles
from profilelab.traces.spanjoin import SpanJoin

SORTS = {
    "duration (longest first)": ("duration_ns", True),
    "duration (shortest first)": ("duration_ns", False),
    "start time": ("start_ns", False),
    "samples (most first)": ("local_samples", True),
}
ALL = "(all)"
HINT = "Select spans in the list, or drag across the histogram, to see their profile here."
#: One line of the span list and its header (the same widths).
_ROW = "{:>11}  {:>7}  {:<16}  {:<24}  {}"
HEADER = _ROW.format("duration", "samples", "service", "name", "trace/span")


def flame_view(
    profile: Profile, notes: list[str] | None = None, sample_type: str | None = None
) -> tuple[Any, str]:
    """(widget, kind): ``FlameGraph(profile)`` when available, else a top-functions table."""
    try:
        from profilelab.widgets import FlameGraph

        return FlameGraph(profile, sample_type=sample_type), "flame"
    except Exception as exc:  # a missing or incompatible widget must not break the explorer
        if notes is not None:
            notes.append(f"FlameGraph unavailable ({type(exc).__name__}: {exc}); showing a table")
    return _table_widget(top_table_html(profile)), "table"


def diff_view(
    base: Profile,
    target: Profile,
    functions: pl.DataFrame,
    notes: list[str] | None = None,
    sample_type: str | None = None,
) -> tuple[Any, str]:
    """(widget, kind): ``DiffFlameGraph(base, target)`` when available, else the diff table."""
    try:
        from profilelab.widgets import DiffFlameGraph

        return DiffFlameGraph(base, target, sample_type=sample_type), "diff"
    except Exception as exc:
        if notes is not None:
            notes.append(f"DiffFlameGraph unavailable ({type(exc).__name__}: {exc}); table")
    return _table_widget(diff_table_html(functions)), "table"


def top_table_html(profile: Profile, sample_type: str | None = None, limit: int = 25) -> str:
    """An HTML table of the top functions by self value (names escaped)."""
    if profile.samples.height == 0:
        return "<p>no samples attributed to the selection</p>"
    ids, stype, unit = pick_profiles(profile, sample_type)
    top = function_values(profile, ids).sort(["self", "function"], descending=[True, False])
    rows = "".join(
        f"<tr><td>{html.escape(f)}</td><td>{s:,}</td><td>{t:,}</td></tr>"
        for f, s, t in top.head(limit).iter_rows()
    )
    head = f"<tr><th>function</th><th>self ({stype}/{unit})</th><th>total</th></tr>"
    return f"<table>{head}{rows}</table>"


def diff_table_html(functions: pl.DataFrame, limit: int = 25) -> str:
    """An HTML table of a cohort diff (per span: slow, median, delta of self values)."""
    rows = "".join(
        f"<tr><td>{html.escape(r['function'])}</td><td>{r['slow_self']:,.0f}</td>"
        f"<td>{r['median_self']:,.0f}</td><td>{r['delta_self']:+,.0f}</td></tr>"
        for r in functions.head(limit).iter_rows(named=True)
    )
    head = "<tr><th>function</th><th>slow/span</th><th>median/span</th><th>delta</th></tr>"
    return f"<table>{head}{rows}</table>"


def _table_widget(text: str) -> Any:
    import ipywidgets as w

    return w.HTML(value=text)


class SpanExplorer:
    """Span table + latency histogram + the selection's profile (see the module docstring)."""

    def __init__(self, join: SpanJoin, sample_type: str | None = None, max_rows: int = 500):
        self.join = join
        self.sample_type = sample_type
        self.max_rows = max_rows
        self.table = join.span_table(sample_type).filter(pl.col("duration_ns").is_not_null())
        self.service: str | None = None
        self.name: str | None = None
        self.sort_key = "duration (longest first)"
        self.mode = "profile"  # or "diff"
        self.selected_rows: list[int] = []
        self.selected_profile: Profile | None = None
        self.detail_kind = "none"
        self.notes: list[str] = []
        self.diff_functions: pl.DataFrame | None = None
        self._syncing = False
        self._build_widgets()
        self._refresh_list()
        self._show_detail()  # the hint until something is selected

    # ---- state (pure Python) -------------------------------------------------------------
    def filtered(self) -> pl.DataFrame:
        """Every span of the chosen service and name (what the histogram counts)."""
        df = self.table
        if self.service is not None:
            df = df.filter(pl.col("service") == self.service)
        if self.name is not None:
            df = df.filter(pl.col("name") == self.name)
        return df

    def visible(self) -> pl.DataFrame:
        """The spans the list shows: filtered and sorted, at most ``max_rows``."""
        col, desc = SORTS[self.sort_key]
        df = self.filtered()
        return df.sort([col, "span_row"], descending=[desc, False]).head(self.max_rows)

    def filter(self, service: str | None = None, name: str | None = None) -> None:
        """Show only spans of ``service`` and ``name`` (None: all)."""
        self.service, self.name = service, name
        self._syncing = True  # show the filter in the dropdowns without re-entering here
        try:
            self._service_box.value = ALL if service is None else service
            self._name_box.value = ALL if name is None else name
        finally:
            self._syncing = False
        self._refresh_list()

    def sort(self, key: str) -> None:
        """Order the table by one of :data:`SORTS`."""
        if key not in SORTS:
            raise ValueError(f"sort must be one of {list(SORTS)}, not {key!r}")
        self.sort_key = key
        self._refresh_list()

    def select(self, rows: Sequence[int]) -> None:
        """Select spans by ``span_row`` and show their profile (or diff); the list
        highlights the selected spans it shows."""
        self.selected_rows = [int(r) for r in rows]
        shown = {value for _, value in self._list.options}
        self._syncing = True
        try:
            self._list.value = tuple(r for r in self.selected_rows if r in shown)
        finally:
            self._syncing = False
        self._show_detail()

    def select_duration(self, low_ns: float, high_ns: float) -> None:
        """Select the filtered spans whose duration lies in [low_ns, high_ns] (a brush)."""
        col, desc = SORTS[self.sort_key]
        hit = self.filtered().filter(pl.col("duration_ns").is_between(low_ns, high_ns))
        self.select(hit.sort([col, "span_row"], descending=[desc, False])["span_row"].to_list())

    def set_mode(self, mode: str) -> None:
        """``profile`` (flame graph of the selection) or ``diff`` (against median spans)."""
        if mode not in ("profile", "diff"):
            raise ValueError(f"mode must be profile or diff, not {mode!r}")
        self.mode = mode
        self._show_detail()

    # ---- detail -----------------------------------------------------------------------------
    def _show_detail(self) -> None:
        self.notes.clear()
        self.diff_functions = None
        if not self.selected_rows:
            self.selected_profile, self.detail_kind = None, "none"
            self._detail.children = [_table_widget(f'<p class="plx-hint">{HINT}</p>')]
            return
        self.selected_profile = self.join.profile_of(self.selected_rows)
        if self.mode == "diff":
            widget, self.detail_kind = self._diff_widget()
        else:
            widget, self.detail_kind = flame_view(
                self.selected_profile, self.notes, self.sample_type
            )
        notes = [_table_widget(f"<p><i>{html.escape(n)}</i></p>") for n in self.notes]
        self._detail.children = [self._summary(), widget, *notes]

    def _diff_widget(self) -> tuple[Any, str]:
        from profilelab.traces.analysis import function_diff

        assert self.selected_profile is not None
        chosen = self.table.filter(pl.col("span_row").is_in(self.selected_rows))
        names = chosen["name"].unique().to_list()
        same = self.table.filter(
            pl.col("name").is_in(names) & ~pl.col("span_row").is_in(self.selected_rows)
        )
        if same.height == 0:
            self.notes.append("no other spans of that name to compare with")
            return flame_view(self.selected_profile, self.notes, self.sample_type)
        median = float(same["duration_ns"].median())  # type: ignore[arg-type]
        base_rows = (
            same.with_columns((pl.col("duration_ns") - median).abs().alias("_d"))
            .sort(["_d", "span_row"])
            .head(len(self.selected_rows))["span_row"]
            .to_list()
        )
        base = self.join.profile_of(base_rows)
        ids, _, _ = pick_profiles(self.join.profile, self.sample_type)
        functions = function_diff(
            function_values(self.selected_profile, ids),
            function_values(base, ids),
            len(self.selected_rows),
            len(base_rows),
        )
        self.diff_functions = functions
        return diff_view(base, self.selected_profile, functions, self.notes, self.sample_type)

    def _summary(self) -> Any:
        """One line above the profile: spans, median duration, samples, top function.

        ``samples`` counts what the list's column counts (the spans' own samples and their
        in-process children's), so the numbers agree with the rows they come from."""
        assert self.selected_profile is not None
        chosen = self.table.filter(pl.col("span_row").is_in(self.selected_rows))
        median_ms = float(chosen["duration_ns"].median() or 0) / 1e6  # type: ignore[arg-type]
        samples = int(chosen["local_samples"].sum())
        shown = len(self._list.value)
        listed = "" if shown == len(self.selected_rows) else f" ({shown} of them in the list)"
        text = (
            f"<b>{len(self.selected_rows)} spans</b>{listed}, median {median_ms:.1f} ms, "
            f"{samples} samples"
        )
        top = self._top_function()
        if top:
            text += f"; top: <code>{html.escape(top)}</code>"
        return _table_widget(text)

    def _top_function(self) -> str | None:
        """The function with the largest self value of the selection (of the diff in diff mode)."""
        if self.mode == "diff" and self.diff_functions is not None:
            return str(self.diff_functions["function"][0]) if self.diff_functions.height else None
        assert self.selected_profile is not None
        if self.selected_profile.samples.height == 0:
            return None
        ids, _, _ = pick_profiles(self.selected_profile, self.sample_type)
        top = function_values(self.selected_profile, ids).sort(
            ["self", "function"], descending=[True, False]
        )
        return str(top["function"][0]) if top.height else None

    # ---- drawing ------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        import ipywidgets as w

        services = sorted(s for s in self.table["service"].unique().to_list() if s is not None)
        names = sorted(self.table["name"].unique().to_list())
        box = {"layout": w.Layout(width="auto", min_width="15em", flex="1 1 15em")}
        style = {"style": {"description_width": "initial"}}
        self._service_box = w.Dropdown(
            options=[ALL, *services], description="service", **box, **style
        )
        self._name_box = w.Dropdown(options=[ALL, *names], description="name", **box, **style)
        self._sort_box = w.Dropdown(
            options=list(SORTS), value=self.sort_key, description="sort by", **box, **style
        )
        self._mode_box = w.ToggleButtons(
            options=[
                ("profile of the selection", "profile"),
                ("diff against median spans", "diff"),
            ],
            value="profile",
            description="show",
            style={"description_width": "initial", "button_width": "auto"},
        )
        self._list = w.SelectMultiple(options=[], rows=12, layout=w.Layout(width="100%"))
        self._list.add_class("plx-span-list")
        self._list_head = w.HTML(layout=w.Layout(width="100%"))
        self._cap_note = w.HTML()
        self._histogram = self._make_histogram()
        self._detail = w.VBox(layout=w.Layout(width="100%"))
        self._service_box.observe(lambda _: self._from_controls(), names="value")
        self._name_box.observe(lambda _: self._from_controls(), names="value")
        self._sort_box.observe(lambda ch: self.sort(ch["new"]), names="value")
        self._mode_box.observe(lambda ch: self.set_mode(ch["new"]), names="value")
        self._list.observe(self._from_list, names="value")
        controls = w.HBox(
            [self._service_box, self._name_box, self._sort_box],
            layout=w.Layout(flex_flow="row wrap", width="100%"),
        )
        css = w.HTML(_STYLE)
        fit = _pane_width(self._fit_histogram)
        self.widget = w.VBox(
            [css, fit, controls, self._list_head, self._list, self._cap_note, self._histogram,
             self._mode_box, self._detail],
            # children are 100% wide plus ipywidgets' 2 px margin: padding holds it
            layout=w.Layout(width="100%", padding="0 4px 0 0"),
        )  # fmt: skip
        self.widget.add_class("plx-explorer")

    def _make_histogram(self) -> Any:
        import plotly.graph_objects as go

        # Latencies span decades (p50 0.5 ms, p99 50 ms): bins are even in log10(ms), and
        # the axis is labelled in ms at powers of ten.
        ticks = [m * 10.0**k for k in range(-3, 6) for m in (1, 2, 5)]
        fig = go.FigureWidget(
            data=[go.Histogram(x=[], name="spans", nbinsx=60)],
            layout={
                "height": 240,
                "autosize": True,
                "dragmode": "select",
                "selectdirection": "h",
                "xaxis": {
                    "title": "duration (ms, log scale)",
                    "tickvals": [np.log10(t) for t in ticks],
                    "ticktext": [f"{t:g}" for t in ticks],
                },
                "yaxis": {"title": "spans"},
                "margin": {"l": 50, "r": 10, "t": 12, "b": 40},
            },
        )
        fig.data[0].on_selection(self._on_brush)
        fig.add_class("plx-histogram")  # see _STYLE: no margin, so it stays inside the pane
        return fig

    def _fit_histogram(self, width_px: int) -> None:
        if width_px > 0:
            self._histogram.layout.width = max(240, width_px - 8)

    def _on_brush(self, _trace: Any, _points: Any, selector: Any) -> None:
        xrange = getattr(selector, "xrange", None)
        if xrange:  # the axis is log10(ms)
            self.select_duration(10 ** xrange[0] * 1e6, 10 ** xrange[1] * 1e6)

    def _from_list(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.select(list(change["new"]))

    def _from_controls(self) -> None:
        if self._syncing:
            return
        service, name = self._service_box.value, self._name_box.value
        self.filter(None if service == ALL else service, None if name == ALL else name)

    def _refresh_list(self) -> None:
        vis = self.visible()
        every = self.filtered()
        self._syncing = True  # new options clear the selection: not a user's pick
        try:
            self._list.options = [(_row_text(r), r["span_row"]) for r in vis.iter_rows(named=True)]
        finally:
            self._syncing = False
        self._list_head.value = f'<pre class="plx-list-head">{html.escape(HEADER)}</pre>'
        shown = f"{vis.height} of {every.height} spans in the list ({self.sort_key})"
        self._cap_note.value = (
            f'<div class="plx-note">{html.escape(shown)}; the histogram counts all '
            f"{every.height}</div>"
        )
        ms = every["duration_ns"].cast(pl.Float64) / 1e6
        self._histogram.data[0].x = ms.clip(lower_bound=1e-6).log10().to_list()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The explorer's widget view plus :meth:`static_html` as ``text/html``, which
        GitHub, nbviewer and nbconvert show (they cannot run the widgets)."""
        data = self.widget._repr_mimebundle_(**kwargs)
        bundle = dict(data[0] if isinstance(data, tuple) else data or {})
        bundle["text/html"] = self.static_html()
        return bundle

    def static_html(self, list_rows: int = 15) -> str:
        """What the explorer shows, without scripts: the span count, a histogram of the
        filtered spans' durations (log bins), the first rows of the list (selected ones
        marked) and the selection's flame graph (its own static snapshot)."""
        from profilelab.render.chart_svg import histogram_svg

        every = self.filtered()
        ms = (every["duration_ns"].cast(pl.Float64) / 1e6).clip(lower_bound=1e-6).to_numpy()
        svg = histogram_svg(ms, 30, log10=True, unit=" ms", title="span durations (log bins)")
        chosen = set(self.selected_rows)
        rows = [
            ("▶ " if r["span_row"] in chosen else "  ") + _row_text(r)
            for r in self.visible().head(list_rows).iter_rows(named=True)
        ]
        parts = [
            '<div class="profilelab-static">',
            f"<div>{html.escape(f'{every.height} spans; {len(chosen)} selected')}</div>",
            svg,
            f"<pre>{html.escape(chr(10).join(['  ' + HEADER, *rows]))}</pre>",
        ]
        for child in self._detail.children:
            shown = child._repr_mimebundle_() if hasattr(child, "_current") else None
            if shown is not None:
                bundle = shown[0] if isinstance(shown, tuple) else shown
                parts.append(bundle.get("text/html", ""))
            elif isinstance(getattr(child, "value", None), str):
                parts.append(child.value)  # the explorer's own escaped HTML (summary, hint)
        note = "static snapshot of the span explorer; run the notebook to select spans"
        parts.append(f'<div style="font-size:11px;color:#666">{note}</div></div>')
        return "".join(parts)


def _row_text(r: dict[str, Any]) -> str:
    """One line of the span list under :data:`HEADER` (a Select option is text, escaped by
    the browser); ``samples`` is the span's own and its in-process children's."""
    from profilelab.render.table import human

    return _ROW.format(
        human(r["duration_ns"], "nanoseconds"),
        r["local_samples"],
        r["service"] or "-",
        r["name"],
        f"{r['trace_id'][-8:]}/{r['span_id'][:8]}",
    )


#: The plotly widget sizes itself to 700 px when its pane has no width yet (when it is first
#: drawn) and does not recover: this reports the explorer's width so that Python gives the
#: histogram an explicit width that fits.
_PANE_WIDTH = """
export default { render({ model, el }) {
  let resized = null, box = null;
  const start = () => {
    box = el.closest(".plx-explorer");
    if (!box) return requestAnimationFrame(start);
    resized = new ResizeObserver(() => {
      const w = Math.round(box.getBoundingClientRect().width);
      if (w > 0 && box.offsetParent !== null && Math.abs(w - model.get("width")) > 2) {
        model.set("width", w);
        model.save_changes();
      }
    });
    resized.observe(box);
  };
  start();
  return () => resized && resized.disconnect();
} };
"""


def _pane_width(on_width: Any) -> Any:
    """A tiny widget reporting the explorer's width in px to ``on_width``."""
    import anywidget
    import traitlets

    class _PaneWidth(anywidget.AnyWidget):  # type: ignore[misc]
        _esm = _PANE_WIDTH
        width = traitlets.Int(0).tag(sync=True)

    widget = _PaneWidth()
    widget.observe(lambda change: on_width(change["new"]), names="width")
    return widget


#: Monospace list and header so that the columns line up; text wraps between words.
_STYLE = """<style>
.plx-explorer .plx-span-list select, .plx-explorer .plx-list-head {
  font-family: var(--jp-code-font-family, monospace); font-size: 12px; }
.plx-explorer .plx-list-head { margin: 4px 0 0; padding: 0 4px; white-space: pre;
  overflow-x: auto; color: var(--jp-ui-font-color1); font-weight: 600; }
.plx-explorer .plx-histogram { margin: 0 !important; }
/* no plotly toolbar: it covered the plot; dragging brushes, a double-click clears */
.plx-explorer .plx-histogram .modebar-container { display: none; }
.plx-explorer .plx-note, .plx-explorer .plx-hint { color: var(--jp-ui-font-color2);
  white-space: normal; }
</style>"""
