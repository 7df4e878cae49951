"""Receiver benchmark: small OTLP posts from concurrent clients against ``profilelab serve``.

Starts a :class:`~profilelab.store.serve.ProfileServer` on loopback over a fresh store,
then ``--clients`` threads each POST ``--posts`` small binary OTLP exports (one CPU profile
of ``--samples`` samples each) on a keep-alive connection, one after the other. Reports
posts/s, p50/p99 latency, catalog commits and the CPU seconds of this process, against a
reference in the same run: the same clients posting to a bare HTTP server that answers
without decoding or storing (the ceiling of this machine's HTTP plumbing at this load).

usage: python benchmarks/bench_serve.py [--clients 8] [--posts 250] [--samples 20]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from store_util import otlp_export  # noqa: E402

import profilelab  # noqa: E402
from profilelab.store.serve import PATH, ProfileServer  # noqa: E402

HEADERS = {"Content-Type": "application/x-protobuf"}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_clients(address: tuple[str, int], bodies: list[list[bytes]]) -> tuple[float, list[float]]:
    """Each client posts its bodies in turn; (wall seconds, latencies of every post)."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []
    start = threading.Barrier(len(bodies) + 1)

    def client(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection(*address, timeout=120)
        own: list[float] = []
        start.wait()
        for body in mine:
            t = time.perf_counter()
            conn.request("POST", PATH, body=body, headers=HEADERS)
            resp = conn.getresponse()
            resp.read()
            own.append(time.perf_counter() - t)
            if resp.status != 200:
                errors.append(f"status {resp.status}")
        conn.close()
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=client, args=(b,)) for b in bodies]
    for th in threads:
        th.start()
    start.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"{len(errors)} posts failed, e.g. {errors[0]}")
    return wall, sorted(latencies)


def pct(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))]


class _Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--posts", type=int, default=250, help="posts per client")
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    n = args.clients * args.posts
    print(f"machine: {os.cpu_count()} CPUs; {args.clients} clients x {args.posts} posts")
    print(f"load average before: {_load()}")
    bodies = [
        [otlp_export(f"svc{c}", c * 100_000 + i, samples=args.samples) for i in range(args.posts)]
        for c in range(args.clients)
    ]

    bare = ThreadingHTTPServer(("127.0.0.1", 0), _Bare)
    threading.Thread(target=bare.serve_forever, daemon=True).start()
    ref_wall, ref_lat = run_clients(bare.server_address[:2], bodies)  # type: ignore[arg-type]
    bare.shutdown()
    ref_rate = n / ref_wall

    root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        store = profilelab.open_store(root / "store")
        server = ProfileServer(store, "127.0.0.1", 0).start()
        cpu0 = time.process_time()
        wall, lat = run_clients(server.server_address, bodies)
        cpu = time.process_time() - cpu0
        commits = server.committer.commits
        server.close()
        stored = store.profiles().height
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rate = n / wall
    print(
        f"serve: {n} posts in {wall:.2f}s = {rate:.0f} posts/s, p50 {pct(lat, 0.5) * 1e3:.0f} ms, "
        f"p99 {pct(lat, 0.99) * 1e3:.0f} ms; {commits} commits ({n / max(1, commits):.1f} "
        f"posts/commit); {stored} profiles stored; CPU {cpu:.2f}s ({cpu / n * 1e3:.2f} ms/post)"
    )
    print(
        f"reference (bare HTTP server, no decode/store): {ref_rate:.0f} posts/s, "
        f"p99 {pct(ref_lat, 0.99) * 1e3:.0f} ms; serve/reference x{rate / ref_rate:.2f}"
    )
    met = rate >= 500 and pct(lat, 0.99) < 0.1
    print(f"goal 4 (>= 500 posts/s, p99 < 100 ms): {'met' if met else 'not met'}")
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
