"""Widgets: anywidget flame graphs (Jupyter imports happen only when a widget is used).

``from profilelab.widgets import FlameGraph, DiffFlameGraph``. The JS/CSS they draw with
live in ``static/`` and are also inlined by the static HTML export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from profilelab.widgets.flamegraph import DiffFlameGraph, FlameGraph

__all__ = ["DiffFlameGraph", "FlameGraph"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from profilelab.widgets import flamegraph

        return getattr(flamegraph, name)
    raise AttributeError(name)
