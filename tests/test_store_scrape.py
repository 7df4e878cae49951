"""``profilelab scrape``: a real Go net/http/pprof program on loopback, with targets down."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from store_util import ROOT

import profilelab
from profilelab.errors import QueryError
from profilelab.store.scrape import Scraper, parse_config

GO = shutil.which("go")
SERVER_SRC = ROOT / "tests" / "golang" / "pprofserver" / "main.go"


@pytest.fixture(scope="module")
def pprofserver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if GO is None:
        pytest.skip("the Go toolchain (Debian golang-go) is not installed")
    out = tmp_path_factory.mktemp("go") / "pprofserver"
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    if "GOCACHE" not in env and "HOME" not in env:  # go needs a build cache somewhere
        env["GOCACHE"] = str(tmp_path_factory.mktemp("gocache"))
    subprocess.run([GO, "build", "-o", str(out), str(SERVER_SRC)], check=True, env=env, timeout=600)
    return out


@pytest.fixture
def go_targets(pprofserver: Path) -> Iterator[list[str]]:
    procs = [
        subprocess.Popen([str(pprofserver)], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    try:
        addrs = [p.stdout.readline().strip() for p in procs if p.stdout]
        assert all(":" in a for a in addrs), addrs
        yield addrs
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.fixture
def dead_targets() -> Iterator[list[str]]:
    """A port nobody listens on, and one that accepts connections but never answers."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_addr = f"127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # never accepted: requests hang until their timeout
    try:
        yield [closed_addr, f"127.0.0.1:{silent.getsockname()[1]}"]
    finally:
        silent.close()


def _config(live: list[str], dead: list[str]) -> dict:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "retries": 2},
        "scrape_configs": [
            {
                "job_name": "order",
                "profiles": ["heap", "goroutine", "mutex"],
                "static_configs": [{"targets": [live[0]], "labels": {"service": "order"}}],
            },
            {
                "job_name": "cart",
                "profiles": ["heap", "block"],
                "static_configs": [{"targets": [live[1]], "labels": {"service": "cart"}}],
            },
            {
                "job_name": "cart-cpu",
                "scrape_interval": "2s",
                "profiles": ["cpu"],
                "profile_seconds": 1,
                "static_configs": [{"targets": [live[1]], "labels": {"service": "cart"}}],
            },
            {
                "job_name": "down",
                "profiles": ["heap", "goroutine"],
                "static_configs": [{"targets": dead, "labels": {"service": "down"}}],
            },
        ],
    }


@pytest.mark.golang
def test_scrape_real_go_targets_on_schedule_with_targets_down(
    tmp_path: Path, go_targets: list[str], dead_targets: list[str]
) -> None:
    store = profilelab.open_store(tmp_path / "store")
    scraper = Scraper(store, parse_config(_config(go_targets, dead_targets)))
    scraper.run(duration_s=4.5)
    live = {k: st for k, st in scraper.stats.items() if not k.startswith("down/")}
    dead = {k: st for k, st in scraper.stats.items() if k.startswith("down/")}
    for key, st in live.items():
        # every scrape of a live target succeeded, and the dead ones never held it up: a
        # silent target takes 3 s to give up (1 s timeout, 2 retries), so one blocking the
        # schedule or the shared connection pool would cost the live jobs most of their
        # ticks. A tick a live job itself overran on a loaded machine counts as missed,
        # so the count allows one.
        assert st.failed == 0 and st.ok + st.missed == st.ticks, (key, st)
        assert st.missed <= 1 and st.ok >= (2 if "cpu" in key else 3), (key, st)
    for key, st in dead.items():
        assert st.ok == 0 and st.failed >= 1, (key, st)
        assert st.failed + st.missed == st.ticks, (key, st)

    def stored(selector: str) -> int:
        return store.profiles(selector).height

    for service, job, kinds in (
        ("order", "order", ("heap", "goroutine", "mutex")),
        ("cart", "cart", ("heap", "block")),
        ("cart", "cart-cpu", ("cpu",)),
    ):
        target = go_targets[0] if service == "order" else go_targets[1]
        for kind in kinds:
            n = live[f"{job}/{target}/{kind}"].ok
            got = stored(f'{kind}{{service="{service}", job="{job}", instance="{target}"}}')
            assert got == n, (kind, service, got, n)
    assert stored('{service="down"}') == 0
    heap = store.query('heap{service="order"}')
    heap.check()
    assert heap.samples["value"].sum() > 0  # the Go program keeps allocations live
    assert store.query('sum(cpu{service="cart"})').samples["value"].sum() > 0
    assert store.profiles('allocs{service="order"}').height == stored('heap{service="order"}')


@pytest.mark.golang
def test_cli_scrape_once(tmp_path: Path, go_targets: list[str], dead_targets: list[str]) -> None:
    config = tmp_path / "scrape.yaml"
    doc = _config(go_targets, dead_targets[:1])
    config.write_text(yaml.safe_dump(doc))
    cmd = [sys.executable, "-m", "profilelab", "scrape", "--config", str(config)]
    cmd += ["--store", str(tmp_path / "store"), "--once"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1  # a target was down
    assert "scrape failed http://" + dead_targets[0] in out.stderr
    assert "order/" + go_targets[0] + "/goroutine: 1 ok" in out.stderr
    rows = profilelab.open_store(tmp_path / "store").profiles('goroutine{job="order"}')
    assert rows.height == 1


def test_config_errors_name_the_problem() -> None:
    base = {"job_name": "a", "static_configs": [{"targets": ["h:1"]}]}
    with pytest.raises(QueryError, match="scrape_configs"):
        parse_config({"jobs": []})
    with pytest.raises(QueryError, match=r"unknown keys \['interval'\]"):
        parse_config({"scrape_configs": [{**base, "interval": "1s"}]})
    with pytest.raises(QueryError, match="unknown profile 'heapz'"):
        parse_config({"scrape_configs": [{**base, "profiles": ["heapz"]}]})
    with pytest.raises(QueryError, match="job a: bad duration"):
        parse_config({"scrape_configs": [{**base, "scrape_interval": "soon"}]})
    with pytest.raises(QueryError, match="no targets"):
        parse_config({"scrape_configs": [{"job_name": "a"}]})
    jobs = parse_config(
        {
            "scrape_configs": [
                {
                    **base,
                    "scrape_interval": "30s",
                    "profiling_config": {
                        "pprof_config": {
                            "block": {"enabled": False},
                            "fgprof": {"path": "/debug/fgprof", "seconds": 3, "name": "wall"},
                        }
                    },
                }
            ]
        }
    )
    urls = {j.endpoint.name: j.url for j in jobs}
    assert urls == {
        "cpu": "http://h:1/debug/pprof/profile?seconds=10",
        "heap": "http://h:1/debug/pprof/heap",
        "goroutine": "http://h:1/debug/pprof/goroutine",
        "mutex": "http://h:1/debug/pprof/mutex",
        "wall": "http://h:1/debug/fgprof?seconds=3",
    }
    assert jobs[0].labels == {"job": "a", "instance": "h:1"}
