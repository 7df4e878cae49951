"""Self-contained HTML flame graphs: one file, no network, zoom/search/tooltips offline.

The page inlines the widget's own JS and CSS (``profilelab/widgets/static``) and embeds the
tree as base64 of the binary payload of :mod:`profilelab.views.encode`. With no kernel to
ask for detail on zoom, the tree is precomputed as finely as ``max_nodes`` allows (see
:func:`profilelab.views.flame.within_budget`); what is finer stays folded in "other" nodes.

Untrusted strings (function names, file names) only travel inside the base64 payload and
are drawn with canvas ``fillText`` / ``textContent``; the title is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from profilelab.core.vocabulary import transform_args
from profilelab.errors import ProfileLabError
from profilelab.model.profile import Profile
from profilelab.views import Comparison, LabelFilter, Selection
from profilelab.views.encode import encode_table, encode_tree
from profilelab.views.flame import within_budget

STATIC = Path(__file__).resolve().parent.parent / "widgets" / "static"
#: Default node budget of an export: about 16 bytes per node before base64.
DEFAULT_MAX_NODES = 100_000
DEFAULT_WIDTH_PX = 1600


def static_asset(name: str) -> str:
    text = (STATIC / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ProfileLabError(f"{name} cannot be inlined: it contains a closing tag")
    return text


_DEFAULT_EXPORT = re.compile(r"^export default .*;\s*$", re.MULTILINE)


def bundle(*names: str) -> str:
    """Static files joined into one module, as anywidget loads one file: ``flame.js`` (the
    payload decoder, the drawing, the widget shell) or ``flame.css`` first, then each
    widget's own file. Every JavaScript file but the last loses its default export."""
    texts = []
    for k, name in enumerate(names):
        text = (STATIC / name).read_text(encoding="utf-8")
        if name.endswith(".js") and k < len(names) - 1:
            text, found = _DEFAULT_EXPORT.subn("", text)
            if found != 1:
                raise ProfileLabError(
                    f"{name}: expected one default export to replace, found {found}"
                )
        texts.append(text)
    return "\n".join(texts)


def flame_html(
    source: Profile | Selection,
    *,
    title: str | None = None,
    sample_type: str | None = None,
    granularity: str = "function",
    labels: LabelFilter | None = None,
    focus: str | None = None,
    ignore: str | None = None,
    inverted: bool = False,
    width_px: int = DEFAULT_WIDTH_PX,
    max_nodes: int = DEFAULT_MAX_NODES,
    root: Sequence[str] = (),
    transforms: Sequence[Sequence[str | None]] | None = None,
    command: str = "",
) -> str:
    """One HTML page with the flame graph (and top table) of a profile or selection.

    The page names the call-tree transforms the tree went through (default: those of the
    selection's core selection) and ``command``, the command line that reproduces it
    (default: their flags)."""
    sel = (
        source
        if isinstance(source, Selection)
        else Selection(source, sample_type, labels=labels, focus=focus, ignore=ignore)
    )
    if transforms is None:
        transforms = sel.selection.transforms if sel.selection is not None else ()
    tree = within_budget(
        lambda f: sel.flame(granularity=granularity, root=root, inverted=inverted, fraction=f),
        width_px,
        max_nodes,
    )
    table = encode_table(sel.top(granularity, 200), 200, grand_total=sel.total, unit=sel.unit)
    name = title or f"{sel.sample_type} flame graph"
    applied = Applied(tuple((str(t[0]), t[1] if len(t) > 1 else None) for t in transforms), command)
    return page(name, encode_tree(tree, width_px=width_px), table, applied=applied)


def diff_html(
    cmp: Comparison,
    *,
    title: str | None = None,
    granularity: str = "function",
    normalize: bool = False,
    width_by: str = "new",
    width_px: int = DEFAULT_WIDTH_PX,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> str:
    """One HTML page with the diff flame graph and diff table of a comparison."""
    tree = within_budget(
        lambda f: cmp.tree(
            granularity=granularity, normalize=normalize, width_by=width_by, fraction=f
        ),
        width_px,
        max_nodes,
    )
    table = encode_table(cmp.table(granularity, normalize=normalize), 200, unit=cmp.new.unit)
    name = title or f"{cmp.new.sample_type} diff flame graph"
    return page(name, encode_tree(tree, width_px=width_px, warnings=cmp.warnings()), table)


@dataclass(frozen=True)
class Applied:
    """The call-tree transforms a view went through, and how to get the view again."""

    transforms: tuple[tuple[str, str | None], ...] = ()
    #: the command line that reproduces the view ("": the transforms' flags)
    command: str = ""

    def reproduce(self) -> str:
        return self.command or shlex.join(transform_args(self.transforms))

    def text(self) -> str:
        """One line naming the transforms in order and the command (for a static view)."""
        if not self.transforms:
            return ""
        steps = "; ".join(
            f"{k}. {name.replace('_', ' ')}" + ("" if arg is None else f" {arg}")
            for k, (name, arg) in enumerate(self.transforms, 1)
        )
        return f"transforms: {steps} \u2014 reproduce: {self.reproduce()}"

    def html(self) -> str:
        """The transforms as an ordered list and the command, every value escaped."""
        if not self.transforms:
            return ""
        items = "".join(
            f"<li><code>{html.escape(name)}</code>"
            + ("" if arg is None else f" <code>{html.escape(arg)}</code>")
            + "</li>"
            for name, arg in self.transforms
        )
        return (
            '<div class="plf-applied">call-tree transforms, in order:'
            f'<ol class="plf-applied-list">{items}</ol>reproduce: '
            f'<code class="plf-applied-command">{html.escape(self.reproduce())}</code></div>\n'
        )


def page(
    title: str, tree: bytes, table: bytes | None = None, *, applied: Applied | None = None
) -> str:
    """The HTML document around encoded payloads (and the transforms the view went through)."""
    applied = applied or Applied()
    data: dict[str, Any] = {"tree": base64.b64encode(tree).decode("ascii")}
    if table is not None:
        data["table"] = base64.b64encode(table).decode("ascii")
    if applied.transforms:
        data["transforms"] = [list(t) for t in applied.transforms]
        data["command"] = applied.reproduce()
    # '<' is escaped (JSON allows it), so no value can close the script element.
    payload = json.dumps(data).replace("<", "\\u003c")
    script = static_asset("flame.js") + (
        "\nmountStatic(document.getElementById('plf-app'), JSON.parse("
        "document.getElementById('plf-data').textContent));\n"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{margin:12px;}\n"
        ".plf-applied{font:13px system-ui,sans-serif;margin:0 0 8px;overflow-wrap:anywhere}\n"
        "@media (prefers-color-scheme: dark){body.plf-page{color:#e6edf3}}\n"
        f"{static_asset('flame.css')}</style>\n</head>\n"
        f'<body class="plf-page">\n<h3 class="plf-title">{html.escape(title)}</h3>\n'
        f"{applied.html()}"
        '<div id="plf-app"></div>\n'
        f'<script type="application/json" id="plf-data">{payload}</script>\n'
        f'<script type="module">\n{script}</script>\n</body>\n</html>\n'
    )


def write(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ProfileLabError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return out


#: Node budget of the flame graph embedded in a notebook's HTML output (kept small).
REPR_MAX_NODES = 5_000


def summary_html(profile: Profile) -> str:
    """A small HTML table: one row per profile (source, type, unit, samples, total)."""
    totals = profile.samples.group_by("profile_id").agg(
        pl.len().alias("n"), pl.col("value").sum().alias("total")
    )
    rows = profile.profiles.join(totals, on="profile_id", how="left")
    cells = []
    for r in rows.iter_rows(named=True):
        default = " (default)" if r["is_default"] else ""
        values = [
            r["source"],
            f"{r['sample_type']}{default}",
            r["sample_unit"],
            f"{r['n'] or 0:,}",
            f"{r['total'] or 0:,}",
        ]
        cells.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in values) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("source", "sample type", "unit", "samples", "total"))
    counts = (
        f"{profile.stacks.height:,} stacks, {profile.frames.height:,} frames, "
        f"{profile.labels.get_column('key').n_unique()} label keys"
    )
    return (
        f'<table class="profilelab-summary"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(cells)}</tbody></table><div>{html.escape(counts)}</div>"
    )
