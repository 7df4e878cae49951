"""``profilelab scrape`` against hostile targets: trickling, not HTTP, bombs; prompt stop."""

from __future__ import annotations

import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from store_util import ROOT, make_profiles

import profilelab
from profilelab.store import scrape
from profilelab.store.scrape import Scraper, parse_config


class RawTarget:
    """A TCP server on loopback that answers every connection with ``answer(conn)``."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.connected = threading.Event()
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connected.set()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request
                self.answer(conn)
            except OSError:
                pass

    def close(self) -> None:
        self.closing = True
        self.sock.close()


def _trickle(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(600):  # a byte every 0.1 s: a minute of answer
        conn.sendall(b"x")
        time.sleep(0.1)


def _not_http(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1\r\n")


def _http(body: bytes, headers: str = "") -> Callable[[socket.socket], None]:
    def answer(conn: socket.socket) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
        conn.sendall(head.encode() + body)

    return answer


@pytest.fixture
def target(request) -> Iterator[Callable[[Callable[[socket.socket], None]], RawTarget]]:
    made: list[RawTarget] = []

    def make(answer: Callable[[socket.socket], None]) -> RawTarget:
        made.append(RawTarget(answer))
        return made[-1]

    yield make
    for t in made:
        t.close()


def _config(targets: list[str], timeout: str = "1s", retries: int = 2) -> dict:
    return {
        "global": {"scrape_interval": "10s", "scrape_timeout": timeout, "retries": retries},
        "scrape_configs": [
            {
                "job_name": "t",
                "profiles": ["heap"],
                "static_configs": [{"targets": targets, "labels": {"service": "s"}}],
            }
        ],
    }


def test_every_outcome_is_counted_with_one_deadline(tmp_path: Path, target) -> None:
    good = make_profiles(tmp_path / "in", 1)[0].path.read_bytes()
    ok = target(_http(good))
    trickle = target(_trickle)
    other = target(_not_http)
    store = profilelab.open_store(tmp_path / "s")
    scraper = Scraper(store, parse_config(_config([ok.address, trickle.address, other.address])))
    began = time.monotonic()
    scraper.run(once=True)
    took = time.monotonic() - began
    st = {k.split("/")[1]: v for k, v in scraper.stats.items()}
    assert (st[ok.address].ok, st[ok.address].failed) == (1, 0)
    assert (st[trickle.address].ok, st[trickle.address].failed) == (0, 1)
    assert "no complete answer within 1s" in st[trickle.address].last_error
    assert (st[other.address].ok, st[other.address].failed) == (0, 1)
    assert "not an HTTP answer" in st[other.address].last_error
    assert scraper.never_succeeded() == [f"t/{trickle.address}/heap", f"t/{other.address}/heap"]
    assert took < 30  # the trickle would take a minute; retries stay inside the deadline
    assert store.profiles('{service="s"}').height == 2  # cpu/count... of the good one


def test_bodies_and_their_gzip_are_bounded(tmp_path: Path, target, monkeypatch) -> None:
    monkeypatch.setattr(scrape, "MAX_RESPONSE", 64 << 10)
    monkeypatch.setattr(scrape, "MAX_INFLATED", 1 << 20)
    # 8 MiB of folded stacks once inflated (a known format: only the size stops it)
    bomb = gzip.compress(b"main;work 1\n" * (700 << 10))
    big = target(_http(b"y" * (100 << 10)))
    pprof_bomb = target(_http(bomb))
    encoded_bomb = target(_http(gzip.compress(b"\0" * (8 << 20)), "Content-Encoding: gzip\r\n"))
    zeros = target(_http(gzip.compress(b"\0" * (8 << 20))))  # refused from its first bytes
    store = profilelab.open_store(tmp_path / "s")
    addresses = [big.address, pprof_bomb.address, encoded_bomb.address, zeros.address]
    jobs = parse_config(_config(addresses))
    scraper = Scraper(store, jobs)
    scraper.run(once=True)
    errors = {k.split("/")[1]: st.last_error for k, st in scraper.stats.items()}
    assert "over 65536" in errors[big.address] or "larger than 65536" in errors[big.address]
    assert "past the limit of 1048576" in errors[pprof_bomb.address]
    assert "past the limit of 1048576" in errors[encoded_bomb.address]
    assert "unrecognized format inside gzip" in errors[zeros.address]
    assert all(st.failed == 1 for st in scraper.stats.values())


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_scrape_stops_promptly_on_a_signal_while_a_target_trickles(
    tmp_path: Path, target, sig: int
) -> None:
    trickle = target(_trickle)
    config = tmp_path / "scrape.yaml"
    config.write_text(yaml.safe_dump(_config([trickle.address], timeout="60s")))
    cmd = [sys.executable, "-m", "profilelab", "scrape", "--config", str(config)]
    proc = subprocess.Popen(
        [*cmd, "--store", str(tmp_path / "s")], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        assert trickle.connected.wait(60), "the scraper never connected"
        time.sleep(0.3)  # well into the trickling answer
        sent = time.monotonic()
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=20)  # generous: the measured exit is well under 2 s
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err  # the target never answered in full
    assert "stopped before the scrape finished" in err
    assert re.search(r"never scraped successfully: t/127\.0\.0\.1:\d+/heap", err)
    print(f"scrape exited {took:.2f}s after {signal.Signals(sig).name}")
