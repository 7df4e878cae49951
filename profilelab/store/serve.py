"""Receive OTLP/HTTP profile exports into a store (what a Collector ``otlphttp`` exporter sends).

``POST /v1development/profiles`` with an ``ExportProfilesServiceRequest`` as binary
protobuf (``application/x-protobuf``) or OTLP/JSON (``application/json``), optionally
``Content-Encoding: gzip``. The answer is 200 with an ``ExportProfilesServiceResponse``
in the request's encoding — sent only after the profiles are committed (fsynced and
visible), so an acknowledged export is never lost. Errors follow the OTLP/HTTP spec: a
``google.rpc.Status`` body (protobuf or JSON like the request) with a message, and

* 400 a body that is not a valid OTLP profiles export (nothing is stored),
* 411 no Content-Length, 413 a body (or its gunzipped form) over the size limits,
* 415 another content type or content encoding,
* 503 the store cannot keep up or failed to commit (the client should retry; a retried
  export is stored once, since identical bodies are recognized).

Every received profile gets the labels given to the server, then its resource attributes
(``service.name`` becomes ``service``); profiles without a time get the time of receipt.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from profilelab.errors import FormatError, ProfileLabError
from profilelab.model.ids import digest_bytes
from profilelab.readers._input import GZIP_MAGIC, gunzip
from profilelab.store.committer import GroupCommitter
from profilelab.store.prepare import Item
from profilelab.store.store import Store

PATH = "/v1development/profiles"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY = 16 << 20  # bytes on the wire
MAX_INFLATED = 128 << 20  # bytes after gunzip
DRAIN_LIMIT = 64 << 20  # an oversized body up to this size is read and dropped before the 413
DECODERS = 2  # requests decoded at once: more only contend for the GIL and Polars' threads
# google.rpc.Code values for the Status body of an error
_RPC_CODE = {400: 3, 411: 3, 413: 8, 415: 3, 404: 5, 405: 12, 503: 14, 500: 13}


@dataclass
class ServerStats:
    """Counters for tests and logs (updated under a lock)."""

    accepted: int = 0  # 200 answers
    profiles: int = 0  # profile rows acknowledged
    rejected: dict[int, int] = field(default_factory=dict)  # status -> count
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int, profiles: int = 0) -> None:
        with self.lock:
            if status == 200:
                self.accepted += 1
                self.profiles += profiles
            else:
                self.rejected[status] = self.rejected.get(status, 0) + 1


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ProfileServer(ThreadingHTTPServer):
    """A threading HTTP server that stores OTLP profile exports through a group committer."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 4318,
        *,
        labels: Mapping[str, str] | None = None,
        max_body: int = MAX_BODY,
        max_inflated: int = MAX_INFLATED,
        quiet: bool = True,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.store = store
        self.committer = GroupCommitter(store, coming=lambda: self.decoding_now)
        self.decoding_now = 0  # requests being decoded (not yet handed to the committer)
        self.labels = dict(labels or {})
        self.max_body = max_body
        self.max_inflated = max_inflated
        self.quiet = quiet
        self.stats = ServerStats()
        self.decoding = threading.BoundedSemaphore(DECODERS)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        """Stop accepting, finish committing what was received, release the socket."""
        self.shutdown()
        self.server_close()
        self.committer.close()


class _Handler(BaseHTTPRequestHandler):
    server: ProfileServer
    protocol_version = "HTTP/1.1"  # keep-alive, as exporters expect
    timeout = 30  # seconds a client may stall mid-request

    def do_GET(self) -> None:
        if self.path in ("/", "/healthz"):
            self._send(200, "text/plain; charset=utf-8", b"ok\n")
        else:
            self._error(404, f"no such path {self.path}; POST profiles to {PATH}", None)

    def do_POST(self) -> None:
        ctype = None
        try:
            if self.path.split("?", 1)[0] != PATH:
                raise _Reject(404, f"no such path {self.path}; POST profiles to {PATH}")
            ctype = self._content_type()
            body = self._body()
            n = self._store(body, ctype)
        except _Reject as rej:
            self._error(rej.status, str(rej), ctype)
            return
        self.server.stats.count(200, n)
        self._send(200, ctype, _response(ctype))

    # ---- request ------------------------------------------------------------------------
    def _content_type(self) -> str:
        raw = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if raw not in (PROTOBUF, JSON):
            self.close_connection = True  # the body is not read
            given = raw or "(none)"
            raise _Reject(415, f"unsupported Content-Type {given!r}: use {PROTOBUF} or {JSON}")
        return raw

    def _body(self) -> bytes:
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            self.close_connection = True
            raise _Reject(415, f"unsupported Content-Encoding {encoding!r}: use gzip or none")
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            self.close_connection = True
            raise _Reject(411, "a Content-Length header is required")
        n = int(length)
        if n > self.server.max_body:
            self._discard(n)
            raise _Reject(413, f"body of {n} bytes exceeds the limit of {self.server.max_body}")
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            raise _Reject(400, f"body ended after {len(body)} of {n} bytes")
        if encoding == "gzip":
            if body[:2] != GZIP_MAGIC:
                raise _Reject(400, "Content-Encoding is gzip but the body is not gzip data")
            try:
                body = gunzip(body, "request body", self.server.max_inflated)
            except FormatError as exc:
                status = 413 if "limit" in str(exc) else 400
                raise _Reject(status, str(exc)) from None
        return body

    def _discard(self, n: int) -> None:
        """Read and drop a refused body so the client gets to read our answer.

        A client still sending when the server closes gets a reset instead of the 413; past
        :data:`DRAIN_LIMIT` bytes the connection is closed anyway (not worth the traffic).
        """
        self.close_connection = True
        if n > DRAIN_LIMIT:
            return
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 20))
            if not chunk:
                return
            n -= len(chunk)

    def _store(self, body: bytes, ctype: str) -> int:
        """Decode and commit; the number of profile rows stored (0 for an empty export)."""
        with self._coming():  # the committer may wait a moment for this request
            item = self._decode(body, ctype)
            if item is None:
                return 0
            try:
                fut = self.server.committer.submit([item], timeout=10)
            except ProfileLabError as exc:
                raise _Reject(503, f"could not store the profiles: {exc}") from None
        try:
            fut.result()
        except (ProfileLabError, OSError) as exc:
            raise _Reject(503, f"could not store the profiles: {exc}") from None
        return item.profile.profiles.height

    @contextlib.contextmanager
    def _coming(self) -> Iterator[None]:
        with self.server.stats.lock:
            self.server.decoding_now += 1
        try:
            yield
        finally:
            with self.server.stats.lock:
                self.server.decoding_now -= 1

    def _decode(self, body: bytes, ctype: str) -> Item | None:
        """The export as an item to store (None when it holds no profiles)."""
        import profilelab

        if ctype == JSON:
            _check_json(body)
        name = f"otlp-http:{self.client_address[0]}"
        try:
            with self.server.decoding:
                profile = profilelab.load(body, name=name)
        except ProfileLabError as exc:
            raise _Reject(400, f"not a valid OTLP profiles export: {_strip(exc, name)}") from None
        if profile.profiles.height == 0:
            return None
        formats = set(profile.profiles["format"].unique())
        if formats != {"otlp"}:
            raise _Reject(400, f"the body is {', '.join(sorted(formats))}, not OTLP profiles")
        return Item(
            profile,
            digest_bytes(body),
            labels=self.server.labels,
            default_time_ns=time.time_ns(),
            source=name,
        )

    # ---- response -----------------------------------------------------------------------
    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, ctype: str | None) -> None:
        self.server.stats.count(status)
        if not self.server.quiet:
            self.log_message("%d %s", status, message)
        code = _RPC_CODE.get(status, 2)
        if ctype == PROTOBUF:
            self._send(status, PROTOBUF, _status_proto(code, message))
        elif ctype == JSON:
            self._send(status, JSON, json.dumps({"code": code, "message": message}).encode())
        else:
            self._send(status, "text/plain; charset=utf-8", message.encode() + b"\n")

    def log_message(self, format: str, *args: object) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"profilelab serve: {self.client_address[0]} {format % args}\n")


def _check_json(body: bytes) -> None:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Reject(400, f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _Reject(400, "an OTLP/JSON export must be a JSON object")


def _strip(exc: Exception, name: str) -> str:
    text = str(exc)
    return text[len(name) + 2 :] if text.startswith(f"{name}: ") else text


def _response(ctype: str) -> bytes:
    """An ExportProfilesServiceResponse with no partial_success: everything was accepted."""
    # The empty message is zero bytes in protobuf and {} in OTLP/JSON.
    return b"{}" if ctype == JSON else b""


def _status_proto(code: int, message: str) -> bytes:
    """google.rpc.Status{code, message} in protobuf wire format (fields 1 and 2)."""
    msg = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(msg)) + msg


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def serve(store: Store, host: str, port: int, **options: object) -> ProfileServer:
    """Start a :class:`ProfileServer` on a background thread and return it."""
    server = ProfileServer(store, host, port, **options)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, name="otlp-http", daemon=True).start()
    return server
