"""A static SVG of a timeline: what a notebook shows of a ``Timeline`` where no kernel runs.

One row per lane (the lane's name on the left, one bar per time bin as tall as the bin's
summed value against the largest bin), a time axis, and the brushed range when there is
one, as :mod:`profilelab.widgets.static.timeline.js` draws them. Lane names are
XML-escaped; there are no scripts.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from profilelab.views.timeline import Density

LANE_PX = 26
GUTTER_PX = 150
AXIS_PX = 22
FONT = "font-family:Verdana,Arial,sans-serif;font-size:11px"
BAR = "#0969da"


def _duration(ns: float) -> str:
    for factor, unit in ((3600e9, "h"), (60e9, "min"), (1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if abs(ns) >= factor:
            return f"{ns / factor:.3g} {unit}"
    return f"{ns:.3g} ns"


def timeline_svg(d: Density, *, width_px: int = 1000, brush: tuple[int, int] | None = None) -> str:
    """The lanes of ``d`` ``width_px`` wide; ``brush`` is a ``[start, end)`` in Unix ns."""
    lanes, bins = d.values.shape if d.values.ndim == 2 else (0, 0)
    plot = width_px - GUTTER_PX
    height = lanes * LANE_PX + AXIS_PX
    span = max(d.end_ns - d.start_ns, 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="profilelab-timeline" '
        f'width="{width_px}" height="{height}" viewBox="0 0 {width_px} {height}" '
        f'style="{FONT}">'
    ]
    most = float(np.abs(d.values).max(initial=0)) or 1.0
    bw = plot / max(bins, 1)
    for lane in range(lanes):
        y0 = lane * LANE_PX
        if lane % 2 == 0:
            out.append(f'<rect x="0" y="{y0}" width="{width_px}" height="{LANE_PX}" '
                       'fill="rgba(127,127,127,0.06)"/>')  # fmt: skip
        name = d.lanes[lane]
        short = name if len(name) <= 22 else name[:21] + "…"
        total = int(d.values[lane].sum())
        out.append(
            f"<g><title>{escape(name)}: {total:,} {escape(d.unit)}</title>"
            f'<text x="6" y="{y0 + LANE_PX / 2 + 4:.0f}">{escape(short)}</text></g>'
        )
        # one path per lane: a bar per non-empty bin
        cols = np.flatnonzero(d.values[lane])
        heights = np.maximum(1.0, np.abs(d.values[lane, cols]) / most * (LANE_PX - 4))
        bars = "".join(
            f"M{GUTTER_PX + c * bw:.1f} {y0 + LANE_PX - 2 - h:.1f}h{max(bw - 0.5, 0.5):.2f}"
            f"v{h:.1f}h{-max(bw - 0.5, 0.5):.2f}z"
            for c, h in zip(cols.tolist(), heights.tolist(), strict=True)
        )
        if bars:
            out.append(f'<path d="{bars}" fill="{BAR}"/>')
    axis_y = lanes * LANE_PX
    out.append(f'<line x1="{GUTTER_PX}" x2="{width_px}" y1="{axis_y + 0.5}" '
               f'y2="{axis_y + 0.5}" stroke="#d0d7de"/>')  # fmt: skip
    for k in range(5):
        x = GUTTER_PX + plot * k / 4
        anchor = "end" if k == 4 else "start"
        label = _duration(span * k / 4) if k else "0"
        out.append(f'<text x="{x:.1f}" y="{axis_y + 15}" text-anchor="{anchor}" '
                   f'fill="#656d76">{label}</text>')  # fmt: skip
    if brush is not None:
        x0 = GUTTER_PX + plot * min(max((brush[0] - d.start_ns) / span, 0), 1)
        x1 = GUTTER_PX + plot * min(max((brush[1] - d.start_ns) / span, 0), 1)
        shade = 'fill="rgba(127,127,127,0.35)"'
        out.append(
            f'<rect x="{GUTTER_PX}" y="0" width="{x0 - GUTTER_PX:.1f}" height="{axis_y}" {shade}/>'
        )
        out.append(
            f'<rect x="{x1:.1f}" y="0" width="{width_px - x1:.1f}" height="{axis_y}" {shade}/>'
        )
        out.append(f'<rect x="{x0:.1f}" y="0.5" width="{max(x1 - x0, 1):.1f}" '
                   f'height="{axis_y - 1}" fill="none" stroke="rgba(9,105,218,0.9)"/>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


__all__ = ["timeline_svg"]
