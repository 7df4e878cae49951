"""Receiver benchmark: small OTLP posts from concurrent clients against ``profilelab serve``.

Starts a :class:`~profilelab.store.serve.ProfileServer` on loopback over a fresh store in
this process; the clients run in a separate process (real clients are other machines):
``--clients`` threads each POST ``--posts`` small binary OTLP exports (one CPU profile of
``--samples`` samples each) on a keep-alive connection, one after the other. Reports
posts/s, p50/p99 latency, catalog commits and the CPU seconds of the server process per
post, against a reference in the same run: the same client process posting to a bare HTTP
server (in this process too) that answers without decoding or storing (the ceiling of this
machine's HTTP plumbing at this load). The server's answers come after its posts are durable.

What the CPU figures count: the server's is this process's CPU while the clients post
(every thread but the fold process's). The fold process's is its CPU from after its
start-up and first fold (a post folded before the measured ones; reported apart) until
every measured post is stored (a snapshot after the last answer folds the rest); its exit
at close is reported apart.

usage: python benchmarks/bench_serve.py [--clients 8] [--posts 250] [--samples 20]
                                        [--decode real|copy]

``--decode copy`` measures the receiver without its decoder: each post's export is not
decoded but replaced by a copy of one export decoded beforehand, under the post's own
input id (so every post is still journaled, folded and stored once). Everything else
(HTTP, the hand-offs, the journal, the fold) runs as usual.

To see where the server's CPU goes: ``py-spy record --format raw -o FILE -- python
benchmarks/bench_serve.py`` (py-spy samples every thread of the server process only).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

HEADERS = {"Content-Type": "application/x-protobuf"}
PATH = "/v1development/profiles"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- the client process ----------------------------------------------------------------------
def client_main(args: argparse.Namespace) -> int:
    """Make the bodies, say ready, wait for each target on stdin, post, report on stdout."""
    from store_util import otlp_export

    bodies = [
        [otlp_export(f"svc{c}", c * 100_000 + i, samples=args.samples) for i in range(args.posts)]
        for c in range(args.clients)
    ]
    # one post per client first, not measured: a long-running server has its imports done
    warm = [
        [otlp_export("warm-up", 900_000 + c, samples=args.samples)] for c in range(args.clients)
    ]
    print("ready", flush=True)
    for line in sys.stdin:
        host, _, port = line.strip().rpartition(":")
        run_clients((host, int(port)), warm)
        wall, lat, errors = run_clients((host, int(port)), bodies)
        print(json.dumps({"wall": wall, "latencies": lat, "errors": errors}), flush=True)
    return 0


def run_clients(
    address: tuple[str, int], bodies: list[list[bytes]]
) -> tuple[float, list[float], list[str]]:
    """Each client posts its bodies in turn; (wall seconds, latencies of every post, errors)."""
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
    return time.perf_counter() - t0, sorted(latencies), errors


class Clients:
    """The client process: :meth:`run` posts everything to one server and waits."""

    def __init__(self, args: argparse.Namespace) -> None:
        cmd = [sys.executable, __file__, "--client-process"]
        cmd += ["--clients", str(args.clients), "--posts", str(args.posts)]
        cmd += ["--samples", str(args.samples)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdin is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the client process failed to start")

    def run(self, address: tuple[str, int]) -> tuple[float, list[float]]:
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.proc.stdin.write(f"{address[0]}:{address[1]}\n")
        self.proc.stdin.flush()
        got = json.loads(self.proc.stdout.readline())
        if got["errors"]:
            raise SystemExit(f"{len(got['errors'])} posts failed, e.g. {got['errors'][0]}")
        return got["wall"], got["latencies"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


# ---- the server process ----------------------------------------------------------------------
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


def _started_fold(server: object) -> float:
    """Post one export and fold it, so that the server's fold process (if it has one) has
    started before the measured posts; its CPU seconds so far."""
    from store_util import otlp_export

    conn = http.client.HTTPConnection(*server.server_address, timeout=120)  # type: ignore[attr-defined]
    conn.request("POST", PATH, body=otlp_export("first", 990_000), headers=HEADERS)
    if conn.getresponse().status != 200:
        raise SystemExit("the server refused the first post")
    conn.close()
    server.store.snapshot()  # type: ignore[attr-defined]  # (folds what was journaled)
    pid = getattr(server.committer.journal, "fold_pid", None)  # type: ignore[attr-defined]
    return _cpu_of(pid) if pid else 0.0


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(run: object, address: tuple[str, int]) -> tuple[float, list[float], float]:
    """(wall, latencies, CPU seconds of this process) of the clients' run against ``address``."""
    cpu0 = time.process_time()
    wall, lat = run(address)  # type: ignore[operator]
    return wall, lat, time.process_time() - cpu0


def copy_decoder(samples: int) -> None:
    """Replace the server's OTLP decoder by a copy of one decoded export (``--decode copy``)."""
    import copy
    import dataclasses

    from store_util import otlp_export

    import profilelab.store.serve as serve
    from profilelab.model.ids import digest_bytes

    one = serve.otlp_item(
        otlp_export("copied", 1, samples=samples), serve.PROTOBUF, "x", {}, 1 << 30
    )
    assert one is not None

    def copied(body: bytes, ctype: str, name: str, labels: object, limit: int) -> object:
        input_id = digest_bytes(body)
        raws = []
        for raw in one.raws:  # profile ids come from the input's digest: give each its own
            raw = copy.copy(raw)
            raw.source_id ^= one.input_id ^ input_id
            raws.append(raw)
        return dataclasses.replace(
            one, raws=raws, input_id=input_id, default_time_ns=time.time_ns(), source=name
        )

    serve.otlp_item = copied  # type: ignore[assignment]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--posts", type=int, default=250, help="posts per client")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument(
        "--decode",
        choices=("real", "copy"),
        default="real",
        help="copy: replace decoding by a copy of one decoded export (the receiver alone)",
    )
    ap.add_argument("--client-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client_process:
        return client_main(args)

    import profilelab
    from profilelab.store.serve import ProfileServer

    if args.decode == "copy":
        copy_decoder(args.samples)
    n = args.clients * args.posts
    print(
        f"machine: {os.cpu_count()} CPUs; {args.clients} clients x {args.posts} posts; "
        f"decoding: {args.decode}"
    )
    print(f"load average before: {_load()}")
    clients = Clients(args)
    try:
        bare = ThreadingHTTPServer(("127.0.0.1", 0), _Bare)
        threading.Thread(target=bare.serve_forever, daemon=True).start()
        ref_wall, ref_lat, ref_cpu = measured(clients.run, bare.server_address[:2])  # type: ignore[arg-type]
        bare.shutdown()

        root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
        try:
            store = profilelab.open_store(root / "store")
            server = ProfileServer(store, "127.0.0.1", 0, freeze_gc=True).start()  # as the CLI
            fold_cpu0 = _started_fold(server)
            wall, lat, cpu = measured(clients.run, server.server_address)
            commits = server.committer.commits
            journal = getattr(server.committer, "journal", None)  # (None: commits, no journal)
            fold_pid = getattr(journal, "fold_pid", None)
            # the fold process's CPU for the measured posts: from after its start-up and
            # first fold to once everything posted is stored (not its exit at close)
            t0 = time.perf_counter()
            server.store.snapshot()
            fold_wall = time.perf_counter() - t0
            fold_cpu = _cpu_of(fold_pid) - fold_cpu0 if fold_pid else 0.0
            folds = journal.folds if journal is not None else commits
            children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0, cpu0 = time.perf_counter(), time.process_time()
            server.close()
            close_wall, close_cpu = time.perf_counter() - t0, time.process_time() - cpu0
            children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the fold process, ended
            exit_cpu = children.ru_utime + children.ru_stime - children0.ru_utime
            exit_cpu -= children0.ru_stime + fold_cpu0 + fold_cpu
            stored = store.profiles().height
        finally:
            shutil.rmtree(root, ignore_errors=True)
    finally:
        clients.close()
    rate, ref_rate = n / wall, n / ref_wall
    fold = (
        f", fold process {fold_cpu:.2f}s ({fold_cpu / n * 1e3:.2f} ms/post; {fold_wall:.2f}s "
        f"after the last answer until all was stored; start-up and first fold "
        f"{fold_cpu0:.2f}s, exit {exit_cpu:.2f}s)"
        if fold_pid
        else ""
    )
    print(
        f"serve: {n} posts in {wall:.2f}s = {rate:.0f} posts/s, p50 {pct(lat, 0.5) * 1e3:.0f} ms, "
        f"p99 {pct(lat, 0.99) * 1e3:.0f} ms; {commits} journal appends ({n / max(1, commits):.1f} "
        f"posts each), {folds} commits; server CPU {cpu:.2f}s ({cpu / n * 1e3:.2f} ms/post){fold}; "
        f"close {close_wall:.2f}s ({close_cpu:.2f}s CPU); {stored} profiles stored"
    )
    print(
        f"reference (bare HTTP server, no decode/store): {ref_rate:.0f} posts/s, "
        f"p99 {pct(ref_lat, 0.99) * 1e3:.0f} ms, server CPU {ref_cpu / n * 1e3:.2f} ms/post; "
        f"serve/reference x{rate / ref_rate:.2f}"
    )
    if stored != n + args.clients + 1:
        print(f"ERROR: {n + args.clients + 1} posts acknowledged, {stored} profiles stored")
    met = rate >= 500 and pct(lat, 0.99) < 0.1
    print(f"goal 4 (>= 500 posts/s, p99 < 100 ms): {'met' if met else 'not met'}")
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
