"""pprof-compatible text output: top (``-top``), peek, tags and traces, byte for byte."""

from __future__ import annotations

import polars as pl

from profilelab.core import measurement
from profilelab.ops.pipeline import Prepared
from profilelab.ops.report_peek import PeekResult
from profilelab.ops.report_top import TopResult
from profilelab.render.header import ValueFormatter, legend, profile_labels
from profilelab.render.tabwriter import tabwrite


def formatter(prepared: Prepared) -> ValueFormatter:
    return ValueFormatter(prepared.sample_type.unit, prepared.options.unit)


def top_text(prepared: Prepared, result: TopResult, nodefraction: float) -> str:
    """The text of ``go tool pprof -top`` for ``result``."""
    fmt = formatter(prepared)
    rows = result.table.select("flat", "cum", "name", "inline").rows()
    fmt.select_unit([(f, c) for f, c, _, _ in rows], result.total)
    shown_flat = sum(r[0] for r in rows)
    lines = legend(
        prepared,
        fmt,
        shown_flat,
        orig_count=result.orig_count,
        shown_count=len(rows),
        dropped=result.dropped,
        nodefraction=nodefraction,
    )
    lines.append(f"{'flat':>10} {'flat':>5}% {'sum':>5}% {'cum':>10} {'cum':>5}%")
    total = result.total
    flat_sum = 0
    for flat, cum, name, inline in rows:
        flat_sum += flat
        suffix = f" ({inline})" if inline else ""
        lines.append(
            f"{fmt(flat):>10} {measurement.percentage(flat, total)} "
            f"{measurement.percentage(flat_sum, total)} {fmt(cum):>10} "
            f"{measurement.percentage(cum, total)}  {name}{suffix}"
        )
    return "\n".join(lines) + "\n"


_TREE_SEP = "----------------------------------------------------------+-------------"
_TREE_LEGEND = "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t "
_TRACE_SEP = "-----------+-------------------------------------------------------"


def peek_text(
    prepared: Prepared,
    result: PeekResult,
    *,
    orig_count: int | None = None,
    dropped: int = 0,
    nodefraction: float = 0.0,
) -> str:
    """The text of ``go tool pprof -peek REGEX`` (and of ``-tree``: every node matched,
    with the trimmed graph's counts)."""
    fmt = formatter(prepared)
    nodes = result.nodes
    fmt.select_unit(list(nodes.select("flat_value", "cum_value").iter_rows()), result.total)
    shown = int(nodes["flat_value"].sum()) if nodes.height else 0
    lines = legend(
        prepared,
        fmt,
        shown,
        orig_count=nodes.height if orig_count is None else orig_count,
        shown_count=nodes.height,
        dropped=dropped,
        nodefraction=nodefraction,
    )
    lines += [_TREE_SEP, _TREE_LEGEND]
    total, flat_sum = result.total, 0
    pct = measurement.percentage
    for node_id, name, flat, cum in result.matched.select(
        "node_id", "name", "flat_value", "cum_value"
    ).iter_rows():
        lines.append(_TREE_SEP)
        ins = result.edges.filter(pl.col("dest") == node_id)
        for src, w, inl in ins.select("src_name", "weight", "inline").iter_rows():
            lines.append(f"{fmt(w):>50} {pct(w, cum)} |   {src}{' (inline)' if inl else ''}")
        flat_sum += flat
        lines.append(
            f"{fmt(flat):>10} {pct(flat, total)} {pct(flat_sum, total)} {fmt(cum):>10} "
            f"{pct(cum, total)}                | {name}"
        )
        outs = result.edges.filter(pl.col("src") == node_id)
        for dst, w, inl in outs.select("dest_name", "weight", "inline").iter_rows():
            lines.append(f"{fmt(w):>50} {pct(w, cum)} |   {dst}{' (inline)' if inl else ''}")
    if nodes.height:
        lines.append(_TREE_SEP)
    return "\n".join(lines) + "\n"


def tags_text(prepared: Prepared, table: pl.DataFrame) -> str:
    """The text of ``go tool pprof -tags`` (Go 1.19's layout)."""
    unit, out_unit = prepared.sample_type.unit, prepared.options.unit
    buf = []
    for (key,), rows in table.group_by(["key"], maintain_order=True):
        total = int(rows["flat"].sum())
        f, u = measurement.scale(total, unit, out_unit)
        buf.append(f"{key}:\t Total {f:.1f}{u}")
        for value, flat in rows.select("value", "flat").iter_rows():
            f, u = measurement.scale(flat, unit, out_unit)
            if total > 0:
                buf.append(f" \t{f:.1f}{u} ({measurement.percentage(flat, total)}):\t {value}")
            else:
                buf.append(f" \t{f:.1f}{u}:\t {value}")
        buf.append("")
    return tabwrite("\n".join(buf) + "\n") if buf else ""


def traces_text(prepared: Prepared, table: pl.DataFrame) -> str:
    """The text of ``go tool pprof -traces``."""
    fmt = ValueFormatter(prepared.sample_type.unit, prepared.options.unit)
    lines = profile_labels(prepared, fmt)
    for value, labels, frames, inline in table.iter_rows():
        if not frames:
            continue
        lines.append(_TRACE_SEP)
        lines.extend(labels)
        for i, (name, inl) in enumerate(zip(frames, inline, strict=True)):
            vs = fmt(value) if i == 0 else ""
            lines.append(f"{vs:>10}   {name}{' (inline)' if inl else ''}")
    lines.append(_TRACE_SEP)
    return "\n".join(lines) + "\n"
