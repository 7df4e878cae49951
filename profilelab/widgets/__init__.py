"""Widgets (Jupyter imports happen only when a widget is used).

``from profilelab.widgets import FlameGraph, DiffFlameGraph, Trend, SpanExplorer``: canvas
flame graphs (anywidget), the plotly trend chart with a brushable window, the span explorer,
the timeline of timestamped samples.
The JS/CSS the flame graphs draw with live in ``static/`` and are also inlined by the static
HTML export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from profilelab.widgets.flamegraph import DiffFlameGraph, FlameGraph
    from profilelab.widgets.spans import SpanExplorer
    from profilelab.widgets.timeline import Timeline
    from profilelab.widgets.trend import Trend

__all__ = ["DiffFlameGraph", "FlameGraph", "SpanExplorer", "Timeline", "Trend"]
_MODULES = {
    "DiffFlameGraph": "flamegraph",
    "FlameGraph": "flamegraph",
    "SpanExplorer": "spans",
    "Timeline": "timeline",
    "Trend": "trend",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(name)
