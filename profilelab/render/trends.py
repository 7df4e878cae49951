"""Plotly figures for trends, comparisons and growth (pure figure builders, no widgets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl

if TYPE_CHECKING:
    import plotly.graph_objects as go

_TREND_COLUMNS = ("time", "key", "value", "share", "total", "profiles")


def trend_figure(
    trend: pl.DataFrame, *, y: Literal["share", "value"] = "share", title: str | None = None
) -> go.Figure:
    """One line per key (and label value when the trend was broken down ``by`` a label)."""
    import plotly.graph_objects as go

    extra = [c for c in trend.columns if c not in _TREND_COLUMNS]
    fig = go.Figure()
    groups = trend.partition_by(["key", *extra], as_dict=True, maintain_order=True)
    for group_key, df in groups.items():
        name = _escape(" / ".join(str(k) for k in group_key))
        fig.add_trace(
            go.Scatter(
                x=df["time"].to_list(),
                y=df[y].to_list(),
                mode="lines+markers",
                name=name,
                hovertemplate=f"{name}<br>%{{x}}<br>{y}: %{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="time",
        yaxis_title="share of total" if y == "share" else "value",
        yaxis_tickformat=".1%" if y == "share" else None,
        dragmode="zoom",
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
    )
    return fig


def compare_figure(result: pl.DataFrame, *, top: int = 20, title: str | None = None) -> go.Figure:
    """Horizontal bars of share change with bootstrap CIs; significant keys in colour."""
    import plotly.graph_objects as go

    rows = result.head(top).reverse()
    colors = [
        ("#d62728" if d > 0 else "#1f77b4") if s else "#bbbbbb"
        for d, s in zip(rows["delta_share"], rows["significant"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=(rows["delta_share"] * 100).to_list(),  # percentage points
            y=[_escape(k) for k in rows["key"].to_list()],
            orientation="h",
            marker_color=colors,
            error_x={
                "type": "data",
                "symmetric": False,
                "array": ((rows["ci_high"] - rows["delta_share"]) * 100).to_list(),
                "arrayminus": ((rows["delta_share"] - rows["ci_low"]) * 100).to_list(),
            },
            customdata=rows.select("base_share", "new_share", "q_value").rows(),
            hovertemplate=(
                "%{y}<br>Δ share %{x:+.2f} pp"
                "<br>base %{customdata[0]:.2%} → new %{customdata[1]:.2%}"
                "<br>q = %{customdata[2]:.3g}<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="change in share of total (percentage points)",
        xaxis_ticksuffix=" pp",
        margin={"l": 20, "r": 20, "t": 40, "b": 40},
        height=max(300, 24 * rows.height + 100),
    )
    return fig


def growth_figure(result: pl.DataFrame, *, top: int = 15, title: str | None = None) -> go.Figure:
    """Bars of growth slope per key for the fastest-growing keys."""
    import plotly.graph_objects as go

    label = "stack" if "stack" in result.columns else "key"
    rows = result.head(top).reverse()
    fig = go.Figure(
        go.Bar(
            x=rows["slope_per_hour"].to_list(),
            y=[_escape(str(k)[-80:]) for k in rows[label].to_list()],
            orientation="h",
            marker_color=["#d62728" if g else "#bbbbbb" for g in rows["growing"]],
            customdata=rows.select("corr", "first", "last").rows(),
            hovertemplate=(
                "%{y}<br>slope %{x:.4g}/h<br>Spearman %{customdata[0]:.2f}"
                "<br>first %{customdata[1]:.4g} → last %{customdata[2]:.4g}<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="growth per hour",
        margin={"l": 20, "r": 20, "t": 40, "b": 40},
        height=max(300, 24 * rows.height + 100),
    )
    return fig


def _escape(text: str) -> str:
    """Plotly renders hover/axis text as a subset of HTML: function names are untrusted."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: line colours of :func:`trend_svg` (plotly's default qualitative palette)
_LINE_COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")


def trend_svg(trend: pl.DataFrame, *, width: int = 800, height: int = 300) -> str:
    """A static SVG line chart of a trend's shares (one polyline per key, legend on the
    right): what a notebook shows where plotly's JavaScript cannot run. Names are escaped."""
    from xml.sax.saxutils import escape

    plot_w, plot_h, left, top = width - 260, height - 40, 50, 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="profilelab-trend" width="{width}" '
        f'height="{height}" style="font-family:Verdana,Arial,sans-serif;font-size:11px">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#ccc"/>',
    ]
    if trend.is_empty():
        out.append(f'<text x="{left + 8}" y="{top + 20}">no profiles in this trend</text></svg>')
        return "".join(out)
    times = trend["time"].cast(pl.Int64)
    t0, t1 = int(times.min()), int(times.max())  # type: ignore[arg-type]
    ymax = max(float(trend["share"].max()), 1e-9)  # type: ignore[arg-type]

    def xy(t: int, share: float) -> str:
        x = left + (plot_w * (t - t0) / (t1 - t0) if t1 > t0 else plot_w / 2)
        return f"{x:.1f},{top + plot_h * (1 - share / ymax):.1f}"

    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        out.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{frac * ymax:.0%}</text>'
        )
    first, last = trend["time"].min(), trend["time"].max()
    out.append(f'<text x="{left}" y="{height - 14}">{escape(str(first))}</text>')
    out.append(
        f'<text x="{left + plot_w}" y="{height - 14}" text-anchor="end">{escape(str(last))}</text>'
    )
    groups = trend.partition_by("key", as_dict=True, maintain_order=True)
    for i, ((key,), df) in enumerate(groups.items()):
        colour = _LINE_COLOURS[i % len(_LINE_COLOURS)]
        points = " ".join(
            xy(t, s)
            for t, s in zip(df["time"].cast(pl.Int64).to_list(), df["share"].to_list(), strict=True)
        )
        name = escape(str(key))
        out.append(
            f'<g><title>{name}</title><polyline points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/></g>'
        )
        ly = top + 14 * i + 10
        label = name if len(str(key)) <= 32 else escape(str(key)[:31]) + "…"
        out.append(
            f'<rect x="{left + plot_w + 12}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + plot_w + 26}" y="{ly + 1}">{label}</text>'
        )
    out.append("</svg>")
    return "".join(out)
