"""``profilelab serve --store DIR``: receive pushed profiles into a store."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from profilelab.cli._common import add_command
from profilelab.cli._store_args import add_labels, add_store, parse_labels
from profilelab.core.vocabulary import (
    INGEST_PATH,
    MAX_BODY,
    MAX_CONNECTIONS,
    MAX_INFLATED,
    PATH,
    PUSH_PATH,
    TRACES_PATH,
)
from profilelab.errors import QueryError

TOKEN_ENV = "PROFILELAB_SERVE_TOKEN"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "serve",
        f"Receive pushed profiles and traces into a store: OTLP/HTTP (POST {PATH}, "
        f"{TRACES_PATH}), OTLP/gRPC (--grpc-port) and Pyroscope ({PUSH_PATH}, {INGEST_PATH}); "
        "Ctrl-C stops.",
        "  profilelab serve --store profiles/\n"
        "  profilelab serve --store profiles/ --host 0.0.0.0 --port 4318 --label cluster=eu-1\n"
        "  profilelab serve --store profiles/ --host 0.0.0.0 --tls-cert c.pem --tls-key k.pem \\\n"
        "      --bearer-token-file token.txt\n"
        "  # OpenTelemetry Collector: exporters: otlphttp: endpoint: http://HOST:4318\n"
        "  # Pyroscope SDKs: pyroscope.configure(server_address='http://HOST:4318', ...)",
    )
    add_store(p)
    add_labels(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4318, help="port (default 4318; 0 picks one)")
    p.add_argument("--max-body", type=int, default=MAX_BODY, help="largest request body, bytes")
    p.add_argument(
        "--max-inflated",
        type=int,
        default=MAX_INFLATED,
        help=f"largest gunzipped request body, bytes (default {MAX_INFLATED})",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=MAX_CONNECTIONS,
        help=f"open connections at once; more get 503 (default {MAX_CONNECTIONS})",
    )
    p.add_argument(
        "--bearer-token-file",
        metavar="FILE",
        help=f"require 'Authorization: Bearer TOKEN' with the token in FILE (or ${TOKEN_ENV})",
    )
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.add_argument(
        "--grpc-port",
        type=int,
        metavar="PORT",
        help="also serve OTLP over gRPC (profiles and traces) on this port, e.g. 4317",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="log every refused request")
    p.set_defaults(func=run)


def _token(args: argparse.Namespace) -> str | None:
    if args.bearer_token_file:
        try:
            with open(args.bearer_token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise QueryError(f"{args.bearer_token_file}: cannot read the token: {exc}") from None
        if not token:
            raise QueryError(f"{args.bearer_token_file}: the token file is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def run(args: argparse.Namespace) -> int:
    from profilelab.store import open_store
    from profilelab.store.serve import ProfileServer

    store = open_store(args.store)
    try:
        server = ProfileServer(
            store,
            args.host,
            args.port,
            labels=parse_labels(args.label),
            max_body=args.max_body,
            max_inflated=args.max_inflated,
            max_connections=args.max_connections,
            token=_token(args),
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            grpc_port=args.grpc_port,
            quiet=not args.verbose,
            freeze_gc=True,  # this process only serves: no 40 ms collector passes
        )
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        print(f"profilelab: error: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    print(f"profilelab serve: listening on {server.url}{PATH}", file=sys.stderr, flush=True)
    if server.grpc_target:
        print(f"profilelab serve: OTLP/gRPC on {server.grpc_target}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.close()  # answers in flight finish; the journal is stored in segments
    stats = server.stats
    print(
        f"profilelab serve: stopped; {stats.accepted} exports ({stats.profiles} profiles, "
        f"{stats.spans} spans) stored, rejected {dict(sorted(stats.rejected.items()))}",
        file=sys.stderr,
    )
    return 0
