"""Plotly figures for trends, comparisons and growth (pure figure builders, no widgets).

Each is a :class:`~profilelab.render.chart_svg.StaticFigure`: in a notebook it also carries
a static SVG of itself for viewers that cannot run plotly.js (GitHub, nbconvert HTML)."""

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

    from profilelab.render.chart_svg import static

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
    return static(fig)


def compare_figure(result: pl.DataFrame, *, top: int = 20, title: str | None = None) -> go.Figure:
    """Horizontal bars of share change with bootstrap CIs; significant keys in colour."""
    import plotly.graph_objects as go

    from profilelab.render.chart_svg import static

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
    return static(fig)


def growth_figure(result: pl.DataFrame, *, top: int = 15, title: str | None = None) -> go.Figure:
    """Bars of growth slope per key for the fastest-growing keys."""
    import plotly.graph_objects as go

    from profilelab.render.chart_svg import static

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
    return static(fig)


def _escape(text: str) -> str:
    """Plotly renders hover/axis text as a subset of HTML: function names are untrusted."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def trend_svg(trend: pl.DataFrame, *, width: int = 800, height: int = 300) -> str:
    """A static SVG line chart of a trend's shares (one polyline per key, legend on the
    right): what a notebook shows where plotly's JavaScript cannot run. Names are escaped."""
    from profilelab.render.chart_svg import lines_svg

    series = [
        (str(key), df["time"].cast(pl.Int64).to_list(), df["share"].to_list())
        for (key,), df in trend.partition_by("key", as_dict=True, maintain_order=True).items()
    ]
    labels = None
    if not trend.is_empty():
        labels = (str(trend["time"].min()), str(trend["time"].max()))
    return lines_svg(
        series,
        width=width,
        height=height,
        percent=True,
        x_labels=labels,
        empty="no profiles in this trend",
        cls="profilelab-trend",
    )
