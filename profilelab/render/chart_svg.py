"""Static SVG charts: what a notebook shows of a plotly figure where no JavaScript runs.

GitHub, nbviewer and ``jupyter nbconvert --to html`` show an output's ``text/html`` or
``image/svg+xml``; plotly's own HTML needs plotly.js (a script, stripped or not loaded
there) and kaleido's static export needs a browser. :func:`figure_svg` draws the kinds of
figure profilelab makes from the figure itself: line/marker traces over numbers or times
(:func:`lines_svg`), horizontal or vertical bars and histograms (:func:`bars_svg`).
:class:`StaticFigure` is a ``go.Figure`` whose notebook output carries that SVG beside
plotly's own JSON, so JupyterLab still draws the interactive chart. Every text is
XML-escaped and there are no scripts, so sanitizing viewers keep it.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import plotly.graph_objects as go

#: line colours (plotly's default qualitative palette)
COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")
FONT = "font-family:Verdana,Arial,sans-serif;font-size:11px"
NOTE = "static snapshot of the chart; run the notebook for the interactive one"

#: one line: (name, x as int or float, y)
Series = tuple[str, Sequence[float], Sequence[float]]


def _open(cls: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" style="{FONT}">'
    ]


def _number(v: float, percent: bool) -> str:
    return f"{v:.0%}" if percent else f"{v:.4g}"


def _text(value: object) -> str:
    """Plotly text is a subset of HTML (profilelab escapes names for it): back to plain
    text, then escaped for XML."""
    return escape(html.unescape(str(value)))


def lines_svg(
    series: Sequence[Series],
    *,
    width: int = 800,
    height: int = 300,
    percent: bool = False,
    x_labels: tuple[str, str] | None = None,
    empty: str = "no data",
    cls: str = "profilelab-chart",
) -> str:
    """One polyline per series, the legend on the right; y from 0 to the largest value.
    ``x_labels``: the texts under the first and last x (default: the numbers)."""
    plot_w, plot_h, left, top = width - 260, height - 40, 50, 10
    out = _open(cls, width, height)
    out.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>'
    )
    xs = [float(x) for _, sx, _ in series for x in sx]
    ys = [float(y) for _, _, sy in series for y in sy if y is not None and np.isfinite(y)]
    if not xs or not ys:
        out.append(f'<text x="{left + 8}" y="{top + 20}">{escape(empty)}</text></svg>')
        return "".join(out)
    x0, x1 = min(xs), max(xs)
    ymax = max(max(ys), 1e-9)

    def xy(x: float, y: float) -> str:
        px = left + (plot_w * (x - x0) / (x1 - x0) if x1 > x0 else plot_w / 2)
        return f"{px:.1f},{top + plot_h * (1 - y / ymax):.1f}"

    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        label = _number(frac * ymax, percent)
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    first, last = x_labels or (f"{x0:.4g}", f"{x1:.4g}")
    out.append(f'<text x="{left}" y="{height - 14}">{escape(first)}</text>')
    out.append(
        f'<text x="{left + plot_w}" y="{height - 14}" text-anchor="end">{escape(last)}</text>'
    )
    for i, (name, sx, sy) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(
            xy(float(x), float(y))
            for x, y in zip(sx, sy, strict=True)
            if y is not None and np.isfinite(y)
        )
        out.append(
            f'<g><title>{escape(name)}</title><polyline points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/></g>'
        )
        ly = top + 14 * i + 10
        label = escape(name if len(name) <= 32 else name[:31] + "…")
        out.append(
            f'<rect x="{left + plot_w + 12}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + plot_w + 26}" y="{ly + 1}">{label}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def bars_svg(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    colours: Sequence[str] | str = COLOURS[0],
    horizontal: bool = True,
    width: int = 800,
    title: str = "",
    axis_title: str = "",
    cls: str = "profilelab-chart",
) -> str:
    """Bars from a zero line (negative values to the left or down), one per label, each
    with a ``<title>`` tooltip; horizontal bars are labelled on the left."""
    n = len(values)
    vals = np.asarray(values, dtype=np.float64) if n else np.zeros(0)
    lo, hi = min(0.0, float(vals.min(initial=0))), max(0.0, float(vals.max(initial=0)))
    span = (hi - lo) or 1.0
    fills = [colours] * n if isinstance(colours, str) else list(colours)
    top = 24 if title else 8
    if horizontal:
        row, left = 20, min(320, width // 3)
        plot_w, height = width - left - 20, top + max(n, 1) * row + 22
    else:
        row, left = 0, 50
        plot_w, height = width - left - 20, 260
    out = _open(cls, width, height)
    if title:
        out.append(f'<text x="4" y="14" style="font-size:13px">{_text(title)}</text>')
    if not n:
        out.append(f'<text x="{left}" y="{top + 14}">no data</text></svg>')
        return "".join(out)
    if horizontal:
        zero = left + plot_w * (-lo / span)
        # plotly draws the first horizontal bar at the bottom
        for k, (label, v) in enumerate(zip(labels, vals.tolist(), strict=True)):
            y = top + (n - 1 - k) * row
            x0, x1 = sorted((zero, left + plot_w * ((v - lo) / span)))
            text = _text(label)
            short = _text(str(html.unescape(str(label)))[-48:])
            out.append(
                f"<g><title>{text}: {v:.4g}</title>"
                f'<rect x="{x0:.1f}" y="{y + 2}" width="{max(x1 - x0, 0.5):.1f}" '
                f'height="{row - 4}" fill="{fills[k % len(fills)]}"/></g>'
                f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end">{short}</text>'
            )
        out.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top}" y2="{top + n * row}" ')
        out.append('stroke="#888"/>')
        base = top + n * row + 14
        out.append(f'<text x="{left}" y="{base}">{lo:.4g}</text>')
        out.append(f'<text x="{left + plot_w}" y="{base}" text-anchor="end">{hi:.4g}</text>')
        out.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{base}" text-anchor="middle" '
            f'fill="#656d76">{_text(axis_title)}</text>'
        )
    else:
        plot_h = height - top - 30
        bw = plot_w / n
        zero = top + plot_h * (hi / span)
        for k, (label, v) in enumerate(zip(labels, vals.tolist(), strict=True)):
            y0, y1 = sorted((zero, top + plot_h * ((hi - v) / span)))
            out.append(
                f"<g><title>{_text(label)}: {v:.4g}</title>"
                f'<rect x="{left + k * bw:.1f}" y="{y0:.1f}" width="{max(bw - 1, 0.5):.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}" fill="{fills[k % len(fills)]}"/></g>'
            )
        out.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{hi:.4g}</text>')
        out.append(f'<text x="{left}" y="{height - 10}">{_text(labels[0])}</text>')
        out.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{height - 10}" text-anchor="middle" '
            f'fill="#656d76">{_text(axis_title)}</text>'
        )
        out.append(
            f'<text x="{left + plot_w}" y="{height - 10}" text-anchor="end">'
            f"{_text(labels[-1])}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def histogram_svg(
    data: np.ndarray,
    bins: int,
    *,
    log10: bool = False,
    unit: str = "",
    width: int = 800,
    title: str = "",
) -> str:
    """Counts of ``data`` in ``bins`` equal bins (of log10(data) with ``log10``) as bars,
    each bin's tooltip naming its range."""
    values = np.log10(np.clip(data, 1e-12, None)) if log10 else data
    counts, edges = np.zeros(0, dtype=np.int64), np.zeros(1)
    if len(values):
        counts, edges = np.histogram(values, bins=bins)
    if log10:
        edges = 10.0**edges
    labels = [f"{a:.3g}–{b:.3g}{unit}" for a, b in itertools.pairwise(edges.tolist())]
    return bars_svg(labels, counts.tolist(), horizontal=False, width=width, title=title)


def _seq(values: Any) -> list[Any]:
    """A trace's data (a tuple, list or numpy array, or None) as a list."""
    return [] if values is None else list(values)


def figure_svg(fig: Any, *, width: int = 800) -> str:
    """A static SVG of ``fig`` (a plotly figure): lines when its traces are scatters, or
    several vertical bar series over one x (plotly express's ``color=``: a line each); bars
    for one bar series or a histogram (see the module docstring)."""
    traces = list(fig.data)
    title = fig.layout.title.text or ""
    kinds = {t.type for t in traces}
    series_of_bars = kinds == {"bar"} and len(traces) > 1 and traces[0].orientation != "h"
    if traces and (kinds <= {"scatter", "scattergl"} or series_of_bars):
        series, times = [], False
        for t in traces:
            x = np.asarray(_seq(t.x) if t.x is not None else range(len(_seq(t.y))))
            if x.dtype.kind in "OUSM":  # datetimes (objects or ISO strings)
                x = x.astype("datetime64[ns]").astype(np.int64)
                times = True
            y = [float("nan") if v is None else float(v) for v in _seq(t.y)]
            series.append((html.unescape(str(t.name or "")), x.tolist(), y))
        x_labels = None
        if times:
            flat = [v for _, sx, _ in series for v in sx]
            lo, hi = (np.datetime64(int(v), "ns") for v in (min(flat), max(flat)))
            x_labels = (str(lo)[:19].replace("T", " "), str(hi)[:19].replace("T", " "))
        percent = "%" in str(fig.layout.yaxis.tickformat or "")
        return lines_svg(series, width=width, percent=percent, x_labels=x_labels)
    if len(traces) == 1 and kinds == {"bar"}:
        t = traces[0]
        horizontal = t.orientation == "h"
        labels, values = (t.y, t.x) if horizontal else (t.x, t.y)
        colour = t.marker.color if t.marker.color is not None else COLOURS[0]
        return bars_svg(
            [str(v) for v in _seq(labels)],
            _seq(values),
            colours=colour if isinstance(colour, str) else list(colour),
            horizontal=horizontal,
            width=width,
            title=title,
            axis_title=(fig.layout.xaxis if horizontal else fig.layout.yaxis).title.text or "",
        )
    if len(traces) == 1 and kinds == {"histogram"}:
        t = traces[0]
        data = np.asarray([float(v) for v in _seq(t.x)])
        unit = fig.layout.xaxis.title.text
        return histogram_svg(
            data, int(t.nbinsx or 30), width=width, title=title, unit=f" {unit}" if unit else ""
        )
    return bars_svg([], [], width=width, title=f"{title} (no static view of {sorted(kinds)})")


class StaticFigure(go.Figure):  # type: ignore[misc]
    """A plotly figure whose notebook output also carries :func:`figure_svg` (as
    ``image/svg+xml`` and ``text/html``) for viewers that cannot run plotly.js."""

    def _ipython_display_(self) -> None:
        # plotly's own display goes through its renderers, past _repr_mimebundle_
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        from profilelab.render.flame_svg import fallback_html

        bundle = dict(super()._repr_mimebundle_(include, exclude, **kwargs) or {})
        svg = figure_svg(self)
        bundle["image/svg+xml"] = svg
        bundle["text/html"] = fallback_html(svg, NOTE)
        bundle.setdefault("text/plain", f"<plotly figure: {len(self.data)} traces>")
        return bundle


def static(fig: Any) -> StaticFigure:
    """``fig`` as a :class:`StaticFigure` (the same data and layout)."""
    return StaticFigure(fig)


__all__ = ["StaticFigure", "bars_svg", "figure_svg", "histogram_svg", "lines_svg", "static"]
