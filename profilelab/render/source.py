"""Source listings: ``go tool pprof -list`` text, byte for byte, and an HTML page.

The HTML page is pprof's ``-weblist`` without its disassembly (which needs the profiled
binaries): the same legend, one section per routine with its totals, and every source line
with its flat and cum, hotter lines tinted. It is self-contained (no script, no network)
and every name and source line is escaped.
"""

from __future__ import annotations

import html

from profilelab.core import measurement
from profilelab.ops.pipeline import Prepared
from profilelab.ops.report_list import ListResult, Routine
from profilelab.render.header import ValueFormatter, profile_labels


def _formatter(prepared: Prepared) -> ValueFormatter:
    # pprof formats listings value by value (no common unit is chosen for -list).
    return ValueFormatter(prepared.sample_type.unit, prepared.options.unit)


def _value_or_dot(fmt: ValueFormatter, value: int) -> str:
    return "." if value == 0 else fmt(value)


def list_text(prepared: Prepared, result: ListResult) -> str:
    """The text of ``go tool pprof -list REGEX``."""
    fmt = _formatter(prepared)
    out = [f"Total: {fmt(result.total)}"]
    for r in result.routines:
        if not r.file:
            out.append(f"No source information for {r.function}")
            continue
        out.append(f"ROUTINE ======================== {r.function} in {r.file}")
        pct = measurement.percentage(r.cum, result.total)
        out.append(f"{fmt(r.flat):>10} {fmt(r.cum):>10} (flat, cum) {pct} of Total")
        if r.error:
            out.append(f" Error: {r.error}")
            continue
        for line, flat, cum, source in r.lines.iter_rows():
            f, c = _value_or_dot(fmt, flat), _value_or_dot(fmt, cum)
            out.append(f"{f:>10} {c:>10} {line:6d}:{source}")
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: sans-serif; margin: 1em; }
.legend { font-size: 1.25em; margin-bottom: 1em; }
h2 { font-size: 1.1em; margin: 1.5em 0 0.2em; }
.filename { margin: 0 0 0.4em; color: #555; }
pre { font-family: monospace; margin: 0 0 1em; }
.line { color: #888; }
.hot1 { background: #fff5eb; } .hot2 { background: #fee6ce; }
.hot3 { background: #fdd0a2; } .hot4 { background: #fdae6b; }
.missing { color: #b00; }
"""


def list_html(prepared: Prepared, result: ListResult) -> str:
    """A self-contained HTML source report (pprof's ``-weblist`` layout, no disassembly)."""
    fmt = _formatter(prepared)
    esc = html.escape
    labels = [esc(label) for label in profile_labels(prepared, fmt)]
    parts = [
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="UTF-8">\n'
        f"<title>Pprof listing</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f'<div class="legend">{"<br>".join(labels)}<br>Total: {esc(fmt(result.total))}</div>\n',
    ]
    for r in result.routines:
        parts.append(_routine_html(r, fmt, result.total))
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def _routine_html(r: Routine, fmt: ValueFormatter, total: int) -> str:
    esc = html.escape
    if not r.file:
        return f'<h2>{esc(r.function)}</h2><p class="missing">No source information</p>\n'
    pct = measurement.percentage(r.cum, total)
    head = (
        f'<h2>{esc(r.function)}</h2><p class="filename">{esc(r.file)}</p>\n<pre>\n'
        f"  Total:  {esc(fmt(r.flat)):>10} {esc(fmt(r.cum)):>10} (flat, cum) {pct}\n"
    )
    if r.error:
        return head + f'<span class="missing">{esc(r.error)}</span>\n</pre>\n'
    peak = max([abs(c) for c in r.lines["cum"].to_list()] or [0])
    rows = []
    for line, flat, cum, source in r.lines.iter_rows():
        heat = 0 if peak == 0 or cum == 0 else 1 + min(3, int(4 * abs(cum) / peak - 1e-9))
        cls = f' class="hot{heat}"' if heat else ""
        f, c = esc(_value_or_dot(fmt, flat)), esc(_value_or_dot(fmt, cum))
        text = esc(source)
        rows.append(
            f"<span class=line> {line:6d}</span> <span{cls}>  {f:>10} {c:>10}  {text} </span>\n"
        )
    return head + "".join(rows) + "</pre>\n"


def source_payload(prepared: Prepared, result: ListResult) -> dict[str, object]:
    """The listing as plain data for the flame graph widget's source panel (JSON).

    Per routine: function, file (as the profile names it), the file that was read
    (``found``) or why none could be (``error``, with every file name tried in
    ``looked_in``), its flat and cum, and ``lines`` as ``[line, flat, cum, source]`` rows
    (``source`` null for the sampled lines of a file that could not be read); ``hottest`` is
    the line with the largest cum (then flat), 0 when no line has a cost. Values are in
    the sample type's unit; the browser formats them and shows every text as text.
    """
    routines = []
    for r in result.routines:
        rows = [list(row) for row in r.lines.iter_rows()]
        costly = [row for row in rows if row[1] or row[2]]
        hottest = max(costly, key=lambda row: (abs(row[2]), abs(row[1])))[0] if costly else 0
        routines.append(
            {
                "function": r.function,
                "file": r.file,
                "found": r.found,
                "error": r.error,
                "looked_in": list(r.looked_in),
                "flat": r.flat,
                "cum": r.cum,
                "lines": rows,
                "hottest": hottest,
            }
        )
    return {
        "total": result.total,
        "unit": prepared.sample_type.unit,
        "sample_type": prepared.sample_type.type,
        "source_path": prepared.options.source_path or "",
        "routines": routines,
    }
