"""``profilelab serve``: OTLP/HTTP profile exports into a store, on loopback."""

from __future__ import annotations

import gzip
import http.client
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from store_util import ROOT, T0, otlp_export, otlp_total

import profilelab
from profilelab.model.ids import digest_bytes
from profilelab.store.serve import PATH, ProfileServer

HAVE_OTLP = importlib.util.find_spec("profilelab.readers.otlp") is not None
needs_otlp = pytest.mark.skipif(
    not HAVE_OTLP, reason="the OTLP reader (profilelab.readers.otlp) is not on this branch yet"
)


@pytest.fixture
def server(tmp_path: Path):
    store = profilelab.open_store(tmp_path / "store")
    srv = ProfileServer(store, "127.0.0.1", 0, max_body=1 << 20, max_inflated=4 << 20).start()
    yield srv
    srv.close()


def _post(
    srv: ProfileServer,
    body: bytes,
    ctype: str = "application/x-protobuf",
    encoding: str | None = None,
    conn: http.client.HTTPConnection | None = None,
    path: str = PATH,
) -> tuple[int, str, bytes]:
    own = conn is None
    host, port = srv.server_address[:2]
    conn = conn or http.client.HTTPConnection(str(host), port, timeout=30)
    headers = {"Content-Type": ctype}
    if encoding:
        headers["Content-Encoding"] = encoding
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp.status, resp.getheader("Content-Type") or "", data


def _status_message(ctype: str, data: bytes) -> str:
    if ctype.startswith("application/json"):
        return str(json.loads(data)["message"])
    if ctype.startswith("application/x-protobuf"):
        # google.rpc.Status: field 1 code (varint), field 2 message (length-delimited)
        assert data[0] == 0x08
        pos = 2
        assert data[pos] == 0x12
        return data[pos + 2 : pos + 2 + data[pos + 1]].decode()
    return data.decode()


def test_bad_requests_get_4xx_with_a_message_and_change_nothing(server: ProfileServer) -> None:
    good = otlp_export("order", 1)
    cases = [
        (b"\x00\x01garbage\xff" * 10, "application/x-protobuf", None, 400, "not a valid OTLP"),
        (b'{"resourceProfiles": [', "application/json", None, 400, "malformed JSON"),
        (good, "text/plain", None, 415, "unsupported Content-Type"),
        (good, "application/x-protobuf", "br", 415, "unsupported Content-Encoding"),
        (b"x" * (2 << 20), "application/x-protobuf", None, 413, "exceeds the limit"),
        (gzip.compress(b"\0" * (8 << 20)), "application/x-protobuf", "gzip", 413, "limit"),
        (good[:40], "application/x-protobuf", "gzip", 400, "not gzip data"),
        (gzip.compress(good)[:-12], "application/x-protobuf", "gzip", 400, "truncated gzip"),
    ]
    for body, ctype, encoding, status, text in cases:
        got, rtype, data = _post(server, body, ctype, encoding)
        assert got == status, (ctype, encoding, data)
        assert text in _status_message(rtype, data)
    got, _, data = _post(server, good, path="/v1/metrics")
    assert got == 404
    assert server.store.profiles().height == 0
    assert server.store.snapshot().segments == {}


def test_a_pprof_body_is_not_an_otlp_export(server: ProfileServer, corpus: Path) -> None:
    pprof = (corpus / "google-pprof/internal/report/testdata/sample.cpu").read_bytes()
    status, rtype, data = _post(server, pprof)
    assert status == 400
    assert "not" in _status_message(rtype, data).lower()
    assert server.store.profiles().height == 0


@needs_otlp
def test_an_export_is_stored_before_it_is_acknowledged(server: ProfileServer) -> None:
    body = otlp_export("order", 7)
    status, rtype, data = _post(server, gzip.compress(body), encoding="gzip")
    assert (status, rtype, data) == (200, "application/x-protobuf", b"")
    # a separate reader sees it at once: the commit happened before the answer
    other = profilelab.open_store(server.store.root, create=False)
    rows = other.profiles('cpu{service="order"}')
    assert rows.height == 1 and rows["total"][0] == otlp_total(body)
    assert rows["input_id"][0] == digest_bytes(body)
    prof = other.query('cpu{service="order"}')
    prof.check()
    # the same export again (a client retry) is acknowledged and stored once
    assert _post(server, body)[0] == 200
    assert other.profiles().height == 1


@needs_otlp
def test_small_exports_are_decoded_on_the_event_loop_and_big_ones_on_a_decoder_thread(
    server: ProfileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profilelab.store import serve

    real, threads = serve.otlp_item, []

    def traced(*args):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(serve, "otlp_item", traced)
    small, big = otlp_export("a", 1), otlp_export("b", 2, samples=200, functions=300)
    monkeypatch.setattr(serve, "INLINE_DECODE", len(small))
    assert _post(server, small)[0] == 200
    assert _post(server, big)[0] == 200
    assert threads[0] == "serve" and threads[1].startswith("decode")
    assert server.store.profiles().height == 2


def test_a_server_that_freezes_the_collector_leaves_the_objects_of_its_start_alone(
    tmp_path: Path,
) -> None:
    import gc

    store = profilelab.open_store(tmp_path / "store")
    gc.unfreeze()
    try:
        srv = ProfileServer(store, "127.0.0.1", 0, freeze_gc=True)
        before = len(gc.get_objects())
        srv.start()
        assert gc.get_freeze_count() > before // 2  # out of every collection from now on
        srv.close()
    finally:
        gc.unfreeze()
    plain = ProfileServer(store, "127.0.0.1", 0).start()  # a library caller's process
    plain.close()
    assert gc.get_freeze_count() == 0


def test_json_export(server: ProfileServer) -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc

    req = svc.ExportProfilesServiceRequest()
    req.ParseFromString(otlp_export("cart", 3))
    doc = json_format.MessageToJson(req).encode()
    status, rtype, data = _post(server, doc, "application/json; charset=utf-8")
    assert (status, rtype) == (200, "application/json"), data
    assert json.loads(data) == {}
    assert server.store.profiles('cpu{service="cart"}').height == 1


@needs_otlp
@pytest.mark.slow
def test_serve_under_load_keeps_every_acknowledged_profile(server: ProfileServer) -> None:
    clients, per_client = 8, 250
    acked: list[list[tuple[str, int, int]]] = [[] for _ in range(clients)]
    errors: list[str] = []
    bad_answers: list[int] = []

    def client(k: int) -> None:
        host, port = server.server_address[:2]
        conn = http.client.HTTPConnection(str(host), port, timeout=60)
        for i in range(per_client):
            service = f"svc{k % 4}"
            body = otlp_export(service, seed=k * 10_000 + i, time_ns=T0 + i * 1_000_000_000)
            gz = i % 3 == 0
            status, _, data = _post(
                server,
                gzip.compress(body) if gz else body,
                encoding="gzip" if gz else None,
                conn=conn,
            )
            if status != 200:
                errors.append(f"{status} {data[:200]!r}")
                continue
            acked[k].append((service, digest_bytes(body), otlp_total(body)))
        conn.close()

    def misbehave() -> None:
        for _ in range(20):
            bad_answers.append(_post(server, b"\x0a\x05junk!")[0])
            bad_answers.append(_post(server, b"{}", "text/xml")[0])
            bad_answers.append(_post(server, b"y" * (1 << 20) + b"y")[0])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=misbehave))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    assert sorted(set(bad_answers)) == [400, 413, 415]
    everything = [a for per in acked for a in per]
    assert len(everything) == clients * per_client
    assert server.committer.commits < len(everything)  # group commit: requests shared commits
    # before shutting down: a fresh reader sees every acknowledged export, and nothing else
    store = profilelab.open_store(server.store.root, create=False)
    rows = store.profiles()
    assert rows.height == len(everything)
    assert set(rows["input_id"]) == {i for _, i, _ in everything}
    for k in range(4):
        expected = sum(t for s, _, t in everything if s == f"svc{k}")
        got = store.sql(
            f"select sum(value)::bigint from samples join profiles using (profile_id) "
            f"where service = 'svc{k}'"
        ).item()
        assert got == expected


@needs_otlp
def test_cli_serve_stores_and_stops_on_sigterm(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    cmd = [sys.executable, "-m", "profilelab", "serve", "--store", str(store_dir), "--port", "0"]
    cmd += ["--label", "cluster=eu-1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"http://([\d.]+):(\d+)/v1development/profiles", line)
        assert m, line
        body = otlp_export("order", 11)
        conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=30)
        conn.request("POST", PATH, body=body, headers={"Content-Type": "application/x-protobuf"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "1 exports (1 profiles, 0 spans) stored" in err
    rows = profilelab.open_store(store_dir).profiles('cpu{cluster="eu-1", service="order"}')
    assert rows.height == 1


def test_group_commit_batches_requests_that_wait(tmp_path: Path) -> None:
    """Requests queued while a commit is in progress go out together in the next one."""
    from store_util import make_profiles

    from profilelab.store import _fs, layout
    from profilelab.store.committer import GroupCommitter
    from profilelab.store.prepare import Item

    store = profilelab.open_store(tmp_path / "store")
    made = make_profiles(tmp_path / "in", 10)
    items = [Item(profilelab.load(m.path), m.input_id) for m in made]
    committer = GroupCommitter(store, max_delay=0.0)
    with _fs.locked(store.root / layout.LOCK):  # the first commit waits for this lock
        futures = [committer.submit([items[0]])]
        while committer._queue.qsize():  # the writer thread took the first request
            time.sleep(0.001)
        time.sleep(0.2)  # ... and is waiting for the lock
        futures += [committer.submit([item]) for item in items[1:]]
    results = [f.result(timeout=60) for f in futures]
    committer.close()
    assert committer.commits == 2
    assert results[0].segment != results[1].segment
    assert {r.segment for r in results[1:]} == {results[1].segment}
    assert store.profiles().height == 20


def test_group_commit_builds_decoded_inputs_together(tmp_path: Path) -> None:
    """Unbuilt inputs (decoded, tables not built) queued meanwhile are built in one go
    and stored exactly as ``profilelab.load`` of each body reads."""
    from profilelab.store import _fs, layout
    from profilelab.store._decode import read_bounded
    from profilelab.store.committer import GroupCommitter, Unbuilt

    store = profilelab.open_store(tmp_path / "store")
    bodies = [otlp_export(f"svc{k % 3}", seed=k, time_ns=T0 + k) for k in range(6)]
    unbuilt = [
        Unbuilt(read_bounded(b, f"body{k}", 1 << 20), digest_bytes(b), labels={"k": str(k)})
        for k, b in enumerate(bodies)
    ]
    committer = GroupCommitter(store, max_delay=0.0)
    with _fs.locked(store.root / layout.LOCK):
        futures = [committer.submit([unbuilt[0]])]
        while committer._queue.qsize():
            time.sleep(0.001)
        time.sleep(0.2)
        futures += [committer.submit([u]) for u in unbuilt[1:]]
    for f in futures:
        f.result(timeout=60)
    committer.close()
    assert committer.commits == 2
    for k, body in enumerate(bodies):
        alone = profilelab.load(body).top(nodecount=100).to_dicts()
        stored = store.query(f'cpu{{k="{k}"}}').top(nodecount=100).to_dicts()
        assert stored == alone
