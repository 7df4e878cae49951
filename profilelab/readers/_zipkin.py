"""Zipkin v2 JSON: a list of spans (``traceId``, ``id``, ``parentId``, ``timestamp``, ...).

Times are microseconds; ``kind`` is ``SERVER``/``CLIENT``/``PRODUCER``/``CONSUMER`` or
absent (``internal``); ``localEndpoint.serviceName`` is the service; tags are strings, and
``otel.status_code`` / ``error`` become ``status`` as OpenTelemetry's Zipkin exporter writes
them. A B3 "shared" span (a client and a server half with one span id in two services) is
kept as two rows; the tree makes the server half a child of the client half. Annotations
and endpoint addresses are not kept.
"""

from __future__ import annotations

from typing import Any

from profilelab.errors import FormatError
from profilelab.readers._spanrows import SpanRows, attr_text, kind_text, status_from_tags


def read_json(doc: list[Any], rows: SpanRows) -> None:
    """Read a Zipkin v2 span list into ``rows``."""
    for span in doc:
        if not isinstance(span, dict):
            raise FormatError(f"{rows.source}: Zipkin JSON list holds a non-object: {span!r:.40}")
        _add_span(rows, span)


def _add_span(rows: SpanRows, span: dict[str, Any]) -> None:
    tags = {str(k): attr_text(v) for k, v in (span.get("tags") or {}).items()}
    status, tags = status_from_tags(tags)
    endpoint = span.get("localEndpoint") or {}
    ts, duration = span.get("timestamp"), span.get("duration")
    start_ns = None if ts is None else int(ts) * 1000
    end_ns = None if start_ns is None or duration is None else start_ns + int(duration) * 1000
    rows.add(
        trace_id=span.get("traceId"),
        span_id=span.get("id"),
        parent_span_id=span.get("parentId"),
        name=span.get("name"),
        kind=kind_text(span.get("kind")),
        service=endpoint.get("serviceName") if isinstance(endpoint, dict) else None,
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        attributes=tags.items(),
    )
