"""Jaeger JSON: the query API / UI export ``{"data": [{"traceID", "spans", "processes"}]}``.

A single trace object (``{"traceID", "spans", "processes"}``) is read too. Times are
microseconds. The parent is the first ``CHILD_OF`` reference to the same trace (Jaeger's
``Span.ParentSpanID``), else the first ``FOLLOWS_FROM`` to the same trace; references to
other traces are reported and ignored. ``span.kind``, ``otel.status_code`` and ``error``
tags become ``kind`` and ``status``; the process's ``serviceName`` becomes ``service`` and
its tags join the span's attributes (the span's win on a clash). Logs are not kept; the
producer's own ``warnings`` are reported as problems.
"""

from __future__ import annotations

from typing import Any

from profilelab.errors import FormatError
from profilelab.model.spans import hex_id
from profilelab.readers._spanrows import (
    SpanRows,
    attr_text,
    float_text,
    kind_text,
    status_from_tags,
)


def read_json(doc: dict[str, Any], rows: SpanRows) -> None:
    """Read a Jaeger JSON document (API response or one trace) into ``rows``."""
    traces = doc.get("data") if "data" in doc else [doc]
    if not isinstance(traces, list):
        raise FormatError(f'{rows.source}: Jaeger JSON "data" is not a list')
    for trace in traces:
        if not isinstance(trace, dict):
            raise FormatError(f"{rows.source}: Jaeger JSON trace is not an object")
        processes = trace.get("processes") or {}
        for warning in trace.get("warnings") or []:
            rows.problem(
                hex_id(trace.get("traceID"), 32)[0], None, "producer_warning", str(warning)
            )
        for span in trace.get("spans") or []:
            if isinstance(span, dict):
                _add_span(rows, span, processes)


def _add_span(rows: SpanRows, span: dict[str, Any], processes: dict[str, Any]) -> None:
    trace_id = span.get("traceID")
    process = span.get("process") or processes.get(span.get("processID") or "") or {}
    tags = {t["key"]: _tag_text(t) for t in span.get("tags") or [] if "key" in t}
    kind = tags.pop("span.kind", None)
    status, tags = status_from_tags(tags)
    attrs = {t["key"]: _tag_text(t) for t in process.get("tags") or [] if "key" in t}
    attrs.update(tags)
    start_us, duration_us = span.get("startTime"), span.get("duration")
    start_ns = None if start_us is None else int(start_us) * 1000
    end_ns = None if start_ns is None or duration_us is None else start_ns + int(duration_us) * 1000
    tid, _ = hex_id(trace_id, 32)
    for warning in span.get("warnings") or []:
        rows.problem(tid, _show(span.get("spanID")), "producer_warning", str(warning))
    rows.add(
        trace_id=trace_id,
        span_id=span.get("spanID"),
        parent_span_id=_parent(rows, span, tid),
        name=span.get("operationName"),
        kind=kind_text(kind),
        service=process.get("serviceName"),
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        attributes=attrs.items(),
    )


def _parent(rows: SpanRows, span: dict[str, Any], tid: str | None) -> str | None:
    """The parent span id: first same-trace CHILD_OF, else first same-trace FOLLOWS_FROM."""
    refs = [r for r in span.get("references") or [] if isinstance(r, dict)]
    same = []
    for ref in refs:
        if hex_id(ref.get("traceID"), 32)[0] == tid:
            same.append(ref)
        else:
            rows.problem(
                tid,
                _show(span.get("spanID")),
                "cross_trace_reference",
                f"{ref.get('refType')} reference to span {ref.get('spanID')} of trace "
                f"{ref.get('traceID')} ignored",
            )
    for ref_type in ("CHILD_OF", "FOLLOWS_FROM"):
        for ref in same:
            if str(ref.get("refType", "")).upper() == ref_type:
                return str(ref.get("spanID"))
    return span.get("parentSpanID") or None  # older exports carry it as a field


def _tag_text(tag: dict[str, Any]) -> str:
    """The canonical text of a typed Jaeger tag (binary values are base64 already)."""
    value = tag.get("value")
    kind = str(tag.get("type", "string")).lower()
    if kind == "float64" and isinstance(value, int | float | str):
        return float_text(float(value))
    if kind == "int64" and isinstance(value, int | float | str):
        return str(int(value))
    if kind == "bool" and isinstance(value, str):
        return value.lower()
    return attr_text(value)


def _show(value: Any) -> str | None:
    return None if value is None else str(value)
