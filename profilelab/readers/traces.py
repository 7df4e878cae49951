"""Trace readers: OTLP (protobuf and JSON), Jaeger JSON and Zipkin v2 JSON into ``Spans``.

The format is sniffed from the content, never the file name: JSON (``{`` or ``[`` first)
is told apart by its shape (``resourceSpans`` → OTLP, ``data``/``traceID`` → Jaeger, a list
of spans → Zipkin; JSON Lines of OTLP documents, as the collector's file exporter writes,
are read too), and anything else must be a protobuf ``TracesData`` /
``ExportTraceServiceRequest`` (only field 1, length-delimited, at the top level). Gzip is
undone first, with the same size limit as profiles.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import polars as pl

from profilelab.errors import FormatError
from profilelab.model.spans import PROBLEMS, Spans
from profilelab.readers import _jaeger, _json, _zipkin, reader_errors
from profilelab.readers._input import Source, open_input
from profilelab.readers._spanrows import SpanRows
from profilelab.readers.sniff import protobuf_fields, protobuf_start


def read_traces(source: Source, name: str | None = None) -> Spans:
    """Read one trace input into :class:`Spans`; FormatError names the input and the problem."""
    inp = open_input(source, name, sniff=_trace_head)
    if not inp.data.strip():
        raise FormatError(f"{inp.name}: empty input")
    rows = SpanRows(inp.name)
    with reader_errors(inp.name, "trace"):
        sniff_traces(inp.data, inp.name)(inp.data, rows)
        if not rows.columns["span_id"] and rows.problems:
            first = rows.problems[0]
            raise FormatError(
                f"no valid span ({len(rows.problems)} problems, first: {first[3]}: {first[4]})"
            )
        spans = rows.frame()
        return Spans(spans, pl.DataFrame(rows.problems, schema=PROBLEMS, orient="row"))


def load_traces(source: Source | Iterable[Source]) -> Spans:
    """Load one trace input (path, bytes, file object) or several into one :class:`Spans`."""
    if isinstance(source, str | bytes | bytearray | memoryview) or hasattr(source, "read"):
        return read_traces(source)  # type: ignore[arg-type]
    if hasattr(source, "__fspath__"):
        return read_traces(source)  # type: ignore[arg-type]
    return Spans.concat(read_traces(s) for s in source)  # type: ignore[union-attr]


Reader = Callable[[bytes, SpanRows], None]


def _trace_head(head: bytes) -> bool:
    """Whether the first inflated bytes of a gzip input can start a trace (JSON, protobuf)."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") or protobuf_start(head)


def sniff_traces(data: bytes, name: str) -> Reader:
    """Pick the reader for ``data`` from its content."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"{", b"["):
        return _read_json
    fields = protobuf_fields(data, limit=64)
    if fields and all(f == 1 and w == 2 for f, w, _, _ in fields):
        return _read_otlp_proto
    raise FormatError(
        f"{name}: not a trace (expected OTLP protobuf or JSON, Jaeger JSON or Zipkin v2 JSON)"
    )


def _read_json(data: bytes, rows: SpanRows) -> None:
    text = data.decode("utf-8-sig", errors="strict")
    try:
        docs: list[Any] = [_json.parse(text)]
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise FormatError(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        docs = _json_lines(text)
    except (ValueError, RecursionError):  # a number or nesting the strict loader refuses
        docs = [_json.loads(text, "trace JSON")]
    for doc in docs:
        _read_json_doc(doc, rows)


def _json_lines(text: str) -> list[Any]:
    """One JSON document per line (the OpenTelemetry collector's file exporter)."""
    docs = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                docs.append(_json.parse(line))
            except json.JSONDecodeError as exc:
                raise FormatError(f"invalid JSON on line {number}: {exc.msg}") from None
            except (ValueError, RecursionError):
                docs.append(_json.loads(line, f"trace JSON line {number}"))
    return docs


def _read_json_doc(doc: Any, rows: SpanRows) -> None:
    if isinstance(doc, list):
        if doc and not (isinstance(doc[0], dict) and "traceId" in doc[0]):
            raise FormatError("JSON list is not Zipkin v2 spans (no traceId in its first item)")
        _zipkin.read_json(doc, rows)
    elif isinstance(doc, dict) and ("resourceSpans" in doc or "resource_spans" in doc):
        from profilelab.readers import _otlp_traces

        _otlp_traces.read_json(doc, rows)
    elif isinstance(doc, dict) and ("data" in doc or ("traceID" in doc and "spans" in doc)):
        _jaeger.read_json(doc, rows)
    else:
        keys = ", ".join(list(doc)[:6]) if isinstance(doc, dict) else type(doc).__name__
        raise FormatError(
            f"JSON is not OTLP, Jaeger or Zipkin traces (top level: {keys}; expected "
            "resourceSpans, data or a list of spans)"
        )


def _read_otlp_proto(data: bytes, rows: SpanRows) -> None:
    # imported on use: the protobuf runtime costs ~0.1 s to processes that never read traces
    from profilelab.readers import _otlp_traces

    _otlp_traces.read_proto(data, rows)
