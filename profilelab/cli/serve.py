"""``profilelab serve --store DIR``: receive OTLP/HTTP profile exports into a store."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from profilelab.cli._common import add_command
from profilelab.cli._store_args import add_labels, add_store, parse_labels
from profilelab.store import open_store
from profilelab.store.serve import MAX_BODY, PATH, ProfileServer


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "serve",
        f"Receive OTLP/HTTP profile exports (POST {PATH}) into a store; Ctrl-C stops.",
        "  profilelab serve --store profiles/\n"
        "  profilelab serve --store profiles/ --host 0.0.0.0 --port 4318 --label cluster=eu-1\n"
        "  # OpenTelemetry Collector: exporters: otlphttp: endpoint: http://HOST:4318",
    )
    add_store(p)
    add_labels(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4318, help="port (default 4318; 0 picks one)")
    p.add_argument("--max-body", type=int, default=MAX_BODY, help="largest request body, bytes")
    p.add_argument("--verbose", "-v", action="store_true", help="log every request")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    try:
        server = ProfileServer(
            store,
            args.host,
            args.port,
            labels=parse_labels(args.label),
            max_body=args.max_body,
            quiet=not args.verbose,
        )
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        print(f"profilelab: error: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    print(f"profilelab serve: listening on {server.url}{PATH}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="otlp-http", daemon=True)
    thread.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.close()  # answers in flight finish; queued profiles are committed
    stats = server.stats
    print(
        f"profilelab serve: stopped; {stats.accepted} exports ({stats.profiles} profiles) "
        f"stored, rejected {dict(sorted(stats.rejected.items()))}",
        file=sys.stderr,
    )
    return 0
