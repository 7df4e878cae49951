"""OTLP traces: protobuf ``TracesData`` / ``ExportTraceServiceRequest`` and OTLP/JSON.

Both messages are ``repeated ResourceSpans resource_spans = 1``, so one protobuf decode
serves both. OTLP/JSON differs from proto3 JSON in one trap: ``traceId``/``spanId`` are hex
strings, not base64 (``google.protobuf.json_format`` would decode them wrongly), so JSON is
walked by hand. Enum fields may be integers or names, 64-bit integers numbers or strings,
and field names lowerCamelCase or the proto's snake_case; all are accepted.

Mapping to the ``spans`` table: ``service.name`` of the resource becomes ``service``, the
other resource attributes join the span's attributes (the span's win on a clash), the scope
name and version become ``otel.scope.name`` / ``otel.scope.version`` and ``Status.message``
becomes ``otel.status_description`` (as OpenTelemetry's Jaeger and Zipkin exporters do).
Events and links are not kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from profilelab.errors import FormatError
from profilelab.readers._spanrows import STATUSES, SpanRows, attr_text, kind_text

_KINDS = {0: "internal", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS = {0: "unset", 1: "ok", 2: "error"}


# ---- protobuf ----------------------------------------------------------------------------
def read_proto(data: bytes, rows: SpanRows) -> None:
    """Decode a binary OTLP traces message into ``rows``."""
    msg = trace_pb2.TracesData()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise FormatError(f"{rows.source}: not an OTLP traces message ({exc})") from None
    for rs in msg.resource_spans:
        resource = [(kv.key, _proto_value(kv.value)) for kv in rs.resource.attributes]
        for ss in rs.scope_spans:
            scope = _scope_attrs(ss.scope.name, ss.scope.version)
            for sp in ss.spans:
                status = _STATUS.get(sp.status.code, "unset")
                own = [(kv.key, _proto_value(kv.value)) for kv in sp.attributes]
                _add(
                    rows,
                    sp.trace_id,
                    sp.span_id,
                    sp.parent_span_id,
                    sp.name,
                    _KINDS.get(sp.kind, "internal"),
                    resource,
                    scope,
                    own,
                    sp.start_time_unix_nano,
                    sp.end_time_unix_nano,
                    status,
                    sp.status.message,
                )


def _proto_value(v: common_pb2.AnyValue) -> str:
    return attr_text(_proto_plain(v))


def _proto_plain(v: common_pb2.AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_proto_plain(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _proto_plain(kv.value) for kv in v.kvlist_value.values}
    return None if which is None else getattr(v, which)


# ---- OTLP/JSON ---------------------------------------------------------------------------
def read_json(doc: dict[str, Any], rows: SpanRows) -> None:
    """Walk one OTLP/JSON traces document (``{"resourceSpans": [...]}``) into ``rows``."""
    for rs in _list(doc, "resourceSpans", "resource_spans"):
        res = _get(rs, "resource") or {}
        resource = [(k, attr_text(v)) for k, v in _json_kvs(_get(res, "attributes"))]
        for ss in _scope_spans(rs):
            sc = _get(ss, "scope", "instrumentationLibrary", "instrumentation_library") or {}
            scope = _scope_attrs(_get(sc, "name") or "", _get(sc, "version") or "")
            for sp in _list(ss, "spans"):
                _add_json_span(rows, sp, resource, scope)


def _add_json_span(
    rows: SpanRows,
    sp: dict[str, Any],
    resource: list[tuple[str, str]],
    scope: list[tuple[str, str]],
) -> None:
    status = _get(sp, "status") or {}
    own = [(k, attr_text(v)) for k, v in _json_kvs(_get(sp, "attributes"))]
    _add(
        rows,
        _get(sp, "traceId", "trace_id"),
        _get(sp, "spanId", "span_id"),
        _get(sp, "parentSpanId", "parent_span_id"),
        _get(sp, "name") or "",
        _enum(_get(sp, "kind"), _KINDS, "internal"),
        resource,
        scope,
        own,
        _int(_get(sp, "startTimeUnixNano", "start_time_unix_nano")),
        _int(_get(sp, "endTimeUnixNano", "end_time_unix_nano")),
        _enum(_get(status, "code"), _STATUS, "unset"),
        _get(status, "message") or "",
    )


def _scope_spans(rs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from _list(rs, "scopeSpans", "scope_spans")
    # OTLP before 0.15 called scopes "instrumentation libraries"
    yield from _list(rs, "instrumentationLibrarySpans", "instrumentation_library_spans")


def _json_kvs(items: Any) -> Iterator[tuple[str, Any]]:
    for kv in items or []:
        if isinstance(kv, dict) and "key" in kv:
            yield str(kv["key"]), _json_plain(kv.get("value"))


def _json_plain(v: Any) -> Any:
    """The Python value of an OTLP/JSON AnyValue."""
    if not isinstance(v, dict) or not v:
        return None
    key, val = next(iter(v.items()))
    if key in ("intValue", "int_value"):
        return _int(val)
    if key in ("doubleValue", "double_value"):
        return float(val)
    if key in ("boolValue", "bool_value"):
        return val if isinstance(val, bool) else str(val).lower() == "true"
    if key in ("arrayValue", "array_value"):
        return [_json_plain(x) for x in (val or {}).get("values", [])]
    if key in ("kvlistValue", "kvlist_value"):
        return dict(_json_kvs((val or {}).get("values", [])))
    if key in ("bytesValue", "bytes_value"):
        import base64

        return base64.b64decode(val)  # OTLP/JSON: bytes other than ids are base64
    return val


def _get(d: Any, *names: str) -> Any:
    if not isinstance(d, dict):
        return None
    for n in names:
        if n in d:
            return d[n]
    return None


def _list(d: Any, *names: str) -> list[Any]:
    value = _get(d, *names)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise FormatError(f"expected an integer, got {value!r}") from None


def _enum(value: Any, names: dict[int, str], default: str) -> str:
    if value is None:
        return default
    if isinstance(value, int):
        return names.get(value, default)
    text = str(value).lower()
    for prefix in ("span_kind_", "status_code_"):
        text = text.removeprefix(prefix)
    if text.isdigit():
        return names.get(int(text), default)
    return text if text in names.values() or text == "unspecified" else default


# ---- shared ------------------------------------------------------------------------------
def _scope_attrs(name: str, version: str) -> list[tuple[str, str]]:
    out = []
    if name:
        out.append(("otel.scope.name", name))
    if version:
        out.append(("otel.scope.version", version))
    return out


def _add(
    rows: SpanRows,
    trace_id: Any,
    span_id: Any,
    parent_span_id: Any,
    name: str,
    kind: str,
    resource: list[tuple[str, str]],
    scope: list[tuple[str, str]],
    own: list[tuple[str, str]],
    start_ns: int | None,
    end_ns: int | None,
    status: str,
    message: str,
) -> None:
    service = dict(resource).get("service.name")
    attrs = dict(kv for kv in resource if kv[0] != "service.name")
    attrs.update(scope)
    attrs.update(own)
    if message:
        attrs["otel.status_description"] = message
    rows.add(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id or None,
        name=name,
        kind=kind_text(kind),
        service=service,
        start_ns=start_ns or None,
        end_ns=end_ns or None,
        status=status if status in STATUSES else "unset",
        attributes=attrs.items(),
    )
