"""Static SVG flame graphs: what a notebook shows where no kernel runs.

GitHub, nbviewer and ``jupyter nbconvert --to html`` cannot run the widgets' JavaScript; they
show an output's ``text/html`` or ``image/svg+xml`` instead. :func:`flame_svg` draws a
:class:`~profilelab.views.FlameTree` or :class:`~profilelab.views.DiffTree` (the tree a widget
already shows, pruned for its width) as one ``<rect>`` per drawn node, with a label where it
fits and a ``<title>`` tooltip, in the palette of ``widgets/static/flame.js``. Every name is
XML-escaped; there are no scripts, so sanitizing renderers keep it.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

import numpy as np

from profilelab.views.tree import OTHER_NAME, DiffTree, FlameTree

ROW_PX = 17
#: nodes narrower than this many pixels are not drawn (the widget skips them too)
MIN_PX = 0.5
#: the width of one label character at 11 px (a conservative monospace-ish estimate)
CHAR_PX = 6.6
FONT = "font-family:Verdana,Arial,sans-serif;font-size:11px"


def _hash(text: str) -> int:
    """FNV-1a over UTF-16 code units, as flame.js's ``hashString``."""
    h = 2166136261
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def package_colour(package: str) -> str:
    """flame.js ``packageColour`` (light theme): a red..yellow hue per package."""
    h = _hash(package or "?")
    signed = h - (1 << 32) if h >= 1 << 31 else h  # JS ``h >> 8`` works on int32
    light = 58 + int(math.fmod(signed >> 8, 14))
    return f"hsl({5 + h % 50},85%,{light}%)"


def diff_colour(rel: float) -> str:
    """flame.js ``diffColour`` (light theme): red grew, blue shrank, grey unchanged."""
    if not math.isfinite(rel) or abs(rel) < 1e-9:
        return "hsl(0,0%,82%)"
    a = min(1.0, abs(rel))
    light = round(88 - 40 * a, 1)
    return f"hsl(0,80%,{light}%)" if rel > 0 else f"hsl(215,80%,{light}%)"


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def drawn_nodes(tree: FlameTree | DiffTree, width_px: int) -> np.ndarray:
    """Indexes of the nodes :func:`flame_svg` draws at ``width_px`` (wide enough to see)."""
    full = float(tree.width[0]) if len(tree) else 0.0
    if full <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(tree.width * (width_px / full) >= MIN_PX)


def flame_svg(tree: FlameTree | DiffTree, *, width_px: int = 1000, title: str | None = None) -> str:
    """An icicle SVG of ``tree`` (root on top) ``width_px`` wide; see the module docstring."""
    nodes = drawn_nodes(tree, width_px)
    diff = isinstance(tree, DiffTree)
    rows = int(tree.depth[nodes].max()) + 1 if len(nodes) else 1
    top = 20 if title else 0
    height = top + rows * ROW_PX
    scale = width_px / float(tree.width[0]) if len(nodes) else 0.0
    strings = tree.strings
    other = strings.index(OTHER_NAME) if OTHER_NAME in strings else -1
    names = tree.name[nodes].tolist()
    packages = tree.package[nodes].tolist()
    x0 = (tree.start[nodes] * scale).tolist()
    widths = (tree.width[nodes] * scale).tolist()
    depths = tree.depth[nodes].tolist()
    if diff:
        assert isinstance(tree, DiffTree)
        base = tree.base_scaled[nodes]
        new = tree.new_total[nodes].astype(np.float64)
        most = np.maximum(np.abs(base), np.abs(new))
        rel = np.divide(new - base, most, out=np.zeros_like(new), where=most > 0).tolist()
        values = [
            f"base {b:,.0f}, new {n:,.0f} {tree.unit}" for b, n in zip(base, new, strict=True)
        ]
    else:
        assert isinstance(tree, FlameTree)
        totals = tree.total[nodes]
        grand = max(int(tree.grand_total) or int(totals[0]), 1)
        values = [f"{int(t):,} {tree.unit} ({100 * t / grand:.2f}%)" for t in totals.tolist()]
    unzoomed = not tree.root_path
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="profilelab-flame" '
        f'width="{width_px}" height="{height}" viewBox="0 0 {width_px} {height}" '
        f'style="{FONT}">'
    ]
    if title:
        out.append(f'<text x="4" y="14" style="font-size:13px">{escape(title)}</text>')
    for k in range(len(nodes)):
        name = strings[names[k]]
        if names[k] == other:
            fill = "hsl(0,0%,75%)"
        elif k == 0 and unzoomed:
            fill = "hsl(0,0%,80%)"
        elif diff:
            fill = diff_colour(rel[k])
        else:
            fill = package_colour(strings[packages[k]])
        x, w, y = x0[k], widths[k], top + depths[k] * ROW_PX
        out.append(
            f"<g><title>{escape(name)}: {escape(values[k])}</title>"
            f'<rect x="{_fmt(x)}" y="{y}" width="{_fmt(w)}" height="{ROW_PX - 1}" '
            f'fill="{fill}"/>'
        )
        fits = int((w - 6) / CHAR_PX)
        if fits >= 3:
            label = name if len(name) <= fits else name[: fits - 1] + "…"
            out.append(f'<text x="{_fmt(x + 3)}" y="{y + 12}">{escape(label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def fallback_html(svg: str, note: str) -> str:
    """An output's ``text/html`` fallback: the SVG and a one-line note under it."""
    return (
        f'<div class="profilelab-static">{svg}'
        f'<div style="font-size:11px;color:#666">{escape(note)}</div></div>'
    )


__all__ = ["diff_colour", "drawn_nodes", "fallback_html", "flame_svg", "package_colour"]
