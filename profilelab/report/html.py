"""One self-contained HTML page from report sections: text, tables, plotly charts, flame graphs.

Offline by construction: plotly.js is inlined once (in the first chart), every flame graph
is a complete page (its JS, CSS and data inlined, see :mod:`profilelab.render.flame_html`)
placed in the ``srcdoc`` of a sandboxed iframe. Nothing is fetched from a network.

Every string that comes from data (function names, label values) is HTML-escaped here;
chart labels are escaped by :mod:`profilelab.render.trends`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from profilelab.playbooks._finding import Finding, amount, pct

if TYPE_CHECKING:
    import plotly.graph_objects as go


@dataclass(frozen=True)
class Table:
    """A Polars frame shown as an HTML table; ``shares`` columns are shown as percentages,
    ``units`` maps columns to a unit for :func:`~profilelab.playbooks._finding.amount`."""

    title: str
    frame: pl.DataFrame
    shares: tuple[str, ...] = ()
    units: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Chart:
    title: str
    figure: go.Figure


@dataclass(frozen=True)
class Flame:
    """A complete flame-graph page (from ``flame_html`` / ``diff_html``), shown in an iframe."""

    title: str
    page: str
    height: int = 700


Block = Table | Chart | Flame


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    findings: tuple[Finding, ...]
    blocks: tuple[Block, ...] = ()


STYLE = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1180px;
padding:16px 24px;color:#1b1b1b}
h1{margin:.2em 0}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.question{color:#555;font-style:italic}.headline{font-weight:600;font-size:1.05em}
.finding{background:#f6f8fa;border-left:4px solid #d62728;padding:8px 14px;margin:10px 0}
table.data{border-collapse:collapse;font-size:13px;margin:6px 0 18px}
table.data th,table.data td{border-bottom:1px solid #e4e4e4;padding:3px 10px;text-align:right}
table.data th:first-child,table.data td:first-child{text-align:left;
font-family:ui-monospace,monospace;max-width:760px;overflow-wrap:anywhere}
iframe.flame{width:100%;border:1px solid #ddd}nav li{margin:2px 0}.meta{color:#666;font-size:13px}
"""


def render(title: str, sections: list[Section], *, meta: str = "") -> str:
    """The whole HTML document."""
    plotly_state = {"included": False}
    toc = "".join(
        f'<li><a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a></li>' for s in sections
    )
    body = "\n".join(_section(s, plotly_state) for s in sections)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        f'<p class="meta">{html.escape(meta)} Generated {stamp} by profilelab.</p>\n'
        f"<nav><ol>{toc}</ol></nav>\n{body}\n</body>\n</html>\n"
    )


def _section(section: Section, plotly_state: dict[str, bool]) -> str:
    parts = [
        f'<section id="{html.escape(section.anchor)}">',
        f"<h2>{html.escape(section.title)}</h2>",
    ]
    for finding in section.findings:
        parts.append(_finding(finding))
    for block in section.blocks:
        parts.append(f"<h3>{html.escape(block.title)}</h3>")
        if isinstance(block, Table):
            parts.append(_table(block))
        elif isinstance(block, Chart):
            parts.append(_chart(block, plotly_state))
        else:
            parts.append(_flame(block))
    parts.append("</section>")
    return "\n".join(parts)


def _finding(f: Finding) -> str:
    details = "".join(f"<li>{html.escape(d)}</li>" for d in f.details)
    return (
        f'<div class="finding"><p class="question">{html.escape(f.question)}</p>'
        f'<p class="headline">{html.escape(f.headline)}</p>'
        + (f"<ul>{details}</ul>" if details else "")
        + "</div>"
    )


def _table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.frame.columns)
    rows = []
    for row in t.frame.iter_rows(named=True):
        cells = "".join(f"<td>{html.escape(_cell(t, c, v))}</td>" for c, v in row.items())
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _cell(t: Table, column: str, value: Any) -> str:
    if value is None:
        return "–"
    if column in t.shares:
        return pct(float(value))
    if column in t.units:
        return amount(float(value), t.units[column])
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%H:%M:%S")
    return str(value)


def _chart(c: Chart, plotly_state: dict[str, bool]) -> str:
    first = not plotly_state["included"]
    plotly_state["included"] = True
    # plotly.js is inlined with the first chart (include_plotlyjs=True, never "cdn").
    text: str = c.figure.to_html(
        full_html=False, include_plotlyjs=first, include_mathjax=False, config={"responsive": True}
    )
    return text


def _flame(f: Flame) -> str:
    # Same origin as the report: browsers suspend the rendering of off-screen cross-origin
    # frames (a sandbox without allow-same-origin is one), which left the graphs blank until
    # scrolled to, and blank in full-page captures and prints. The page is profilelab's own;
    # the names from the data travel base64-encoded and are drawn on a canvas.
    return (
        f'<iframe class="flame" title="{html.escape(f.title)}" '
        'sandbox="allow-scripts allow-same-origin" '
        f'style="height:{int(f.height)}px" srcdoc="{html.escape(f.page, quote=True)}"></iframe>'
    )
