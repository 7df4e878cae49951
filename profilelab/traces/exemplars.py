"""Prometheus / OpenMetrics exemplars: from a latency bucket to its traces and profiles.

In the text exposition an exemplar follows a sample after ``#``::

    latency_seconds_bucket{le="0.5",route="/order"} 12 # {trace_id="4bf9..."} 0.43 1690000000.0

:func:`read_exemplars` returns one row per exemplar with the sample's metric, labels
(without ``le``), bucket bounds (``lower`` is the previous bucket's ``le`` in the same
series, so the exemplar's observation lies in (lower, le]), the exemplar's normalized
``trace_id``/``span_id`` (label names ``trace_id``, ``traceID``, ``trace-id``... are all
understood), value and time (OpenMetrics timestamps are seconds). :func:`exemplar_spans`
finds each exemplar's span: the span it names, else the root spans of its trace.
"""

from __future__ import annotations

import math
import re
from typing import Any

import polars as pl

from profilelab.errors import FormatError
from profilelab.model.spans import Spans, hex_id
from profilelab.readers._input import Source, open_input

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_.\-]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,)?\s*')
_KV = pl.List(pl.Struct({"key": pl.Utf8, "value": pl.Utf8}))

EXEMPLARS: dict[str, pl.DataType] = {
    "metric": pl.Utf8(),
    "labels": _KV,
    "le": pl.Float64(),  # null when the sample is not a histogram bucket
    "lower": pl.Float64(),  # previous bucket bound of the series; null for the first
    "value": pl.Float64(),  # the sample's value (a cumulative count for buckets)
    "trace_id": pl.Utf8(),
    "span_id": pl.Utf8(),
    "exemplar_value": pl.Float64(),  # the observation (a latency, for latency buckets)
    "exemplar_time_ns": pl.Int64(),
    "exemplar_labels": _KV,
    "line": pl.Int64(),
}


def read_exemplars(source: Source | str) -> pl.DataFrame:
    """Exemplars of a Prometheus/OpenMetrics text exposition (path, bytes or text)."""
    if isinstance(source, str) and ("\n" in source or "#" in source or "{" in source):
        text, name = source, "<text>"
    else:
        inp = open_input(source)  # type: ignore[arg-type]
        text, name = inp.data.decode("utf-8", errors="replace"), inp.name
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            rows.append(_sample(line, number))
        except ValueError as exc:
            raise FormatError(f"{name}: line {number}: {exc}: {line[:80]!r}") from None
    if not rows and text.strip() and not text.lstrip().startswith("#"):
        raise FormatError(f"{name}: no metric samples")
    df = pl.DataFrame(rows, schema=_ROW_SCHEMA, orient="row")
    return _with_bounds(df).filter(pl.col("has_exemplar")).select(list(EXEMPLARS))


_ROW_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.Utf8(),
    "labels": _KV,
    "le": pl.Float64(),
    "value": pl.Float64(),
    "has_exemplar": pl.Boolean(),
    "trace_id": pl.Utf8(),
    "span_id": pl.Utf8(),
    "exemplar_value": pl.Float64(),
    "exemplar_time_ns": pl.Int64(),
    "exemplar_labels": _KV,
    "line": pl.Int64(),
}


def _sample(line: str, number: int) -> tuple[Any, ...]:
    m = _NAME.match(line)
    if not m:
        raise ValueError("expected a metric name")
    metric = m.group(0)
    labels, pos = _labels(line, m.end())
    head, _, exemplar = _split_exemplar(line[pos:])
    parts = head.split()
    if not parts:
        raise ValueError("expected a value")
    value = _float(parts[0])
    le = labels.pop("le", None)
    kv = [{"key": k, "value": v} for k, v in sorted(labels.items())]
    ex: tuple[Any, ...] = (False, None, None, None, None, [])
    if exemplar is not None:
        ex = _exemplar(exemplar)
    return (metric, kv, None if le is None else _float(le), value, *ex, number)


def _labels(line: str, pos: int) -> tuple[dict[str, str], int]:
    if pos >= len(line) or line[pos] != "{":
        return {}, pos
    labels: dict[str, str] = {}
    pos += 1
    while True:
        if line[pos:].lstrip().startswith("}"):
            return labels, line.index("}", pos) + 1
        m = _LABEL.match(line, pos)
        if not m:
            raise ValueError("malformed labels")
        labels[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
        if m.group(3) is None and not line[pos:].startswith("}"):
            raise ValueError("expected , or } in labels")


def _split_exemplar(rest: str) -> tuple[str, str, str | None]:
    head, sep, tail = rest.partition("#")
    return head, sep, (tail.strip() if sep else None)


def _exemplar(text: str) -> tuple[Any, ...]:
    labels, pos = _labels(text, 0)
    if pos == 0:
        raise ValueError("exemplar must start with {labels}")
    parts = text[pos:].split()
    if not parts:
        raise ValueError("exemplar has no value")
    value = _float(parts[0])
    time_ns = round(_float(parts[1]) * 1e9) if len(parts) > 1 else None
    norm = {re.sub(r"[_\-.]", "", k.lower()): v for k, v in labels.items()}
    trace = hex_id(norm.get("traceid"), 32)[0]
    span = hex_id(norm.get("spanid"), 16)[0]
    kv = [{"key": k, "value": v} for k, v in sorted(labels.items())]
    return (True, trace, span, value, time_ns, kv)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if math.isnan(value) and text.lower() != "nan":
        raise ValueError(f"not a number: {text!r}")
    return value


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def _with_bounds(df: pl.DataFrame) -> pl.DataFrame:
    """Add ``lower``: the previous ``le`` of the same series (buckets sorted by ``le``)."""
    series = pl.concat_str(
        pl.col("metric"),
        pl.col("labels")
        .list.eval(pl.element().struct.field("key") + "=" + pl.element().struct.field("value"))
        .list.join("\x00"),
        separator="\x00",
    )
    buckets = df.filter(pl.col("le").is_not_null()).sort("le")
    buckets = buckets.with_columns(pl.col("le").shift(1).over(series).alias("lower"))
    others = df.filter(pl.col("le").is_null()).with_columns(pl.lit(None, pl.Float64).alias("lower"))
    return pl.concat([buckets, others]).sort("line")


def exemplar_spans(exemplars: pl.DataFrame, spans: Spans) -> pl.DataFrame:
    """Each exemplar with the span(s) it leads to, and ``match`` saying how.

    ``match`` is ``span`` (the exemplar's span id), ``trace_root`` (no span id: the root
    spans of its trace), ``span_not_found``, ``trace_not_loaded`` or ``no_trace_id``;
    ``span_row`` is null when nothing matched.
    """
    nodes = spans.nodes.select("span_row", "trace_id", "span_id", "parent_row")
    ex = exemplars.with_row_index("exemplar")
    by_span = ex.filter(pl.col("span_id").is_not_null()).join(
        nodes.select("span_row", "trace_id", "span_id"), on=["trace_id", "span_id"], how="left"
    )
    roots = nodes.filter(pl.col("parent_row") < 0).select("span_row", "trace_id")
    by_trace = ex.filter(pl.col("span_id").is_null()).join(roots, on="trace_id", how="left")
    loaded = nodes.select("trace_id").unique().with_columns(pl.lit(True).alias("_loaded"))
    out = pl.concat([by_span, by_trace]).join(loaded, on="trace_id", how="left")
    match = (
        pl.when(pl.col("trace_id").is_null())
        .then(pl.lit("no_trace_id"))
        .when(pl.col("_loaded").is_null())
        .then(pl.lit("trace_not_loaded"))
        .when(pl.col("span_row").is_null())
        .then(pl.lit("span_not_found"))
        .when(pl.col("span_id").is_not_null())
        .then(pl.lit("span"))
        .otherwise(pl.lit("trace_root"))
    )
    return out.with_columns(match.alias("match")).drop("_loaded").sort("exemplar", "span_row")
