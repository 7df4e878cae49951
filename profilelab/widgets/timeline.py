"""Timeline: sample density over time in lanes, a brushable range, one lane's flame chart.

``Timeline(profile)`` draws :func:`profilelab.views.timeline.density` (lanes by the thread
label, or ``lane_key``); dragging across it sets ``range_ns`` (``[start, end)`` in Unix
nanoseconds; empty for the whole profile). ``Timeline(profile, flame=FlameGraph(profile))``
or ``.link(flame)`` makes every brush re-draw that flame graph for the range only, through
the query core's time range (the flame graph's ``range_ns``). Clicking a lane name sets
``chart_lane`` and shows that lane's stacks in time order (a flame chart) for the range.

The browser only ever sees times relative to the density's start (``_brush``), which stay
exact as JavaScript numbers; Unix nanoseconds are not. A profile without timestamps shows
a message saying so (``message``) instead of an empty canvas.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from profilelab.errors import ProfileLabError
from profilelab.model.profile import Profile
from profilelab.render.flame_html import bundle
from profilelab.views import timeline as tl
from profilelab.widgets.flamegraph import FlameGraph


class Timeline(anywidget.AnyWidget):  # type: ignore[misc]
    """Sample density per lane over time; brush a range to narrow linked flame graphs.

    Traits a notebook reads or sets: ``range_ns`` (``[start_ns, end_ns)`` or ``[]``),
    ``lane_key`` (label key of the lanes, ``""``: the thread label), ``chart_lane`` (the
    lane shown as a flame chart, ``""``: none), ``message`` (why nothing is drawn)."""

    _esm = bundle("flame.js", "timeline.js")
    _css = bundle("flame.css", "timeline.css")
    _density = traitlets.Bytes(b"").tag(sync=True)
    _chart = traitlets.Bytes(b"").tag(sync=True)
    #: the brushed range relative to the density's start (ns, exact in JS); [] = none
    _brush = traitlets.List(traitlets.Float()).tag(sync=True)
    range_ns = traitlets.List(traitlets.Int()).tag(sync=True)
    lane_key = traitlets.Unicode("").tag(sync=True)
    lane_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    chart_lane = traitlets.Unicode("").tag(sync=True)
    width_px = traitlets.Int(1200).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        profile: Profile,
        *,
        flame: FlameGraph | None = None,
        sample_type: str | None = None,
        lane_key: str = "",
        bins: int = 400,
        max_lanes: int = 8,
        **kwargs: Any,
    ) -> None:
        self._profile = profile
        self._sample_type = sample_type
        self._bins = bins
        self._max_lanes = max_lanes
        self._flames: list[FlameGraph] = []
        self._lane_index: tl.LaneIndex | None = None
        self._start_ns = 0
        self._syncing = False
        self._ready = False  # observers wait for the constructor's own first draw
        super().__init__(lane_key=lane_key, lane_keys=tl.lane_keys(profile), **kwargs)
        self._ready = True
        self._draw()
        if flame is not None:
            self.link(flame)

    # ---- API ----------------------------------------------------------------------------
    def link(self, flame: FlameGraph) -> Timeline:
        """Re-draw ``flame`` for the brushed range whenever the range changes."""
        self._flames.append(flame)
        flame._selection.index.time_order()  # sorted now, so the first brush is a slice
        flame.range_ns = list(self.range_ns)
        return self

    @property
    def density(self) -> tl.Density | None:
        """The density currently drawn (None when the profile has no timestamps)."""
        return self._density_data

    _density_data: tl.Density | None = None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view plus a static SVG of the lanes and the brushed range
        (``image/svg+xml``, ``text/html``) for GitHub, nbviewer and nbconvert, which cannot
        run the widget; a profile without timestamps gets its message as ``text/html``."""
        from html import escape

        from profilelab.render.flame_svg import fallback_html
        from profilelab.render.timeline_svg import timeline_svg

        data = super()._repr_mimebundle_(**kwargs)
        bundle, meta = data if isinstance(data, tuple) else (data, {})
        if bundle is None:
            return data
        d = self._density_data
        if d is None:
            text = escape(self.message or self.error)
            bundle = {**bundle, "text/html": f'<div class="profilelab-static">{text}</div>'}
        else:
            rng = self.range_ns
            brush = (rng[0], rng[1]) if len(rng) == 2 else None
            svg = timeline_svg(d, width_px=min(max(self.width_px, 400), 1200), brush=brush)
            where = f", {tl.range_text(*brush)}" if brush else ""
            note = (
                f"static snapshot of the timeline ({d.sample_type} by {d.lane_key or 'sample'}"
                f"{where}); run the notebook to brush a range"
            )
            bundle = {**bundle, "image/svg+xml": svg, "text/html": fallback_html(svg, note)}
        return (bundle, meta) if isinstance(data, tuple) else bundle

    # ---- building -------------------------------------------------------------------------
    def _draw(self) -> None:
        try:
            d = tl.density(
                self._profile,
                sample_type=self._sample_type,
                lane_key=self.lane_key,
                bins=self._bins,
                max_lanes=self._max_lanes,
            )
        except ProfileLabError as exc:
            # no timestamps is not an error of the analyst's: say so in place of the lanes
            self.message = "" if tl.has_timestamps(self._profile) else str(exc)
            self.error = "" if self.message else str(exc)
            return
        self._density_data = d
        self._start_ns = d.start_ns
        self._density = tl.encode_density(d)
        self._send_chart()

    def _send_chart(self) -> None:
        d = self._density_data
        if d is None or not self.chart_lane:
            self._chart = b""
            return
        start, end = self.range_ns if len(self.range_ns) == 2 else (None, None)
        index = self._lane_index
        if index is None or index.lane_key != d.lane_key:  # built once per lane key
            stacks = next(
                (
                    f._selection.index
                    for f in self._flames
                    if f._selection.index.sample_type == d.sample_type
                    and f._selection.index.profile is self._profile
                ),
                None,
            )
            index = tl.LaneIndex.build(self._profile, d.sample_type, d.lane_key, stacks)
            self._lane_index = index
        chart = index.chart(
            self.chart_lane, start_ns=start, end_ns=end, width_px=max(self.width_px, 1)
        )
        self._chart = tl.encode_chart(chart, d.start_ns)

    # ---- observers --------------------------------------------------------------------------
    @traitlets.observe("_brush")
    def _on_brush(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        brush = change["new"]
        if len(brush) == 2 and brush[1] > brush[0]:
            lo, hi = sorted(brush)
            self.range_ns = [self._start_ns + round(lo), self._start_ns + round(hi)]
        else:
            self.range_ns = []

    @traitlets.observe("range_ns")
    def _on_range(self, change: dict[str, Any]) -> None:
        rng = list(change["new"])
        if len(rng) not in (0, 2) or (rng and rng[1] <= rng[0]):
            self.error = f"range_ns must be [] or [start, end] with end > start, got {rng}"
            return
        self.error = ""
        self._syncing = True
        try:
            self._brush = [float(t - self._start_ns) for t in rng]
        finally:
            self._syncing = False
        for flame in self._flames:
            flame.range_ns = rng
        self._run(self._send_chart)

    @traitlets.observe("lane_key")
    def _on_lane_key(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        self.chart_lane = ""
        self._run(self._draw)

    @traitlets.observe("chart_lane")
    def _on_chart_lane(self, change: dict[str, Any]) -> None:
        self._run(self._send_chart)

    def _run(self, action: Any) -> None:
        try:
            action()
            self.error = ""
        except ProfileLabError as exc:
            self.error = str(exc)
