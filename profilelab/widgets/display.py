"""What a notebook shows for a :class:`~profilelab.Profile` (``Profile._repr_mimebundle_``).

The FlameGraph widget where widgets run; for plain renderers (nbconvert HTML, viewers) a
summary table and the static flame-graph page of :mod:`profilelab.render.flame_html`.
"""

from __future__ import annotations

import html
from typing import Any

from profilelab.errors import ProfileLabError
from profilelab.model.profile import Profile
from profilelab.render.flame_html import REPR_MAX_NODES, flame_html, summary_html


def profile_mimebundle(profile: Profile) -> dict[str, Any]:
    """What a notebook shows for a Profile: the FlameGraph widget where widgets run, and
    for plain renderers (nbconvert HTML, viewers) a summary plus a static flame graph in
    an iframe (scripts stay inside it; the page is HTML-escaped into ``srcdoc``)."""
    bundle: dict[str, Any] = {"text/plain": repr(profile)}
    parts = [summary_html(profile)]
    if profile.samples.height:
        try:
            page_html = flame_html(profile, max_nodes=REPR_MAX_NODES, width_px=1000)
        except ProfileLabError as exc:
            parts.append(f"<div>no flame graph: {html.escape(str(exc))}</div>")
        else:
            parts.append(
                f'<iframe srcdoc="{html.escape(page_html, quote=True)}" '
                'style="width:100%;height:520px;border:0" sandbox="allow-scripts"></iframe>'
            )
    bundle["text/html"] = "\n".join(parts)
    widget = _widget_bundle(profile)
    if widget:
        bundle.update(widget)
    return bundle


def _widget_bundle(profile: Profile) -> dict[str, Any] | None:
    """The widget view mime when running inside a kernel with anywidget installed."""
    import sys

    if "ipykernel" not in sys.modules or not profile.samples.height:
        return None
    try:
        from IPython import get_ipython

        if getattr(get_ipython(), "kernel", None) is None:
            return None
        from profilelab.widgets.flamegraph import FlameGraph

        data: Any = FlameGraph(profile)._repr_mimebundle_()
    except (ImportError, ProfileLabError):
        return None
    if isinstance(data, tuple):
        data = data[0]
    items: dict[str, Any] = dict(data or {})
    view = {k: v for k, v in items.items() if k.startswith("application/vnd.jupyter")}
    return view or None
