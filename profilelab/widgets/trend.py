"""Trend widget: share of the hottest functions over time; brushing a window opens its profile.

Zooming the x axis (drag a box in the chart, or call ``select_window``) selects a time
window; the widget then shows the window's top movers against the time before it, and below
them the flame graph of the window (``detail="flame"``, the default) or the diff flame graph
of the window against the time before it (``detail="diff"``). ``on_window`` callbacks let a
notebook continue from the selection (``widget.window_profile()``).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from profilelab.analysis import _select, top_movers, trend
from profilelab.analysis._totals import Key
from profilelab.model.profile import Profile
from profilelab.render.trends import trend_figure

Window = tuple[int, int]


class Trend(W.VBox):  # type: ignore[misc]
    """A plotly trend chart of function shares with a brushable time window."""

    def __init__(
        self,
        profile: Profile,
        *,
        key: Key = "function",
        step: str = "1m",
        top: int = 8,
        sample_type: str | None = None,
        match: str | None = None,
        detail: str = "flame",
    ) -> None:
        if detail not in ("flame", "diff", "none"):
            raise ValueError(f"detail must be flame, diff or none, not {detail!r}")
        self.profile = profile
        self.detail_kind = detail
        self.key: Key = key
        self.sample_type = sample_type
        self.data = trend(
            profile, key=key, step=step, top=top, sample_type=sample_type, match=match
        )
        self.figure = go.FigureWidget(trend_figure(self.data, title="share of total over time"))
        self.movers = W.HTML()
        self.detail = W.VBox()
        self.window: Window | None = None
        self._callbacks: list[Callable[[Trend, Window], Any]] = []
        self.figure.layout.on_change(self._on_range, "xaxis.range")
        super().__init__([self.figure, self.movers, self.detail])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view plus a static SVG of the chart (``image/svg+xml``, ``text/html``)
        for GitHub, nbviewer and nbconvert, which cannot run plotly's widget."""
        from profilelab.render.flame_svg import fallback_html
        from profilelab.render.trends import trend_svg

        data = super()._repr_mimebundle_(**kwargs)
        bundle, meta = data if isinstance(data, tuple) else (data, {})
        if bundle is None:
            return data
        svg = trend_svg(self.data)
        note = "static snapshot of the trend; run the notebook to brush a window"
        bundle = {**bundle, "image/svg+xml": svg, "text/html": fallback_html(svg, note)}
        return (bundle, meta) if isinstance(data, tuple) else bundle

    # ---- window selection ---------------------------------------------------------------
    def on_window(self, callback: Callable[[Trend, Window], Any]) -> None:
        """Call ``callback(widget, (start_ns, end_ns))`` whenever the window changes."""
        self._callbacks.append(callback)

    def select_window(self, start_ns: int, end_ns: int) -> None:
        """Select a window from Python (the chart zooms to it)."""
        self.figure.layout.xaxis.range = [_to_dt(start_ns), _to_dt(end_ns)]

    def _on_range(self, _layout: Any, xrange: tuple[Any, Any] | None) -> None:
        if not xrange or xrange[0] is None:
            return
        start, end = (_to_ns(x) for x in xrange)
        self.window = (min(start, end), max(start, end))
        self._show_movers()
        self._show_detail()
        for cb in self._callbacks:
            cb(self, self.window)

    def window_profile(self, before: bool = False) -> Profile:
        """The profiles (of the chart's sample type) inside the selected window, or (with
        ``before=True``) from the start of the series up to the window."""
        if self.window is None:
            raise ValueError("no window selected: zoom the chart or call select_window()")
        start, end = self.window
        span = (None, start) if before else (start, end)
        table = _select.window(_select.of_type(self.profile, self.sample_type), *span)
        return self.profile.subset(table["profile_id"])

    def _show_detail(self) -> None:
        """The flame graph (or diff) of the window below the chart."""
        if self.detail_kind == "none":
            return
        from profilelab.widgets.flamegraph import DiffFlameGraph, FlameGraph

        window = self.window_profile()
        if window.profiles.is_empty():
            self.detail.children = [W.HTML("<i>no profiles in this window</i>")]
            return
        if self.detail_kind == "diff":
            before = self.window_profile(before=True)
            if before.profiles.is_empty():
                self.detail.children = [W.HTML("<i>no profiles before this window</i>")]
                return
            self.detail.children = [DiffFlameGraph(before, window, normalize=True)]
        else:
            self.detail.children = [FlameGraph(window)]

    def _show_movers(self) -> None:
        assert self.window is not None
        start, end = self.window
        try:
            moved = top_movers(
                self.profile,
                (None, start),
                (start, end),
                key=self.key,
                n=8,
                sample_type=self.sample_type,
            )
        except Exception as exc:  # an empty side: say so in the widget rather than raise in JS
            self.movers.value = f"<i>{html.escape(str(exc))}</i>"
            return
        rows = "".join(
            f"<tr><td>{html.escape(str(r['key']))}</td><td>{r['share_a']:.1%}</td>"
            f"<td>{r['share_b']:.1%}</td><td>{100 * r['delta_share']:+.1f} pp</td></tr>"
            for r in moved.iter_rows(named=True)
        )
        self.movers.value = (
            "<b>Top movers: window vs before</b><table><tr><th>key</th><th>before</th>"
            f"<th>window</th><th>Δ</th></tr>{rows}</table>"
        )


def _to_dt(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _to_ns(x: Any) -> int:
    if isinstance(x, int | float):
        return int(x * 1e6)  # plotly date axes in ms since epoch
    text = str(x).replace("T", " ")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1e9)
