"""Call graphs as text: ``go tool pprof -dot``, ``-tree`` and ``-callgrind``, byte for byte.

DOT follows pprof's ``internal/graph/dotgraph.go``: a legend box, one box per node (font
size grows with the square root of its share of the largest flat value, colour with its
cum), up to four "nodelets" per node for its labels and ``bytes`` values, and edges sorted
by weight (dotted when they skip trimmed nodes, ``(inline)`` when the call was inlined).
Node labels use pprof's shortened names (:func:`shorten`), split on ``::`` and ``.``.
"""

from __future__ import annotations

import math
import re

import polars as pl

from profilelab.core import measurement
from profilelab.ops.frames import go_base
from profilelab.ops.granularity import name_components
from profilelab.ops.pipeline import Prepared
from profilelab.ops.report_graph import (
    MAX_NODELETS,
    CallGraph,
    Edge,
    Node,
    Tag,
    sorted_edges,
    weight_value,
)
from profilelab.ops.report_peek import PeekResult
from profilelab.render.header import ValueFormatter, legend
from profilelab.render.text import peek_text

# pprof's ShortenFunctionName (graph.go): Java, Go and C++ package prefixes go.
_JAVA = re.compile(
    r"^(?:[a-z]\w*\.)*([A-Z][\w$]*\.(?:<init>|[a-z][\w$]*(?:\$\d+)?))(?:(?:\()|$)", re.ASCII
)
_GO = re.compile(r"^(?:[\w\-.]+/)+(.+)", re.ASCII | re.DOTALL)
_GO_VERSION = re.compile(r"^(.*?)/v(?:[2-9]|[1-9][0-9]+)([./].*)$", re.ASCII | re.DOTALL)
_CPP = re.compile(r"^(?:[_a-zA-Z]\w*::)+(_*[A-Z]\w*::~?[_a-zA-Z]\w*(?:<.*>)?)", re.ASCII)
_CPP_ANONYMOUS = re.compile(r"^\(anonymous namespace\)::")

LEGEND_URL_TEXT = "See https://git.io/JfYMW for how to read the graph"


def shorten(name: str) -> str:
    """pprof's ShortenFunctionName."""
    name = _CPP_ANONYMOUS.sub("", name, count=1)
    name = _GO_VERSION.sub(r"\1\2", name, count=1)
    for rx in (_GO, _JAVA, _CPP):
        m = rx.search(name)
        if m:
            return "".join(g or "" for g in m.groups())
    return name


def escape(text: str) -> str:
    """pprof's escapeForDot: backslashes and quotes escaped, newlines left-justified."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l")


def _name_components(n: Node, name: str, file: str) -> list[str]:
    """pprof's NodeInfo.NameComponents with the given name and file."""
    _, address, _, _, line, obj = n.key
    return name_components(address, name, line, file, obj)


def _multiline_name(n: Node) -> str:
    """pprof's multilinePrintableName."""
    name = escape(shorten(n.key[0])).replace("::", "\\n").replace("[...]", "[…]")
    name = name.replace(".", "\\n")
    file = go_base(n.key[2]) if n.key[2] else ""
    return "\\n".join(_name_components(n, name, file)) + "\\n"


def _formatter(prepared: Prepared, g: CallGraph, *, callgrind: bool = False) -> ValueFormatter:
    """pprof's selectOutputUnit over the graph's nodes (callgrind never scales by 100)."""
    fmt = ValueFormatter(prepared.sample_type.unit, prepared.options.unit)
    values = [(n.flat_value(), n.cum_value()) for n in g.nodes]
    fmt.select_unit(values, g.total, scale_min=not callgrind)
    return fmt


def dot_color(score: float, background: bool) -> str:
    """pprof's dotColor: red for positive, green for negative, grey near zero."""
    saturation, value = (0.1, 0.93) if background else (1.0, 0.7)
    score = max(-1.0, min(1.0, score))
    if abs(score) < 0.2:
        saturation *= abs(score) / 0.2
    if score > 0.0:
        score = score**0.3
    if score < 0.0:
        score = -((-score) ** 0.3)
    if score < 0.0:
        g, r = value, value * (1 + saturation * score)
    else:
        r, g = value, value * (1 - saturation * score)
    b = value * (1 - saturation)
    return "#" + "".join(f"{int(c * 255.0) & 0xFF:02x}" for c in (r, g, b))


def dot_text(prepared: Prepared, g: CallGraph) -> str:
    """The text of ``go tool pprof -dot``."""
    fmt = _formatter(prepared, g)
    shown = sum(n.flat_value() for n in g.nodes)
    labels = legend(
        prepared,
        fmt,
        shown,
        orig_count=g.orig_count,
        shown_count=len(g.nodes),
        dropped=g.dropped_nodes,
        nodefraction=prepared.options.nodefraction or 0.0,
        dropped_edges=g.dropped_edges,
        edgefraction=prepared.options.edgefraction or 0.0,
        full=True,
    )
    labels.append("\n" + LEGEND_URL_TEXT)
    title = go_base(prepared.main.file) if prepared.main and prepared.main.file else ""
    out = [f'digraph "{title or "unnamed"}" {{', 'node [style=filled fillcolor="#f8f8f8"]']
    head = f'subgraph cluster_L {{ "{escape(labels[0])}" [shape=box fontsize=16'
    head += ' label="' + "\\l".join(escape(x) for x in labels) + '\\l"'
    if title:
        head += f' tooltip="{title}"'
    out.append(head + "] }")
    if g.nodes:
        out.extend(_dot_body(g, fmt))
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_body(g: CallGraph, fmt: ValueFormatter) -> list[str]:
    ids = {n.gid: i + 1 for i, n in enumerate(g.nodes)}
    max_flat = float(max(abs(n.flat_value()) for n in g.nodes))
    out: list[str] = []
    nodelets: dict[int, bool] = {}
    for n in g.nodes:
        out.append(_dot_node(n, ids[n.gid], max_flat, fmt, g.total))
        lines = _nodelets(n, ids[n.gid], fmt)
        out.extend(lines)
        nodelets[n.gid] = bool(lines)
    names = {n.gid: n.name for n in g.nodes}
    for e in sorted_edges(g.edges(), names):
        out.append(_dot_edge(e, ids, names, fmt, g.total, nodelets.get(e.src, False)))
    return out


def _pct(value: int, total: int) -> str:
    return measurement.percentage(value, total).strip()


def _dot_node(n: Node, nid: int, max_flat: float, fmt: ValueFormatter, total: int) -> str:
    flat, cum = n.flat_value(), n.cum_value()
    label = _multiline_name(n)
    flat_text = fmt(flat)
    label += f"{flat_text} ({_pct(flat, total)})" if flat != 0 else "0"
    cum_text = flat_text
    if cum != flat:
        label += "\\n" if flat != 0 else " "
        cum_text = fmt(cum)
        label += f"of {cum_text} ({_pct(cum, total)})"
    size = 8
    if max_flat != 0 and flat != 0 and abs(flat) <= max_flat:
        size += math.ceil(16.0 * math.sqrt(abs(flat) / max_flat))
    score = float(cum) / float(abs(total)) if total else 0.0
    return (
        f'N{nid} [label="{label}" id="node{nid}" fontsize={size} shape=box '
        f'tooltip="{escape(n.name)} ({cum_text})" color="{dot_color(score, False)}" '
        f'fillcolor="{dot_color(score, True)}"]'
    )


def _sort_tags(tags: list[Tag], flat: bool) -> list[Tag]:
    """pprof's SortTags: by |cum| (unless flat), then |flat|, then name."""
    if flat:
        return sorted(tags, key=lambda t: (-abs(t.flat), t.name))
    return sorted(tags, key=lambda t: (-abs(t.cum), -abs(t.flat), t.name))


def _nodelets(n: Node, nid: int, fmt: ValueFormatter) -> list[str]:
    """pprof's addNodelets: the top label tags, then the numeric ones."""
    flat_tags = len(n.outs) > 0  # leaves show cum tags (they include trimmed children)
    out: list[str] = []
    tags = _sort_tags(list(n.label_tags.values()), flat_tags)[:MAX_NODELETS]
    for i, t in enumerate(tags):
        w = weight_value(t.flat, t.flat_div) if flat_tags else weight_value(t.cum, t.cum_div)
        if w == 0:
            continue
        weight = fmt(w)
        out.append(
            f'N{nid}_{i} [label = "{t.name}" id="N{nid}_{i}" fontsize=8 shape=box3d '
            f'tooltip="{weight}"]'
        )
        out.append(
            f'N{nid} -> N{nid}_{i} [label=" {weight}" weight=100 tooltip="{weight}" '
            f'labeltooltip="{weight}"]'
        )
        nts = n.numeric_tags.get(t.name)
        if nts:
            out.extend(_numeric_nodelets(list(nts.values()), flat_tags, f"N{nid}_{i}", fmt))
    nts = n.numeric_tags.get("")
    if nts:
        out.extend(_numeric_nodelets(list(nts.values()), flat_tags, f"N{nid}", fmt))
    return out


def _numeric_nodelets(
    tags: list[Tag], flat_tags: bool, source: str, fmt: ValueFormatter
) -> list[str]:
    out = []
    for j, t in enumerate(_collapsed(tags, MAX_NODELETS, flat_tags)):
        fv, cv = weight_value(t.flat, t.flat_div), weight_value(t.cum, t.cum_div)
        w, attr = cv, ' style="dotted"'
        if flat_tags or fv == cv:
            w, attr = fv, ""
        if w != 0:
            weight = fmt(w)
            out.append(
                f'N{source}_{j} [label = "{t.name}" id="N{source}_{j}" fontsize=8 '
                f'shape=box3d tooltip="{weight}"]'
            )
            out.append(
                f'{source} -> N{source}_{j} [label=" {weight}" weight=100 tooltip="{weight}" '
                f'labeltooltip="{weight}"{attr}]'
            )
    return out


def _collapsed(tags: list[Tag], count: int, flat: bool) -> list[Tag]:
    """pprof's collapsedTags: at most ``count`` tags, the rest grouped to the nearest."""
    tags = _sort_tags(tags, flat)
    if len(tags) <= count:
        return tags
    groups = [[t] for t in tags[:count]]
    for t in tags[count:]:
        best, dist = 0, _tag_distance(t, groups[0][0])
        for i in range(1, count):
            d = _tag_distance(t, groups[i][0])
            if d < dist:
                best, dist = i, d
        groups[best].append(t)
    return _sort_tags([_group_tag(g) for g in groups], flat)


def _tag_distance(t: Tag, u: Tag) -> float:
    v, _ = measurement.scale(u.value, u.unit, t.unit)
    return abs(float(t.value) - v)


def _group_tag(group: list[Tag]) -> Tag:
    """pprof's tagGroupLabel."""
    if len(group) == 1:
        t = group[0]
        name = measurement.label(t.value, t.unit)
        return Tag(name, weight_value(t.flat, t.flat_div), 0, weight_value(t.cum, t.cum_div), 0)
    lo = hi = group[0]
    f, df, c, dc = lo.flat, lo.flat_div, lo.cum, lo.cum_div
    for t in group[1:]:
        if int(measurement.scale(t.value, t.unit, lo.unit)[0]) < lo.value:
            lo = t
        if int(measurement.scale(t.value, t.unit, hi.unit)[0]) > hi.value:
            hi = t
        f, df, c, dc = f + t.flat, df + t.flat_div, c + t.cum, dc + t.cum_div
    name = measurement.label(lo.value, lo.unit) + ".." + measurement.label(hi.value, hi.unit)
    return Tag(name, weight_value(f, df), 0, weight_value(c, dc), 0)


def _dot_edge(
    e: Edge,
    ids: dict[int, int],
    names: dict[int, str],
    fmt: ValueFormatter,
    total: int,
    minlen: bool,
) -> str:
    wv = e.value()
    w = fmt(wv)
    attr = f'label=" {w}{chr(92) + "n (inline)" if e.inline else ""}"'
    if total != 0:
        weight = 1 + min(abs(wv) * 100 // abs(total), 100)
        if weight > 1:
            attr += f" weight={weight}"
        width = 1 + min(abs(wv) * 5 // abs(total), 5)
        if width > 1:
            attr += f" penwidth={width}"
        attr += f' color="{dot_color(float(wv) / float(abs(total)), False)}"'
    arrow = "..." if e.residual else "->"
    tip = f'"{escape(names[e.src])} {arrow} {escape(names[e.dest])} ({w})"'
    attr += f" tooltip={tip} labeltooltip={tip}"
    if e.residual:
        attr += ' style="dotted"'
    if minlen:
        attr += " minlen=2"
    return f"N{ids.get(e.src, 0)} -> N{ids.get(e.dest, 0)} [{attr}]"


def tree_text(prepared: Prepared, g: CallGraph) -> str:
    """The text of ``go tool pprof -tree``: every node of the trimmed graph with its edges."""
    rows = [(n.gid, n.name, n.flat_value(), n.cum_value()) for n in g.nodes]
    nodes = pl.DataFrame(
        rows,
        schema={
            "node_id": pl.Int64,
            "name": pl.Utf8,
            "flat_value": pl.Int64,
            "cum_value": pl.Int64,
        },
        orient="row",
    )
    names = {n.gid: n.name for n in g.nodes}
    edges = pl.DataFrame(
        [
            (e.src, e.dest, e.weight, e.inline, names[e.src], names[e.dest])
            for e in sorted_edges(g.edges(), names)
        ],
        schema={
            "src": pl.Int64,
            "dest": pl.Int64,
            "weight": pl.Int64,
            "inline": pl.Boolean,
            "src_name": pl.Utf8,
            "dest_name": pl.Utf8,
        },
        orient="row",
    )
    result = PeekResult(nodes, nodes, edges, g.total)
    return peek_text(
        prepared,
        result,
        orig_count=g.orig_count,
        dropped=g.dropped_nodes,
        nodefraction=prepared.options.nodefraction or 0.0,
    )


def callgrind_text(prepared: Prepared, g: CallGraph, objfiles: dict[int, str]) -> str:
    """The text of ``go tool pprof -callgrind`` (KCachegrind's format).

    ``objfiles`` maps report node ids to their binary (pprof keeps it for callgrind).
    """
    fmt = _formatter(prepared, g, callgrind=True)
    unit_from, unit_to = prepared.sample_type.unit, fmt.output_unit
    names = _disambiguated(g)
    out = ["positions: instr line", f"events: {prepared.sample_type.type}({unit_to})"]
    tables: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
    obs, fls, fns = tables
    by_gid = {n.gid: n for n in g.nodes}
    prev: Node | None = None
    for n in g.nodes:
        name, _, file, _, line, _ = n.key
        obj = objfiles.get(n.node_id, "")
        if (
            prev is None
            or obj != objfiles.get(prev.node_id, "")
            or file != prev.key[2]
            or name != prev.key[0]
        ):
            out += [
                "",
                "ob=" + _cg_name(obs, obj),
                "fl=" + _cg_name(fls, file),
                "fn=" + _cg_name(fns, name),
            ]
        sv, _ = measurement.scale(n.flat_value(), unit_from, unit_to)
        out.append(f"{_cg_address(prev, n.key[1])} {line} {int(sv)}")
        for e in sorted_edges(list(n.outs.values()), {k: v.name for k, v in by_gid.items()}):
            callee = by_gid[e.dest]
            c, _ = measurement.scale(e.weight, unit_from, unit_to)
            out.append("cfl=" + _cg_name(fls, callee.key[2]))
            out.append("cfn=" + _cg_name(fns, names[callee.gid]))
            out.append(f"calls=0 {_cg_address(prev, callee.key[1])} {callee.key[4]}")
            out.append(f"* * {int(c)}")
        prev = n
    return "\n".join(out) + "\n"


def _disambiguated(g: CallGraph) -> dict[int, str]:
    """pprof's getDisambiguatedNames: ``name [i/n]`` when a (file, name) has n functions."""
    index: dict[tuple[str, str], dict[object, int]] = {}
    for n in g.nodes:
        fns = index.setdefault((n.key[2], n.key[0]), {})
        fns.setdefault(_function_of(n), len(fns))
    out = {}
    for n in g.nodes:
        fns = index[(n.key[2], n.key[0])]
        out[n.gid] = n.key[0]
        if len(fns) > 1:
            out[n.gid] += f" [{fns[_function_of(n)] + 1}/{len(fns)}]"
    return out


def _function_of(n: Node) -> object:
    """pprof's Node.Function: the node's info without address and line (per call path)."""
    name, _, file, start, _, obj = n.key
    return (n.parent_key, name, file, start, obj)


def _cg_name(names: dict[str, int], name: str) -> str:
    """callgrind's name compression: ``(N) name`` the first time, ``(N)`` after."""
    if name == "":
        return ""
    if name in names:
        return f"({names[name]})"
    names[name] = len(names) + 1
    return f"({names[name]}) {name}"


def _cg_address(prev: Node | None, address: int) -> str:
    """callgrind's subposition compression: ``*`` same, ``+N``/``-N`` when shorter."""
    absolute = f"{address:#x}"
    if prev is None:
        return absolute
    if prev.key[1] == address:
        return "*"
    diff = (address - prev.key[1] + 2**63) % 2**64 - 2**63  # Go's int64(curr - prev)
    relative = f"{diff:+d}"
    return relative if len(relative) < len(absolute) else absolute
