"""A small, realistic traced service for the trace-join tests, and writers for four formats.

``make_world()`` simulates an "orders" service: requests ``GET /order`` (server span) with
children ``db.query`` (client: waiting), ``price.compute`` (CPU; in slow requests it calls
``main.applyDiscountsSlow`` for a long time), ``render`` (CPU) and ``GET /stock`` (client)
whose server half runs in an "inventory" service that is not profiled. A CPU profiler
samples every 10 ms of on-CPU time; each sample records the span that was truly running,
so tests check the join against this ground truth instead of numbers typed in by hand.

Samples are labelled with the conventions profilelab reads (see ``LABELLING``): the
local root only (otel-profiling-go / Pyroscope), Datadog's decimal ``span id`` + ``local
root span id``, exact ``trace_id`` + ``span_id``, none (runtime work), and deliberate misses.

The writers turn the spans into OTLP protobuf, OTLP/JSON, Jaeger JSON and Zipkin v2 JSON
the way OpenTelemetry's exporters do, from typed attribute values.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from profilelab._proto import pprof_pb2

PERIOD_NS = 10_000_000
T0_NS = 1_700_000_000_000_000_000
KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
STACKS = {
    "GET /order": ["main.handleOrder", "net/http.HandlerFunc.ServeHTTP", "net/http.(*conn).serve"],
    "price.compute": ["main.computePrice", "main.handleOrder", "net/http.(*conn).serve"],
    "slow": [
        "main.applyDiscountsSlow",
        "main.computePrice",
        "main.handleOrder",
        "net/http.(*conn).serve",
    ],
    "render": [
        "encoding/json.Marshal",
        "main.render",
        "main.handleOrder",
        "net/http.(*conn).serve",
    ],
    "gc": ["runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker"],
}
#: how the samples of request i are labelled: LABELLING[i % len(LABELLING)]
LABELLING = ("local_root", "datadog", "exact")


@dataclass
class SpanSpec:
    trace_id: str  # 32 hex
    span_id: str  # 16 hex
    parent: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str = "unset"
    message: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    cpu: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, stack key)


@dataclass
class Sample:
    stack: list[str]
    labels: dict[str, str | int]
    time_ns: int
    truth: SpanSpec | None  # the span that was running
    expect: str  # expected outcome (method or miss reason)
    expect_row_of: SpanSpec | None  # span the label-only join should choose


@dataclass
class World:
    spans: list[SpanSpec]
    samples: list[Sample]
    slow_traces: set[str]
    resource: dict[str, dict[str, Any]]


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def make_world(n_requests: int = 30, seed: int = 7) -> World:
    rng = random.Random(seed)
    spans: list[SpanSpec] = []
    slow_traces: set[str] = set()
    t = T0_NS
    for i in range(n_requests):
        slow = i % 10 == 3
        trace = _request(rng, i, t, slow)
        if slow:
            slow_traces.add(trace[0].trace_id)
        spans.extend(trace)
        t = max(s.end_ns for s in trace) + 1_000_000 * rng.randint(1, 5)
    samples = _samples(rng, spans)
    resource = {
        "orders": {"service.name": "orders", "host.name": "orders-1", "deployment": "prod"},
        "inventory": {"service.name": "inventory", "host.name": "inv-1"},
    }
    return World(spans, samples, slow_traces, resource)


def _us(ns: int) -> int:
    return ns - ns % 1000  # every format here keeps microseconds


def _request(rng: random.Random, i: int, t: int, slow: bool) -> list[SpanSpec]:
    tid = _hex(rng, 32)
    ms = 1_000_000
    root = SpanSpec(
        tid,
        _hex(rng, 16),
        None,
        "GET /order",
        "server",
        "orders",
        _us(t),
        0,
        attrs={
            "http.method": "GET",
            "http.status_code": 200,
            "http.route": "/order",
            "order.items": ["book", "pen"],
            "retry": False,
        },
    )
    c = root.start_ns + _us(rng.randint(1, 3) * ms)
    root.cpu.append((root.start_ns, c, "GET /order"))
    db = SpanSpec(
        tid,
        _hex(rng, 16),
        root.span_id,
        "db.query",
        "client",
        "orders",
        c,
        _us(c + rng.randint(8, 20) * ms),
        attrs={"db.system": "postgresql"},
    )
    c = db.end_ns
    stock = SpanSpec(
        tid,
        _hex(rng, 16),
        root.span_id,
        "GET /stock",
        "client",
        "orders",
        c,
        _us(c + rng.randint(4, 9) * ms),
    )
    inv = SpanSpec(
        tid,
        _hex(rng, 16),
        stock.span_id,
        "GET /stock",
        "server",
        "inventory",
        stock.start_ns + 500_000,
        stock.end_ns - 500_000,
        attrs={"weight": 1.0, "discount.ratio": 0.25},
    )
    c = stock.end_ns
    work = (150 + rng.randint(0, 80)) * ms if slow else rng.randint(4, 9) * ms
    price = SpanSpec(
        tid,
        _hex(rng, 16),
        root.span_id,
        "price.compute",
        "internal",
        "orders",
        c,
        _us(c + work + 1 * ms),
    )
    if slow:
        price.cpu.append((c, c + 2 * ms, "price.compute"))
        price.cpu.append((c + 2 * ms, c + work, "slow"))
        price.status, price.message = "error", "discount service degraded"
    else:
        price.cpu.append((c, c + work, "price.compute"))
    c = price.end_ns
    render = SpanSpec(
        tid,
        _hex(rng, 16),
        root.span_id,
        "render",
        "internal",
        "orders",
        c,
        _us(c + rng.randint(3, 7) * ms),
    )
    render.cpu.append((render.start_ns, render.end_ns, "render"))
    root.end_ns = _us(render.end_ns + 1 * ms)
    root.status = "ok"
    return [root, db, stock, inv, price, render]


def _samples(rng: random.Random, spans: list[SpanSpec]) -> list[Sample]:
    """One sample per 10 ms of on-CPU time, at a random instant of the on-CPU window."""
    roots = {s.trace_id: s for s in spans if s.parent is None}
    order = {tid: k for k, tid in enumerate(roots)}
    out: list[Sample] = []
    carry = 0.0
    for span in spans:
        for start, end, key in span.cpu:
            carry += (end - start) / PERIOD_NS
            while carry >= 1:
                carry -= 1
                at = rng.randrange(start, end)
                root = roots[span.trace_id]
                style = LABELLING[order[span.trace_id] % len(LABELLING)]
                out.append(_labelled(STACKS[key], at, span, root, style))
    # runtime work with no span, and samples whose span is not in the trace file
    last = max(s.end_ns for s in spans)
    for k in range(6):
        out.append(
            Sample(STACKS["gc"], {}, T0_NS + k * (last - T0_NS) // 6, None, "unlabelled", None)
        )
    ghost_trace, ghost_span = "f" * 8 + "0" * 23 + "1", "0123456789abcdef"
    out.append(
        Sample(
            STACKS["render"],
            {"trace_id": ghost_trace, "span_id": ghost_span},
            last,
            None,
            "trace_not_loaded",
            None,
        )
    )
    a_root = next(iter(roots.values()))
    out.append(
        Sample(
            STACKS["render"],
            {"span id": "12345", "local root span id": str(int(a_root.span_id, 16))},
            a_root.start_ns + 1,
            a_root,
            "local_root_fallback",
            a_root,
        )
    )
    out.append(Sample(STACKS["render"], {"span id": "777"}, last, None, "span_not_found", None))
    return out


def _labelled(stack: list[str], at: int, span: SpanSpec, root: SpanSpec, style: str) -> Sample:
    if style == "local_root":  # otel-profiling-go: the local root span only
        return Sample(
            stack, {"span_id": root.span_id, "span_name": root.name}, at, span, "span_label", root
        )
    if style == "datadog":  # decimal ids, no trace id
        labels: dict[str, str | int] = {
            "span id": str(int(span.span_id, 16)),
            "local root span id": str(int(root.span_id, 16)),
        }
        return Sample(stack, labels, at, span, "span_label", span)
    return Sample(
        stack, {"trace_id": span.trace_id, "span_id": span.span_id}, at, span, "span_label", span
    )


# ---- pprof --------------------------------------------------------------------------------
def pprof_bytes(samples: list[Sample], time_ns: int, duration_ns: int) -> bytes:
    """A CPU profile (samples/count, cpu/nanoseconds) of ``samples`` with their labels."""
    p = pprof_pb2.Profile()
    strings: dict[str, int] = {}

    def s(text: str) -> int:
        if text not in strings:
            strings[text] = len(strings)
            p.string_table.append(text.encode())
        return strings[text]

    s("")
    for typ, unit in (("samples", "count"), ("cpu", "nanoseconds")):
        p.sample_type.add(type=s(typ), unit=s(unit))
    p.period_type.type, p.period_type.unit, p.period = s("cpu"), s("nanoseconds"), PERIOD_NS
    p.time_nanos, p.duration_nanos = time_ns, duration_ns
    m = p.mapping.add(id=1, memory_start=0x400000, memory_limit=0x800000, filename=s("/app/orders"))
    m.has_functions = True
    locs: dict[str, int] = {}
    for sample in samples:
        ids = []
        for fn in sample.stack:
            if fn not in locs:
                k = len(locs) + 1
                p.function.add(id=k, name=s(fn), system_name=s(fn), filename=s("main.go"))
                loc = p.location.add(id=k, mapping_id=1, address=0x400000 + 16 * k)
                loc.line.add(function_id=k, line=10 * k)
                locs[fn] = k
            ids.append(locs[fn])
        ps = p.sample.add(location_id=ids, value=[1, PERIOD_NS])
        for key, value in sample.labels.items():
            if isinstance(value, int):
                ps.label.add(key=s(key), num=value)
            else:
                ps.label.add(key=s(key), str=s(value))
    return p.SerializeToString()


# ---- trace writers ------------------------------------------------------------------------
def _scope() -> tuple[str, str]:
    return "orders-tracer", "1.2.0"


def _status_tags(span: SpanSpec) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    if span.status != "unset":
        tags["otel.status_code"] = span.status.upper()
    if span.message:
        tags["otel.status_description"] = span.message
    return tags


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _any_proto(value: Any) -> common_pb2.AnyValue:
    v = common_pb2.AnyValue()
    if isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, float):
        v.double_value = value
    elif isinstance(value, list):
        v.array_value.values.extend(_any_proto(x) for x in value)
    else:
        v.string_value = str(value)
    return v


def _any_json(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any_json(x) for x in value]}}
    return {"stringValue": str(value)}


def _by_service(world: World) -> dict[str, list[SpanSpec]]:
    out: dict[str, list[SpanSpec]] = {}
    for span in world.spans:
        out.setdefault(span.service, []).append(span)
    return out


def otlp_proto(world: World) -> bytes:
    msg = trace_pb2.TracesData()
    for service, spans in _by_service(world).items():
        rs = msg.resource_spans.add()
        for k, v in world.resource[service].items():
            rs.resource.attributes.add(key=k, value=_any_proto(v))
        ss = rs.scope_spans.add()
        ss.scope.name, ss.scope.version = _scope()
        for span in spans:
            sp = ss.spans.add(
                trace_id=bytes.fromhex(span.trace_id),
                span_id=bytes.fromhex(span.span_id),
                parent_span_id=bytes.fromhex(span.parent) if span.parent else b"",
                name=span.name,
                kind=KINDS[span.kind],  # type: ignore[arg-type]
                start_time_unix_nano=span.start_ns,
                end_time_unix_nano=span.end_ns,
            )
            sp.status.code = {"unset": 0, "ok": 1, "error": 2}[span.status]  # type: ignore[assignment]
            sp.status.message = span.message
            for k, v in span.attrs.items():
                sp.attributes.add(key=k, value=_any_proto(v))
    return msg.SerializeToString()


def otlp_json(world: World) -> bytes:
    resource_spans = []
    for service, spans in _by_service(world).items():
        out = []
        for span in spans:
            d: dict[str, Any] = {
                "traceId": span.trace_id.upper(),  # OTLP/JSON ids are hex, any case
                "spanId": span.span_id,
                "name": span.name,
                "kind": KINDS[span.kind],
                "startTimeUnixNano": str(span.start_ns),
                "endTimeUnixNano": str(span.end_ns),
                "attributes": [{"key": k, "value": _any_json(v)} for k, v in span.attrs.items()],
                "status": {"code": {"unset": 0, "ok": 1, "error": 2}[span.status]},
            }
            if span.parent:
                d["parentSpanId"] = span.parent
            if span.message:
                d["status"]["message"] = span.message
            out.append(d)
        name, version = _scope()
        resource_spans.append(
            {
                "resource": {
                    "attributes": [
                        {"key": k, "value": _any_json(v)}
                        for k, v in world.resource[service].items()
                    ]
                },
                "scopeSpans": [{"scope": {"name": name, "version": version}, "spans": out}],
            }
        )
    return json.dumps({"resourceSpans": resource_spans}, indent=1).encode()


def _jaeger_tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    return {"key": key, "type": "string", "value": _text(value)}


def jaeger_json(world: World) -> bytes:
    traces: dict[str, dict[str, Any]] = {}
    pids = {svc: f"p{k + 1}" for k, svc in enumerate(world.resource)}
    for span in world.spans:
        tr = traces.setdefault(
            span.trace_id,
            {"traceID": span.trace_id, "spans": [], "processes": {}, "warnings": None},
        )
        res = world.resource[span.service]
        tr["processes"][pids[span.service]] = {
            "serviceName": span.service,
            "tags": [_jaeger_tag(k, v) for k, v in res.items() if k != "service.name"],
        }
        name, version = _scope()
        tags = {
            **span.attrs,
            "span.kind": span.kind,
            "otel.scope.name": name,
            "otel.scope.version": version,
            **_status_tags(span),
        }
        if span.status == "error":
            tags["error"] = True
        tr["spans"].append(
            {
                "traceID": span.trace_id,
                "spanID": span.span_id,
                "operationName": span.name,
                "references": [
                    {"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent}
                ]
                if span.parent
                else [],
                "startTime": span.start_ns // 1000,
                "duration": (span.end_ns - span.start_ns) // 1000,
                "tags": [_jaeger_tag(k, v) for k, v in tags.items()],
                "logs": [],
                "processID": pids[span.service],
                "warnings": None,
            }
        )
    doc = {"data": list(traces.values()), "total": 0, "limit": 0, "offset": 0, "errors": None}
    return json.dumps(doc).encode()


def zipkin_json(world: World) -> bytes:
    out = []
    for span in world.spans:
        name, version = _scope()
        res = {k: v for k, v in world.resource[span.service].items() if k != "service.name"}
        tags = {**res, **span.attrs, "otel.scope.name": name, "otel.scope.version": version}
        if span.status != "unset":
            tags["otel.status_code"] = span.status.upper()
        if span.status == "error":
            tags["error"] = span.message  # OTel's Zipkin exporter: the status message
        d: dict[str, Any] = {
            "traceId": span.trace_id,
            "id": span.span_id,
            "name": span.name,
            "timestamp": span.start_ns // 1000,
            "duration": (span.end_ns - span.start_ns) // 1000,
            "localEndpoint": {"serviceName": span.service},
            "tags": {k: _text(v) for k, v in tags.items()},
        }
        if span.parent:
            d["parentId"] = span.parent
        if span.kind != "internal":
            d["kind"] = span.kind.upper()
        out.append(d)
    return json.dumps(out).encode()


WRITERS = {
    "otlp-proto": otlp_proto,
    "otlp-json": otlp_json,
    "jaeger": jaeger_json,
    "zipkin": zipkin_json,
}
