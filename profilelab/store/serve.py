"""Receive OTLP/HTTP profile exports into a store (what a Collector ``otlphttp`` exporter sends).

``POST /v1development/profiles`` with an ``ExportProfilesServiceRequest`` as binary
protobuf (``application/x-protobuf``) or OTLP/JSON (``application/json``), optionally
``Content-Encoding: gzip``. The answer is 200 with an ``ExportProfilesServiceResponse``
in the request's encoding — sent only after the profiles are durable in the store's
journal (:mod:`profilelab.store.journal`: fsynced; a query that starts afterwards sees
them), so an acknowledged export is never lost. Errors follow the OTLP/HTTP spec: a
``google.rpc.Status`` body (protobuf or JSON like the request) with a message, and

* 400 a body that is not a valid OTLP profiles export (nothing is stored),
* 401 a bearer token is required and missing or wrong,
* 408 the body did not arrive within :data:`BODY_TIMEOUT` seconds,
* 413 a body (or its gunzipped form) over the size limits,
* 415 another content type or content encoding,
* 503 the store cannot keep up or failed to commit (the client should retry; a retried
  export is stored once, since identical bodies are recognized).

Messages name the problem, never a path on the server. The HTTP layer is uvicorn (httptools):
each request is parsed to its end whatever the answer, so a keep-alive connection stays
in sync after any error; connections are capped (uvicorn answers 503 past the cap), idle
ones time out, bodies are read in chunks up to the limit and inflated by the bounded
gunzip of :mod:`profilelab.readers._input`. A small OTLP export (up to
:data:`INLINE_DECODE` bytes) is decoded on the event loop's thread, anything else on
:data:`DECODERS` threads; the group committer appends the requests decoded meanwhile to
the journal in one write and fdatasync (an OTLP export as its bytes), and the journal's
fold process stores them in segments in large commits, building the tables of their
OTLP exports together, off this process's GIL.

Every received profile gets the labels given to the server, then its resource attributes
(``service.name`` becomes ``service``); profiles without a time get the time of receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import json
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from profilelab.core.vocabulary import (  # (shared with the command line's --help)
    INGEST_PATH,
    MAX_BODY,
    MAX_CONNECTIONS,
    MAX_INFLATED,
    PATH,
    PUSH_PATH,
    TRACES_PATH,
)
from profilelab.errors import (
    FormatError,
    ProfileLabError,
    QueryError,
    StoreError,
    TooLargeError,
)
from profilelab.readers._input import GZIP_MAGIC, inflate_bounded
from profilelab.store import pyroscope
from profilelab.store._http import CONNECT_CODE, RPC_CODE, listen, status_proto, with_header_timeout
from profilelab.store._receive import JSON, PROTOBUF, Reject, first_line, otlp_item, traces_response
from profilelab.store.committer import GroupCommitter
from profilelab.store.prepare import Item, Unbuilt
from profilelab.store.store import Store

if TYPE_CHECKING:  # starlette is imported where used: importing profilelab.store stays light
    from starlette.requests import Request
    from starlette.responses import Response

    from profilelab.model.spans import Spans
    from profilelab.store.grpc_receiver import GrpcReceiver

BACKLOG = 1024  # connections the kernel queues before accept
BODY_TIMEOUT = 30.0  # seconds a client may take to send a whole body
HEADER_TIMEOUT = 10.0  # seconds for a request's headers, from the connection or last answer
KEEP_ALIVE = 15  # seconds an idle keep-alive connection stays open (at most HEADER_TIMEOUT)
COMMIT_TIMEOUT = 60.0  # seconds a request waits for its commit before a 503
MAX_HEAD = 64 << 10  # bytes of a request's line and headers
DRAIN_LIMIT = 64 << 20  # an unread body up to this size is read and dropped after an error
DECODERS = 2  # requests decoded at once: more only contend for the GIL and Polars' threads
#: OTLP bodies up to this size are decoded on the event loop's thread: handing a small
#: export to a decoder thread and back (futures, wake-ups, the GIL changing hands) costs
#: more CPU than decoding it, and on the GIL decoding is never parallel anyway
INLINE_DECODE = 64 << 10
CONNECT_PROTO = "application/proto"

_T = TypeVar("_T")
Handler = Callable[["Request"], Awaitable["Response"]]


@dataclass
class ServerStats:
    """Counters for tests and logs (updated under a lock)."""

    accepted: int = 0  # 200 answers
    profiles: int = 0  # profile rows acknowledged
    spans: int = 0  # spans acknowledged
    rejected: dict[int, int] = field(default_factory=dict)  # status -> count
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int, profiles: int = 0, spans: int = 0) -> None:
        with self.lock:
            if status == 200:
                self.accepted += 1
                self.profiles += profiles
                self.spans += spans
            else:
                self.rejected[status] = self.rejected.get(status, 0) + 1


class ProfileServer:
    """An HTTP server (uvicorn) that stores pushed profiles through a group committer.

    The socket is bound when the server is made (``port=0`` picks a free port, see
    :attr:`url`); :meth:`start` serves on a background thread, :meth:`serve_forever` on
    this one, :meth:`close` stops and stores everything received in segments.
    """

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 4318,
        *,
        labels: Mapping[str, str] | None = None,
        max_body: int = MAX_BODY,
        max_inflated: int = MAX_INFLATED,
        max_connections: int = MAX_CONNECTIONS,
        token: str | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        grpc_port: int | None = None,
        header_timeout: float = HEADER_TIMEOUT,
        quiet: bool = True,
        freeze_gc: bool = False,
    ) -> None:
        """``freeze_gc``: for a process that serves from now on (``profilelab serve``),
        :meth:`start` moves every object that exists then (the imported libraries: about
        90,000) out of the cyclic collector's full passes (:func:`gc.freeze`); such a pass
        holds the GIL for about 40 ms, every answer waiting meanwhile. The objects stay
        for the life of the process, as imported modules do anyway."""
        import uvicorn

        for what, n in (("max body", max_body), ("max inflated", max_inflated)):
            if n < 1:
                raise QueryError(f"the {what} size must be at least 1 byte, not {n}")
        if max_connections < 1:
            raise QueryError(f"max connections must be at least 1, not {max_connections}")
        if (tls_cert is None) != (tls_key is None):
            raise QueryError("TLS needs both a certificate and a key file")
        self.store = store
        self.labels = dict(labels or {})
        self.max_body = max_body
        self.max_inflated = max_inflated
        self.max_connections = max_connections
        self.quiet = quiet
        self.freeze_gc = freeze_gc
        self.token = token.encode() if token else None
        self.tls = tls_cert is not None
        self.stats = ServerStats()
        self.decoding_now = 0  # requests being decoded (not yet handed to the committer)
        self._count_lock = threading.Lock()
        self.routes: dict[str, Handler] = {
            PATH: self._otlp_profiles,
            TRACES_PATH: self._otlp_traces,
            PUSH_PATH: self._pyroscope_push,
            INGEST_PATH: self._pyroscope_ingest,
        }
        self._sock = listen(host, port, BACKLOG)
        config = uvicorn.Config(
            self._asgi,
            http=with_header_timeout(header_timeout, MAX_HEAD),
            interface="asgi3",
            proxy_headers=False,
            lifespan="off",
            access_log=False,
            log_level="warning" if not quiet else "error",
            limit_concurrency=max_connections,
            backlog=BACKLOG,
            timeout_keep_alive=KEEP_ALIVE,
            timeout_graceful_shutdown=int(COMMIT_TIMEOUT),
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            server_header=False,
        )
        try:
            config.load()  # reads the certificate now: a bad one fails here, not per request
        except (OSError, ValueError) as exc:
            self._sock.close()
            raise QueryError(f"cannot use the TLS certificate or key: {exc}") from None
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.grpc: GrpcReceiver | None = None
        if grpc_port is not None:
            from profilelab.store.grpc_receiver import GrpcReceiver, check_grpc_available

            check_grpc_available()
            try:
                self.grpc = GrpcReceiver(self, host, grpc_port, tls_cert=tls_cert, tls_key=tls_key)
            except BaseException:
                self._sock.close()
                raise
        # threads last: nothing above can leave them running when it fails
        self.committer = GroupCommitter(store, coming=lambda: self.decoding_now, journal=True)
        self._pool = ThreadPoolExecutor(DECODERS, thread_name_prefix="decode")

    @property
    def grpc_target(self) -> str | None:
        """``host:port`` of the gRPC receiver (None without ``grpc_port``)."""
        if self.grpc is None:
            return None
        host = self.server_address[0]
        return f"{host}:{self.grpc.port}"

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve on this thread until :meth:`close` (from another thread)."""
        if self.grpc is not None:
            self.grpc.start()
        asyncio.run(self._uvicorn.serve(sockets=[self._sock]))

    def start(self) -> ProfileServer:
        """Serve on a background thread; return once the server accepts connections."""
        if self.freeze_gc:
            gc.freeze()
        self._thread = threading.Thread(target=self.serve_forever, name="serve", daemon=True)
        self._thread.start()
        while not self._uvicorn.started and self._thread.is_alive():
            time.sleep(0.005)
        return self

    def close(self) -> None:
        """Stop accepting, finish the requests in flight, commit what was received."""
        self._uvicorn.should_exit = True
        if self.grpc is not None:
            self.grpc.stop()
        if self._thread is not None:
            self._thread.join()
        self._sock.close()
        self._pool.shutdown(wait=True)
        self.committer.close()

    # ---- requests -------------------------------------------------------------------------
    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from starlette.requests import Request

        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self._dispatch(request)
        except Reject as rej:
            response = await self._error(request, rej)
        await response(scope, receive, send)

    async def _dispatch(self, request: Request) -> Response:
        from starlette.responses import Response

        path = request.url.path
        if request.method == "GET" and path in ("/", "/healthz"):
            return Response(b"ok\n", 200, media_type="text/plain; charset=utf-8")
        self._authorize(request)
        handler = self.routes.get(path)
        if handler is None:
            shown = path if len(path) <= 200 else path[:200] + "..."
            raise Reject(404, f"no such path {shown}; POST to {', '.join(sorted(self.routes))}")
        if request.method != "POST":
            raise Reject(405, f"{path} takes POST, not {request.method}", {"Allow": "POST"})
        return await handler(request)

    def _authorize(self, request: Request) -> None:
        if self.token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token)
        if not ok:
            challenge = {"WWW-Authenticate": 'Bearer realm="profilelab"'}
            raise Reject(401, "a valid bearer token is required", challenge)

    async def _otlp_profiles(self, request: Request) -> Response:
        from starlette.responses import Response

        ctype = content_type(request, (PROTOBUF, JSON))
        body = await self.read_body(request)
        name = f"otlp-http:{_client(request)}"
        limit = self.max_inflated
        n = await self.store_with(
            lambda: otlp_received(body, ctype, name, self.labels, limit),
            inline=len(body) <= INLINE_DECODE,
        )
        self.stats.count(200, n)
        # An ExportProfilesServiceResponse with no partial_success (everything accepted):
        # zero bytes in protobuf, {} in OTLP/JSON.
        return Response(b"{}" if ctype == JSON else b"", 200, media_type=ctype)

    async def _otlp_traces(self, request: Request) -> Response:
        """OTLP/HTTP traces: the spans land in the store's span table."""
        from starlette.responses import Response

        ctype = content_type(request, (PROTOBUF, JSON))
        body = await self.read_body(request)
        name = f"otlp-http:{_client(request)}"
        loop = asyncio.get_running_loop()
        n, rejected, why = await loop.run_in_executor(None, self.spans_sync, body, name)
        self.stats.count(200, spans=n)
        return Response(traces_response(rejected, why, ctype == JSON), 200, media_type=ctype)

    async def _pyroscope_push(self, request: Request) -> Response:
        """Connect unary ``push.v1.PusherService/Push`` (protobuf or JSON)."""
        from starlette.responses import Response

        request.state.error_style = "connect"
        ctype = content_type(request, (CONNECT_PROTO, JSON))
        body = await self.read_body(request)
        source = f"pyroscope-push:{_client(request)}"
        limit, labels, now = self.max_inflated, self.labels, time.time_ns()
        n = await self.store_with(
            lambda: pyroscope.push_items(body, ctype == JSON, source, labels, limit, now)
        )
        self.stats.count(200, n)
        return Response(b"{}" if ctype == JSON else b"", 200, media_type=ctype)

    async def _pyroscope_ingest(self, request: Request) -> Response:
        """Pyroscope's older ``/ingest?name=app.cpu{k=v}&format=...`` API."""
        from starlette.responses import Response

        request.state.error_style = "text"
        params = dict(request.query_params)
        header = request.headers.get("content-type", "")
        body = await self.read_body(request)
        source = f"pyroscope-ingest:{_client(request)}"
        limit, labels = self.max_inflated, self.labels
        n = await self.store_with(
            lambda: pyroscope.ingest_item(params, body, header, source, labels, limit)
        )
        self.stats.count(200, n)
        return Response(b"", 200, media_type="text/plain; charset=utf-8")

    # ---- shared by the routes ---------------------------------------------------------------
    async def read_body(self, request: Request) -> bytes:
        """The request body, gunzipped when sent with ``Content-Encoding: gzip``; 413 past the
        limits (read in chunks: never more than the limit in memory), 408 when too slow."""
        from starlette.requests import ClientDisconnect

        encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            raise Reject(415, f"unsupported Content-Encoding {encoding[:50]!r}: use gzip or none")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise Reject(413, f"body of {declared} bytes exceeds the limit of {self.max_body}")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.max_body:
                        raise Reject(413, f"body exceeds the limit of {self.max_body} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise Reject(408, f"the body did not arrive within {BODY_TIMEOUT:.0f}s") from None
        except ClientDisconnect:
            raise Reject(400, "the client went away before sending the whole body") from None
        request.state.body_read = True
        body = b"".join(chunks)
        if encoding == "gzip":
            if body[:2] != GZIP_MAGIC:
                raise Reject(400, "Content-Encoding is gzip but the body is not gzip data")
            loop = asyncio.get_running_loop()
            try:
                body = await loop.run_in_executor(
                    self._pool,
                    lambda: inflate_bounded(body, "request body", limit=self.max_inflated),
                )
            except FormatError as exc:
                status = 413 if isinstance(exc, TooLargeError) else 400
                raise Reject(status, first_line(exc)) from None
        return body

    async def store_with(
        self, make: Callable[[], Item | Unbuilt | list[Item] | None], *, inline: bool = False
    ) -> int:
        """Decode with ``make`` on a decoder thread (``inline``: on this one) and commit;
        the profile rows stored.

        ``make`` returns the item(s) to store (None or []: nothing to store) or raises
        Reject; other exceptions from decoding become a 400 (the body is at fault), a
        failed commit a 503 (the store is). Several items are committed together.
        """
        loop = asyncio.get_running_loop()
        with self._coming():  # the committer may wait a moment for this request
            if inline:
                got = self._decode_guarded(make)
            else:
                got = await loop.run_in_executor(self._pool, self._decode_guarded, make)
            items, fut = self._submit(got)
        if fut is None:
            return 0
        try:
            async with asyncio.timeout(COMMIT_TIMEOUT):
                await asyncio.wrap_future(fut)
        except Exception as exc:
            raise self._commit_reject(exc) from None
        return sum(_rows(item) for item in items)

    def store_sync(self, make: Callable[[], Item | Unbuilt | list[Item] | None]) -> int:
        """:meth:`store_with` for callers on their own thread (the gRPC handlers)."""
        with self._coming():
            got = self._pool.submit(self._decode_guarded, make).result()
            items, fut = self._submit(got)
        if fut is None:
            return 0
        try:
            fut.result(timeout=COMMIT_TIMEOUT)
        except Exception as exc:
            raise self._commit_reject(exc) from None
        return sum(_rows(item) for item in items)

    def spans_sync(self, body: bytes, name: str) -> tuple[int, int, str]:
        """Decode OTLP traces (on a decoder thread) and commit their spans on this one:
        (stored, rejected, why). Blocks; never call it from a decoder thread."""
        limit = self.max_inflated
        spans = self._pool.submit(self._decode_guarded, lambda: _spans(body, name, limit)).result()
        if spans is None:
            return 0, 0, ""
        dropped = spans.problems.filter(spans.problems["dropped"].fill_null(False))
        bad = dropped.height
        why = "" if not bad else f"{dropped['problem'][0]}: {dropped['detail'][0]}"
        try:
            self.store.write_spans(spans.spans)
        except Exception as exc:
            raise self._commit_reject(exc) from None
        return spans.spans.height, bad, why

    def _submit(
        self, got: Item | Unbuilt | list[Item] | None
    ) -> tuple[list[Item | Unbuilt], Future[Any] | None]:
        items: list[Item | Unbuilt] = [got] if isinstance(got, Item | Unbuilt) else list(got or [])
        if not items:
            return items, None
        try:
            return items, self.committer.submit(items, timeout=0)
        except StoreError:
            raise Reject(503, "the store is busy; retry later") from None

    def _commit_reject(self, exc: Exception) -> Reject:
        """The answer for a failed commit: 503 when the store is at fault, 400 the data."""
        if isinstance(exc, TimeoutError):
            return Reject(503, "the store did not commit in time; retry later")
        if isinstance(exc, StoreError | OSError):
            self._log_always(f"commit failed: {exc}")
            return Reject(503, "the store could not commit the data; retry later")
        if isinstance(exc, ProfileLabError | ValueError):
            return Reject(400, f"the data cannot be stored: {first_line(exc)}")
        raise exc

    def _decode_guarded(self, make: Callable[[], _T]) -> _T:
        try:
            return make()
        except Reject:
            raise
        except TooLargeError as exc:
            raise Reject(413, first_line(exc)) from None
        except ProfileLabError as exc:
            raise Reject(400, first_line(exc)) from None
        except Exception as exc:  # a decoder bug must not cost the connection its answer
            self._log_always("decoding failed:\n" + traceback.format_exc())
            raise Reject(400, f"the body could not be decoded ({type(exc).__name__})") from None

    @contextlib.contextmanager
    def _coming(self) -> Iterator[None]:
        with self._count_lock:
            self.decoding_now += 1
        try:
            yield
        finally:
            with self._count_lock:
                self.decoding_now -= 1

    # ---- answers ----------------------------------------------------------------------------
    async def _error(self, request: Request, rej: Reject) -> Response:
        from starlette.responses import Response

        self.stats.count(rej.status)
        self._log(f"{_client(request)} {request.method} {request.url.path}: {rej.status} {rej}")
        headers = dict(rej.headers)
        if not getattr(request.state, "body_read", False) and not _small_body(request):
            # uvicorn reads and drops an unread body after the answer (the connection stays
            # in sync); past DRAIN_LIMIT it is not worth the traffic: close instead
            headers["Connection"] = "close"
        message = str(rej)
        code = RPC_CODE.get(rej.status, 2)
        ctype = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        style = getattr(request.state, "error_style", "otlp")
        if style == "connect":  # Connect: errors are always JSON, codes by name
            connect = CONNECT_CODE.get(rej.status, "unknown")
            body, media = json.dumps({"code": connect, "message": message}).encode(), JSON
        elif style == "text":
            body, media = message.encode() + b"\n", "text/plain; charset=utf-8"
        elif ctype == PROTOBUF:
            body, media = status_proto(code, message), PROTOBUF
        elif ctype == JSON:
            body, media = json.dumps({"code": code, "message": message}).encode(), JSON
        else:
            body, media = message.encode() + b"\n", "text/plain; charset=utf-8"
        return Response(body, rej.status, headers=headers, media_type=media)

    def _log(self, text: str) -> None:
        if not self.quiet:
            print(f"profilelab serve: {text}", file=sys.stderr, flush=True)

    def _log_always(self, text: str) -> None:
        print(f"profilelab serve: {text}", file=sys.stderr, flush=True)


def content_type(request: Request, accepted: tuple[str, ...]) -> str:
    """The request's media type if it is one of ``accepted``, else a 415."""
    raw = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if raw not in accepted:
        given = raw[:80] or "(none)"
        raise Reject(415, f"unsupported Content-Type {given!r}: use {' or '.join(accepted)}")
    return raw


def otlp_received(
    body: bytes, ctype: str, name: str, labels: Mapping[str, str], limit: int
) -> Unbuilt | None:
    """:func:`otlp_item` of a received export, which the journal keeps as its bytes."""
    item = otlp_item(body, ctype, name, labels, limit)
    return None if item is None else item.keep_body(body, limit)


def _spans(body: bytes, name: str, limit: int) -> Spans | None:
    """The spans of an OTLP traces export (None when it has none)."""
    from profilelab.readers.traces import read_traces

    data = inflate_bounded(body, name, limit=limit)
    if not data.strip() or data.strip() == b"{}":
        return None
    return read_traces(data, name)


def _rows(item: Item | Unbuilt) -> int:
    return item.rows if isinstance(item, Unbuilt) else item.profile.profiles.height


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _small_body(request: Request) -> bool:
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) <= DRAIN_LIMIT


def serve(store: Store, host: str, port: int, **options: Any) -> ProfileServer:
    """Start a :class:`ProfileServer` on a background thread and return it."""
    return ProfileServer(store, host, port, **options).start()
