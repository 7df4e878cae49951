"""The call graph laid out by Graphviz, as drawing primitives for the widget's call-graph view.

:func:`call_graph_layout` builds pprof's ``-dot`` graph of a selection (the same nodes and
edges as :meth:`profilelab.Profile.graph` and ``profilelab graph``, with full function names
so that a node names the function the flame graph shows) and has ``dot -Tjson`` lay it out.
The layout's drawing operations (xdot) become a short list of shapes per node and edge:
``path`` (an SVG path of numbers only), ``ellipse`` and ``text``; the y axis is flipped to
the browser's. Nothing Graphviz or the profile says is passed on as markup: colours are kept
only when they are ``#rrggbb[aa]`` or a plain colour word, and every label, tooltip and name
stays a string that the browser assigns with ``textContent``. :func:`layout_svg` writes the
same shapes as a static SVG (every text escaped) for notebook viewers without a kernel.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from profilelab.model.profile import Profile
from profilelab.ops.options import ReportOptions

PAD = 4.0  # points around the drawing, as dot's own SVG output leaves
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?|[a-z]{1,20}")
_NODE = re.compile(r"N([0-9]+)")
_DASH = {"dashed": "5,2", "dotted": "1,5"}
_OPS = ("_draw_", "_ldraw_", "_hdraw_", "_tdraw_", "_hldraw_", "_tldraw_")


def call_graph_layout(profile: Profile, options: ReportOptions) -> dict[str, Any]:
    """pprof's call graph of ``options``' selection of ``profile``, laid out by ``dot``.

    Returns ``width``, ``height`` (points), ``unit``, ``nodes`` and ``edges`` (the counts
    of :meth:`Profile.graph`'s tables) and ``items``: per drawn object its ``kind``
    (``node``, ``edge`` — calls and label nodelets' links — or ``other``: the legend, the
    nodelets), ``tip`` (Graphviz's tooltip) and ``shapes``; a node also has ``name`` (the
    function), ``flat``, ``cum`` and ``at`` (its centre). A missing ``dot`` raises one
    :class:`~profilelab.errors.ProfileLabError` line naming it and how to install it.
    """
    from profilelab.ops.pipeline import prepare
    from profilelab.ops.report_graph import call_graph, graph_options, graph_tables
    from profilelab.render.graph import dot_text
    from profilelab.render.graphviz import run_dot

    prepared = prepare(profile, graph_options(options.with_(names="full")))
    g = call_graph(prepared, kind="dot")
    text = dot_text(prepared, g)
    nodes = {i + 1: (n.name, n.flat_value(), n.cum_value()) for i, n in enumerate(g.nodes)}
    data = json.loads(run_dot(text, "json", "the call-graph view"))
    out = layout(data, nodes)
    out["unit"] = prepared.sample_type.unit
    tables = graph_tables(g)
    out["nodes"], out["edges"] = tables.nodes.height, tables.edges.height
    return out


def layout(data: dict[str, Any], nodes: dict[int, tuple[str, int, int]]) -> dict[str, Any]:
    """Shapes from ``dot -Tjson`` output; ``nodes`` maps DOT node ``N<k>`` to its function,
    flat and cum."""
    x0, y0, x1, y1 = (float(v) for v in str(data.get("bb", "0,0,0,0")).split(","))
    flip = _Flip(x0, y1)
    items: list[dict[str, Any]] = []
    for obj in data.get("objects", []):
        shapes = _shapes(obj, flip)
        if not shapes:
            continue
        item: dict[str, Any] = {
            "kind": "other",
            "tip": str(obj.get("tooltip", "")),
            "shapes": shapes,
        }
        m = _NODE.fullmatch(str(obj.get("name", "")))
        if m and int(m.group(1)) in nodes:
            name, flat, cum = nodes[int(m.group(1))]
            item.update(kind="node", name=name, flat=flat, cum=cum)
            pos = str(obj.get("pos", "")).split(",")
            if len(pos) == 2:
                item["at"] = list(flip([float(pos[0]), float(pos[1])]))
        items.append(item)
    for edge in data.get("edges", []):
        shapes = _shapes(edge, flip)
        if shapes:
            items.append({"kind": "edge", "tip": str(edge.get("tooltip", "")), "shapes": shapes})
    # edges first, so that nodes (and their labels) are drawn over them
    items.sort(key=lambda item: item["kind"] != "edge")
    return {"width": x1 - x0 + 2 * PAD, "height": y1 - y0 + 2 * PAD, "items": items}


class _Flip:
    """Graphviz points (y up) to drawing coordinates (y down, padded)."""

    def __init__(self, x0: float, y1: float) -> None:
        self.x0, self.y1 = x0, y1

    def __call__(self, pt: list[float]) -> tuple[float, float]:
        return round(float(pt[0]) - self.x0 + PAD, 2), round(self.y1 - float(pt[1]) + PAD, 2)


def _colour(value: Any) -> str | None:
    text = str(value)
    return text if _COLOUR.fullmatch(text) and text not in ("none", "transparent") else None


def _shapes(obj: dict[str, Any], flip: _Flip) -> list[dict[str, Any]]:
    """The xdot operations of ``obj`` (its shape, label, arrowheads) as shapes."""
    out: list[dict[str, Any]] = []
    for key in _OPS:
        pen, fill, width, dash, size = "#000000", None, 1.0, None, 14.0
        for op in obj.get(key, []):
            kind = op.get("op")
            if kind == "c":
                pen = _colour(op.get("color")) or "none"
            elif kind == "C":
                fill = _colour(op.get("color"))
            elif kind == "S":
                style = str(op.get("style", ""))
                m = re.fullmatch(r"setlinewidth\(([0-9.]+)\)", style)
                if m:
                    width = float(m.group(1))
                elif style in _DASH:
                    dash = _DASH[style]
                elif style == "solid":
                    dash = None
            elif kind == "F":
                size = float(op.get("size", size))
            elif kind in ("P", "p", "L", "B", "b"):
                pts = [flip(p) for p in op.get("points", [])]
                if not pts:
                    continue
                if kind in ("B", "b"):
                    rest = " ".join(f"{x},{y}" for x, y in pts[1:])
                    d = f"M{pts[0][0]},{pts[0][1]} C{rest}"
                else:
                    d = "M" + " L".join(f"{x},{y}" for x, y in pts)
                    if kind != "L":
                        d += " Z"
                filled = kind in ("P", "B")
                out.append(_stroked("path", {"d": d}, fill if filled else None, pen, width, dash))
            elif kind in ("E", "e"):
                cx, cy = flip(op["rect"][:2])
                rx, ry = float(op["rect"][2]), float(op["rect"][3])
                geom = {"cx": cx, "cy": cy, "rx": rx, "ry": ry}
                out.append(
                    _stroked("ellipse", geom, fill if kind == "E" else None, pen, width, dash)
                )
            elif kind == "T":
                x, y = flip(op["pt"])
                anchor = {"l": "start", "r": "end"}.get(str(op.get("align")), "middle")
                out.append(
                    {
                        "t": "text",
                        "x": x,
                        "y": y,
                        "anchor": anchor,
                        "size": size,
                        "fill": pen,
                        "text": str(op.get("text", "")),
                    }
                )
    return out


def _stroked(
    t: str, geom: dict[str, Any], fill: str | None, pen: str, width: float, dash: str | None
) -> dict[str, Any]:
    shape = {"t": t, **geom, "fill": fill or "none", "stroke": pen, "w": width}
    if dash:
        shape["dash"] = dash
    return shape


_ATTRS = {
    "path": ("d", "fill", "stroke"),
    "ellipse": ("cx", "cy", "rx", "ry", "fill", "stroke"),
}


def layout_svg(lay: dict[str, Any]) -> str:
    """The laid-out graph as one self-contained SVG document (every text escaped)."""
    esc = html.escape
    w, h = float(lay["width"]), float(lay["height"])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}pt" height="{h:.0f}pt" '
        f'viewBox="0 0 {w:.2f} {h:.2f}" font-family="Times,serif">',
        f'<rect width="{w:.2f}" height="{h:.2f}" fill="#ffffff"/>',
    ]
    for item in lay["items"]:
        parts.append(f"<g><title>{esc(item.get('tip', ''))}</title>")
        for s in item["shapes"]:
            if s["t"] == "text":
                parts.append(
                    f'<text x="{s["x"]}" y="{s["y"]}" text-anchor="{s["anchor"]}" '
                    f'font-size="{s["size"]}" fill="{esc(s["fill"])}">{esc(s["text"])}</text>'
                )
                continue
            attrs = " ".join(f'{a}="{esc(str(s[a]))}"' for a in _ATTRS[s["t"]])
            dash = f' stroke-dasharray="{s["dash"]}"' if "dash" in s else ""
            parts.append(f'<{s["t"]} {attrs} stroke-width="{s["w"]}"{dash}/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
