"""OTLP over gRPC for ``profilelab serve --grpc-port``: profiles and traces (grpcio).

Serves ``opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export``
(what the Collector's ``otlp`` exporter and the OpenTelemetry Go exporters send) and
``opentelemetry.proto.collector.trace.v1.TraceService/Export``. The handlers take the
request's bytes as they are (no stub re-encoding) and go through the HTTP server's own
decode-and-commit path, so both transports store alike: an export is answered after its
commit. gzip-compressed requests (``grpc-encoding: gzip``) are inflated by grpcio, bounded
by the same inflated-size limit (``grpc.max_receive_message_length``). Errors map to
gRPC status codes: INVALID_ARGUMENT (a malformed export), RESOURCE_EXHAUSTED (over the
limits), UNAUTHENTICATED (missing bearer token), UNAVAILABLE (the store; retry).
"""

from __future__ import annotations

import hmac
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from profilelab.errors import QueryError
from profilelab.store._receive import PROTOBUF, Reject, traces_response
from profilelab.store.serve import otlp_received

if TYPE_CHECKING:
    from profilelab.store.serve import ProfileServer

PROFILES_SERVICE = "opentelemetry.proto.collector.profiles.v1development.ProfilesService"
TRACES_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
WORKERS = 8  # handler threads; decoding itself is bounded by the server's decoder pool


class GrpcReceiver:
    """A grpcio server beside a :class:`~profilelab.store.serve.ProfileServer`."""

    def __init__(
        self,
        server: ProfileServer,
        host: str,
        port: int,
        *,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
    ) -> None:
        import grpc

        self.server = server
        self.tls = tls_cert is not None
        limit = server.max_inflated
        self._grpc = grpc.server(
            ThreadPoolExecutor(WORKERS, thread_name_prefix="grpc"),
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", 1 << 20),
            ],
            maximum_concurrent_rpcs=server.max_connections,
        )
        raw = {"request_deserializer": None, "response_serializer": None}
        handlers = {
            PROFILES_SERVICE: grpc.unary_unary_rpc_method_handler(self._profiles, **raw),
            TRACES_SERVICE: grpc.unary_unary_rpc_method_handler(self._traces, **raw),
        }
        self._grpc.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(svc, {"Export": h})
                for svc, h in handlers.items()
            ]
        )
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            if tls_cert is not None and tls_key is not None:
                creds = grpc.ssl_server_credentials(
                    [(Path(tls_key).read_bytes(), Path(tls_cert).read_bytes())]
                )
                self.port = self._grpc.add_secure_port(where, creds)
            else:
                self.port = self._grpc.add_insecure_port(where)
        except (RuntimeError, OSError) as exc:
            why = "is the port in use?" if isinstance(exc, RuntimeError) else str(exc)
            raise QueryError(f"cannot listen on {where} for gRPC ({why})") from None
        self.host = host

    def start(self) -> None:
        self._grpc.start()

    def stop(self, grace: float = 10.0) -> None:
        """Stop accepting; RPCs in flight get ``grace`` seconds to finish."""
        self._grpc.stop(grace).wait()

    # ---- handlers (one thread each, from the pool above) ---------------------------------
    def _profiles(self, request: bytes, context: Any) -> bytes:
        self._authorize(context)
        name = f"otlp-grpc:{_peer(context)}"
        server = self.server
        n = self._answer(
            context,
            lambda: server.store_sync(
                lambda: otlp_received(request, PROTOBUF, name, server.labels, server.max_inflated)
            ),
        )
        server.stats.count(200, profiles=n)
        return b""  # ExportProfilesServiceResponse{}: everything accepted

    def _traces(self, request: bytes, context: Any) -> bytes:
        self._authorize(context)
        name = f"otlp-grpc:{_peer(context)}"
        n, rejected, why = self._answer(context, lambda: self.server.spans_sync(request, name))
        self.server.stats.count(200, spans=n)
        return traces_response(rejected, why, as_json=False)

    def _answer(self, context: Any, work: Any) -> Any:
        try:
            return work()
        except Reject as rej:
            self.server.stats.count(rej.status)
            context.abort(_status(rej.status), str(rej))

    def _authorize(self, context: Any) -> None:
        token = self.server.token
        if token is None:
            return
        meta = dict(context.invocation_metadata())
        scheme, _, given = str(meta.get("authorization", "")).partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
            import grpc

            self.server.stats.count(401)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")


def _status(http_status: int) -> Any:
    """The gRPC status code for one of the receiver's HTTP answers."""
    import grpc

    return {
        400: grpc.StatusCode.INVALID_ARGUMENT,
        401: grpc.StatusCode.UNAUTHENTICATED,
        408: grpc.StatusCode.DEADLINE_EXCEEDED,
        413: grpc.StatusCode.RESOURCE_EXHAUSTED,
        415: grpc.StatusCode.INVALID_ARGUMENT,
        503: grpc.StatusCode.UNAVAILABLE,
    }.get(http_status, grpc.StatusCode.INTERNAL)


def _peer(context: Any) -> str:
    peer = str(context.peer() or "unknown")  # "ipv4:127.0.0.1:5555"
    kind, _, rest = peer.partition(":")
    return rest.rsplit(":", 1)[0] if kind in ("ipv4", "ipv6") else peer


def check_grpc_available() -> None:
    """QueryError naming the extra to install when grpcio is missing."""
    try:
        import grpc  # noqa: F401
    except ImportError:
        raise QueryError(
            "--grpc-port needs grpcio: pip install 'profilelab[grpc]' (or grpcio)"
        ) from None
