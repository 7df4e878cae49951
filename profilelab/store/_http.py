"""HTTP plumbing of the receiver: the listening socket, uvicorn's protocol with a header
deadline and size limit, and the status codes and bodies of error answers."""

from __future__ import annotations

import asyncio
import socket

# google.rpc.Code values for the Status body of an error
RPC_CODE = {400: 3, 401: 16, 404: 5, 405: 12, 408: 4, 413: 8, 415: 3, 500: 13, 503: 14}

# Connect protocol error codes by HTTP status (connectrpc.com/docs/protocol, error codes)
CONNECT_CODE = {
    400: "invalid_argument",
    401: "unauthenticated",
    404: "unimplemented",
    405: "unimplemented",
    408: "deadline_exceeded",
    413: "resource_exhausted",
    415: "invalid_argument",
    500: "internal",
    503: "unavailable",
}


def listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def with_header_timeout(seconds: float, max_head: int) -> type:
    """uvicorn's httptools protocol with a deadline and a size limit for each request's
    request line and headers (its "head").

    uvicorn has neither: a client sending its headers a byte at a time (or nothing at all)
    would hold a connection for ever, and llhttp takes headers of any length. The deadline
    starts when the connection opens and after every answer, and stops when a request's
    headers are complete; a connection still without a request then is closed. A head
    over ``max_head`` bytes gets uvicorn's answer to a malformed request (400, and the
    connection closed), as h11's incomplete-event limit gave.

    httptools rather than h11: the parsing is llhttp's (C), a third of the CPU of a small
    request's HTTP handling.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderDeadline(HttpToolsProtocol):
        _timer: asyncio.TimerHandle | None = None
        _head = 0  # bytes of the current request's head so far

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def on_message_begin(self) -> None:
            self._head = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            if self._in_request():
                self._disarm()

        def _count(self, n: int) -> None:
            self._head += n
            if self._head > max_head:  # the parser turns this into uvicorn's 400
                raise ValueError(f"request head over {max_head} bytes")

        def _in_request(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _arm(self) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._late)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _late(self) -> None:
            self._timer = None
            if not self._in_request() and not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadline


def status_proto(code: int, message: str) -> bytes:
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
