"""OTLP over gRPC and OTLP traces in ``profilelab serve``: real grpcio and OpenTelemetry clients."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from store_util import otlp_export, otlp_total

import profilelab
from profilelab._proto import pprof_pb2
from profilelab.model.ids import digest_bytes
from profilelab.store.serve import ProfileServer

grpc = pytest.importorskip("grpc")
needs_otel_sdk = pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.sdk") is None
    or importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is None
    or importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is None,
    reason="needs the OpenTelemetry SDK and its OTLP exporters",
)


@pytest.fixture
def server(tmp_path: Path):
    store = profilelab.open_store(tmp_path / "store")
    srv = ProfileServer(store, "127.0.0.1", 0, grpc_port=0, max_inflated=4 << 20).start()
    yield srv
    srv.close()


def test_grpc_profiles_export_with_gzip(server) -> None:
    from opentelemetry.proto.collector.profiles.v1development import (
        profiles_service_pb2 as svc,
    )
    from opentelemetry.proto.collector.profiles.v1development import (
        profiles_service_pb2_grpc as stubs,
    )

    body = otlp_export("order", 21)
    req = svc.ExportProfilesServiceRequest.FromString(body)
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = stubs.ProfilesServiceStub(channel)
        resp = stub.Export(req, compression=grpc.Compression.Gzip, timeout=60)
        assert resp == svc.ExportProfilesServiceResponse()
        stub.Export(req, timeout=60)  # a retry is stored once
    rows = server.store.profiles('cpu{service="order"}')
    assert rows.height == 1 and rows["total"][0] == otlp_total(body)
    assert rows["input_id"][0] == digest_bytes(body)


def test_grpc_errors_are_status_codes(server) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
            request_serializer=None,
            response_deserializer=None,
        )
        with pytest.raises(grpc.RpcError) as err:
            export(b"\x0a\x05junk!", timeout=60)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid OTLP profiles export" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:  # over the inflated-size limit
            export(b"\x0a" + b"\x80\x80\x80\x03" + b"\0" * (6 << 20), timeout=60)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        missing = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
        with pytest.raises(grpc.RpcError) as err:
            missing(b"", timeout=60)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert server.store.profiles().height == 0


def test_grpc_auth(tmp_path: Path) -> None:
    from opentelemetry.proto.collector.profiles.v1development import (
        profiles_service_pb2 as svc,
    )
    from opentelemetry.proto.collector.profiles.v1development import (
        profiles_service_pb2_grpc as stubs,
    )

    store = profilelab.open_store(tmp_path / "s")
    srv = ProfileServer(store, "127.0.0.1", 0, grpc_port=0, token="t0k").start()
    try:
        req = svc.ExportProfilesServiceRequest.FromString(otlp_export("order", 4))
        with grpc.insecure_channel(srv.grpc_target) as channel:
            stub = stubs.ProfilesServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.Export(req, timeout=60)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            stub.Export(req, timeout=60, metadata=[("authorization", "Bearer t0k")])
        assert store.profiles().height == 1
    finally:
        srv.close()


def _pprof_for_spans(span_ids: list[str], values: list[int]) -> bytes:
    """A CPU pprof with one sample per span, labelled span_id as Go and Pyroscope do."""
    p = pprof_pb2.Profile()
    strings = ["", "cpu", "nanoseconds", "span_id", "handle", "work"]
    p.sample_type.add(type=1, unit=2)
    for i, name in enumerate(("handle", "work"), start=1):
        p.function.add(id=i, name=strings.index(name))
        p.location.add(id=i).line.add(function_id=i)
    for sid, value in zip(span_ids, values, strict=True):
        strings.append(sid)
        s = p.sample.add(location_id=[2, 1], value=[value])
        s.label.add(key=3, str=len(strings) - 1)
    p.string_table.extend(s.encode() for s in strings)
    p.time_nanos = 1
    return p.SerializeToString()


@needs_otel_sdk
@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_otel_sdk_spans_arrive_and_join_profiles(server, transport: str) -> None:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    if transport == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", timeout=30)
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        exporter = GrpcSpanExporter(endpoint=server.grpc_target, insecure=True, timeout=30)
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("profilelab-test")
    ids = []
    for name in ("GET /cart", "GET /pay"):
        with tracer.start_as_current_span(name) as span:
            ids.append(f"{span.get_span_context().span_id:016x}")
    provider.shutdown()

    spans = server.store.spans()
    assert sorted(spans.spans["span_id"]) == sorted(ids)
    assert set(spans.spans["service"]) == {"checkout"}
    profile = profilelab.load(_pprof_for_spans(ids, [30, 70]))
    server.store.add(profile, labels={"service": "checkout"})
    joined = profilelab.join_spans(server.store.query('cpu{service="checkout"}'), spans)
    table = joined.span_table().select("name", "self_value").sort("name")
    assert table.rows() == [("GET /cart", 30), ("GET /pay", 70)]


def test_http_traces_refuse_bad_bodies(server) -> None:
    import http.client

    conn = http.client.HTTPConnection(*server.server_address, timeout=60)
    conn.request(
        "POST", "/v1/traces", body=b"\x08\x01", headers={"Content-Type": "application/x-protobuf"}
    )
    resp = conn.getresponse()
    assert resp.status == 400 and b"not a trace" in resp.read()
    conn.close()
    assert server.store.spans().spans.height == 0


@pytest.mark.slow
def test_cli_serve_with_token_file_and_grpc_port(tmp_path: Path) -> None:
    import os
    import re
    import signal
    import subprocess
    import sys

    from opentelemetry.proto.collector.profiles.v1development import (
        profiles_service_pb2 as svc,
    )
    from opentelemetry.proto.collector.profiles.v1development import (
        profiles_service_pb2_grpc as stubs,
    )
    from store_util import ROOT, post

    token = tmp_path / "token"
    token.write_text("s3cret\n")
    cmd = [sys.executable, "-m", "profilelab", "serve", "--store", str(tmp_path / "s")]
    cmd += ["--port", "0", "--grpc-port", "0", "--bearer-token-file", str(token)]
    env = {k: v for k, v in os.environ.items() if k != "PROFILELAB_SERVE_TOKEN"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        http_line, grpc_line = proc.stderr.readline(), proc.stderr.readline()
        m = re.search(r"http://([\d.]+):(\d+)/", http_line)
        g = re.search(r"OTLP/gRPC on ([\d.]+:\d+)", grpc_line)
        assert m and g, (http_line, grpc_line)
        address = (m.group(1), int(m.group(2)))
        body = otlp_export("order", 31)
        headers = {"Content-Type": "application/x-protobuf"}
        assert post(address, "/v1development/profiles", body, headers)[0] == 401
        auth = {**headers, "Authorization": "Bearer s3cret"}
        assert post(address, "/v1development/profiles", body, auth)[0] == 200
        req = svc.ExportProfilesServiceRequest.FromString(otlp_export("cart", 32))
        with grpc.insecure_channel(g.group(1)) as channel:
            stubs.ProfilesServiceStub(channel).Export(
                req, timeout=60, metadata=[("authorization", "Bearer s3cret")]
            )
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "2 exports (2 profiles, 0 spans) stored, rejected {401: 1}" in err
    assert profilelab.open_store(tmp_path / "s").profiles("cpu").height == 2


def test_a_grpc_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    import socket

    from profilelab.errors import QueryError

    taken = socket.create_server(("127.0.0.1", 0))
    try:
        port = taken.getsockname()[1]
        with pytest.raises(QueryError, match=f"cannot listen on 127.0.0.1:{port} for gRPC"):
            ProfileServer(profilelab.open_store(tmp_path / "s"), "127.0.0.1", 0, grpc_port=port)
    finally:
        taken.close()
