"""SpanExplorer: a span table and a latency histogram; the selection's profile beside them.

Pick spans in the table (sorted by duration, filtered by service and name) or brush a range
of the latency histogram: the panel on the right shows the flame graph of the selected
spans' samples, or, in "diff" mode, the diff of the selection against spans of the same
name near the median duration. The flame graphs are profilelab's ``FlameGraph`` and
``DiffFlameGraph`` widgets when they can be imported; otherwise a top-functions table
(``detail_kind`` says which, ``notes`` why).

All state lives in Python (``filter``, ``sort``, ``select``, ``select_duration``,
``selected_rows``, ``selected_profile``), so the behaviour is testable without a browser;
the ipywidgets/plotly parts only draw it. Function and span names are escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

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

    # ---- state (pure Python) -------------------------------------------------------------
    def visible(self) -> pl.DataFrame:
        """The spans the table shows: filtered and sorted, at most ``max_rows``."""
        df = self.table
        if self.service is not None:
            df = df.filter(pl.col("service") == self.service)
        if self.name is not None:
            df = df.filter(pl.col("name") == self.name)
        col, desc = SORTS[self.sort_key]
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
        """Select spans by ``span_row`` and show their profile (or diff)."""
        self.selected_rows = [int(r) for r in rows]
        self._show_detail()

    def select_duration(self, low_ns: float, high_ns: float) -> None:
        """Select the visible spans whose duration lies in [low_ns, high_ns] (a brush)."""
        vis = self.visible().filter(pl.col("duration_ns").is_between(low_ns, high_ns))
        self.select(vis["span_row"].to_list())

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
            self._detail.children = [_table_widget("<p>select spans to see their profile</p>")]
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
        from profilelab.traces.analysis import _function_diff

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
        functions = _function_diff(
            function_values(self.selected_profile, ids),
            function_values(base, ids),
            len(self.selected_rows),
            len(base_rows),
        )
        self.diff_functions = functions
        return diff_view(base, self.selected_profile, functions, self.notes, self.sample_type)

    def _summary(self) -> Any:
        """One line above the profile: spans, median duration, samples, top function."""
        assert self.selected_profile is not None
        chosen = self.table.filter(pl.col("span_row").is_in(self.selected_rows))
        median_ms = float(chosen["duration_ns"].median() or 0) / 1e6  # type: ignore[arg-type]
        default = self.selected_profile.profiles.filter(pl.col("is_default"))["profile_id"]
        samples = self.selected_profile.samples.filter(
            pl.col("profile_id").is_in(default.to_list())
        ).height
        text = (
            f"<b>{len(self.selected_rows)} spans</b>, median {median_ms:.1f} ms, {samples} samples"
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
        self._service_box = w.Dropdown(options=[ALL, *services], description="service")
        self._name_box = w.Dropdown(options=[ALL, *names], description="name")
        self._sort_box = w.Dropdown(options=list(SORTS), value=self.sort_key, description="sort")
        self._mode_box = w.ToggleButtons(options=["profile", "diff"], value="profile")
        self._list = w.SelectMultiple(options=[], rows=16, layout=w.Layout(width="100%"))
        self._histogram = self._make_histogram()
        self._detail = w.VBox()
        self._service_box.observe(lambda _: self._from_controls(), names="value")
        self._name_box.observe(lambda _: self._from_controls(), names="value")
        self._sort_box.observe(lambda ch: self.sort(ch["new"]), names="value")
        self._mode_box.observe(lambda ch: self.set_mode(ch["new"]), names="value")
        self._list.observe(lambda ch: self.select(list(ch["new"])), names="value")
        left = w.VBox(
            [
                w.HBox([self._service_box, self._name_box, self._sort_box]),
                self._list,
                self._histogram,
            ]
        )
        left.layout = w.Layout(width="55%")
        right = w.VBox([self._mode_box, self._detail], layout=w.Layout(width="45%"))
        self.widget = w.HBox([left, right])

    def _make_histogram(self) -> Any:
        import plotly.graph_objects as go

        fig = go.FigureWidget(
            data=[go.Histogram(x=[], name="spans")],
            layout={
                "height": 260,
                "dragmode": "select",
                "selectdirection": "h",
                "xaxis": {"title": "duration (ms)"},
                "yaxis": {"title": "spans"},
                "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
            },
        )
        fig.data[0].on_selection(self._on_brush)
        return fig

    def _on_brush(self, _trace: Any, _points: Any, selector: Any) -> None:
        xrange = getattr(selector, "xrange", None)
        if xrange:
            self.select_duration(xrange[0] * 1e6, xrange[1] * 1e6)

    def _from_controls(self) -> None:
        if self._syncing:
            return
        service, name = self._service_box.value, self._name_box.value
        self.filter(None if service == ALL else service, None if name == ALL else name)

    def _refresh_list(self) -> None:
        vis = self.visible()
        self._list.options = [(_row_text(r), r["span_row"]) for r in vis.iter_rows(named=True)]
        self._histogram.data[0].x = (vis["duration_ns"] / 1e6).to_list()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _row_text(r: dict[str, Any]) -> str:
    """One line of the span list (a Select option is text, escaped by the browser)."""
    return (
        f"{r['duration_ns'] / 1e6:9.1f} ms  {r['local_samples']:5d} smp  {r['service'] or '-'}  "
        f"{r['name']}  {r['trace_id'][-8:]}/{r['span_id'][:8]}"
    )
