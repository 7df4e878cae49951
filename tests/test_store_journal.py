"""The receivers' journal (store/journal.py): durable before the answer, stored once, visible
to the next query, recovered after kill -9, torn tails cut."""

from __future__ import annotations

import http.client
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_util import ROOT, T0, otlp_export
from test_pprof_native import assert_equal_outcomes

import profilelab
from profilelab.errors import StoreError
from profilelab.model.ids import digest_bytes
from profilelab.store import _fs, journal, layout
from profilelab.store._decode import read_bounded
from profilelab.store.prepare import Unbuilt
from profilelab.store.serve import PATH, ProfileServer

PB = {"Content-Type": "application/x-protobuf"}


def _unbuilt(k: int, service: str = "svc") -> Unbuilt:
    body = otlp_export(service, seed=k, time_ns=T0 + k)
    return Unbuilt(read_bounded(body, f"body{k}", 1 << 20), digest_bytes(body), source=f"b{k}")


def _journal_files(root: Path) -> list[Path]:
    return sorted((root / layout.JOURNAL).glob(f"*{journal.SUFFIX}"))


def _post(address: tuple[str, int], body: bytes) -> int:
    conn = http.client.HTTPConnection(*address, timeout=30)
    conn.request("POST", PATH, body=body, headers=PB)
    status = conn.getresponse().status
    conn.close()
    return status


def test_records_read_back_and_a_torn_tail_is_cut() -> None:
    groups = [[_unbuilt(k)] for k in range(3)]
    data = b"".join(journal.encode(g) for g in groups)
    records, good = journal.read_records(data)
    assert good == len(data) and len(records) == 3
    assert [journal.decode(r, "x")[0].input_id for r in records] == [g[0].input_id for g in groups]
    for cut in (1, 5, 11, len(journal.encode(groups[0])) - 1):  # header or payload cut short
        records, good = journal.read_records(data + journal.encode(groups[0])[:cut])
        assert len(records) == 3 and good == len(data)
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF  # the last record's checksum no longer matches
    records, good = journal.read_records(bytes(flipped))
    assert len(records) == 2 and good < len(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    samples=st.integers(0, 60),
    functions=st.integers(1, 40),
    as_json=st.booleans(),
)
def test_a_received_export_is_journaled_as_its_body_and_read_back_equal(
    seed: int, samples: int, functions: int, as_json: bool
) -> None:
    """The record of a received export holds its bytes, not its arrays; reading it back
    decodes them again into the same RawProfiles, field by field."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2

    from profilelab.store.serve import otlp_received

    body = otlp_export("svc", seed, samples=samples, functions=functions, time_ns=T0 + seed)
    ctype = "application/x-protobuf"
    if as_json:
        req = profiles_service_pb2.ExportProfilesServiceRequest.FromString(body)
        body, ctype = json_format.MessageToJson(req).encode(), "application/json"
    item = otlp_received(body, ctype, "otlp-http:1.2.3.4", {"env": "prod"}, 1 << 20)
    assert item is not None
    record = journal.encode([item])
    assert len(record) < len(body) + 512  # the body and a few fields, no arrays
    [back] = journal.decode(record, "x.jnl")
    assert isinstance(back, Unbuilt) and back.body == body
    got = (back.input_id, back.labels, back.default_time_ns, back.source, back.limit)
    assert got == (item.input_id, item.labels, item.default_time_ns, item.source, item.limit)
    assert len(back.raws) == len(item.raws)
    for a, b in zip(item.raws, back.raws, strict=True):
        assert_equal_outcomes(a, b)


def _record(payload: bytes) -> bytes:
    """A journal record around any pickled ``payload``."""
    return struct.pack("<4sII", b"PLJ1", len(payload), zlib.crc32(payload)) + payload


def test_a_record_may_hold_only_store_items() -> None:
    with pytest.raises(StoreError, match=r"may not hold posix\.system"):
        journal.decode(_record(pickle.dumps(os.system)), "evil.jnl")
    with pytest.raises(StoreError, match="holds no requests"):
        journal.decode(_record(pickle.dumps([1, 2])), "odd.jnl")


def test_open_stores_a_dead_writers_journal_once_and_cuts_its_torn_tail(
    tmp_path: Path, capfd
) -> None:
    store = profilelab.open_store(tmp_path / "store")
    items = [_unbuilt(k, f"svc{k % 2}") for k in range(4)]
    folder = store.root / layout.JOURNAL
    folder.mkdir()
    whole = b"".join(journal.encode([u]) for u in items[:3]) + journal.encode([items[0]])
    torn = journal.encode([items[3]])[:-7]  # the crash came during this append
    (folder / f"0001-1-dead{journal.SUFFIX}").write_bytes(whole + torn)
    again = profilelab.open_store(store.root)
    rows = again.profiles()
    assert sorted(rows["input_id"]) == sorted(u.input_id for u in items[:3])  # once each
    assert not _journal_files(store.root)
    err = capfd.readouterr().err
    assert "cut" in err and "torn" in err and "Traceback" not in err
    # a record already stored (a crash between the commit and the file's deletion)
    (folder / f"0002-1-dead{journal.SUFFIX}").write_bytes(journal.encode([items[1]]))
    assert profilelab.open_store(store.root).profiles().height == 3


def test_a_reader_without_write_access_leaves_a_dead_writers_journal(
    tmp_path: Path, capfd, monkeypatch
) -> None:
    store = profilelab.open_store(tmp_path / "store")
    folder = store.root / layout.JOURNAL
    folder.mkdir()
    items = [_unbuilt(k) for k in range(2)]
    dead = folder / f"0001-1-dead{journal.SUFFIX}"
    dead.write_bytes(b"".join(journal.encode([u]) for u in items))
    tree = [store.root, *store.root.rglob("*")]
    modes = {p: p.stat().st_mode for p in tree}
    if os.geteuid() == 0:  # root writes anyway: refuse the store's lock as the OS would
        # refuse it to another user
        def refused(path: Path):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(_fs, "locked", refused)
    else:
        for p in tree:
            p.chmod(modes[p] & ~0o222)
    try:
        reader = profilelab.open_store(store.root)
        assert reader.profiles().height == 0
        assert reader.profiles().height == 0  # said once, not on every query
    finally:
        monkeypatch.undo()
        for p in tree:
            p.chmod(modes[p])
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert str(dead) in err[0] and "cannot store this journal of a receiver that is gone" in err[0]
    assert "Permission denied" in err[0]
    assert dead.read_bytes() == b"".join(journal.encode([u]) for u in items)  # nothing lost
    rows = profilelab.open_store(store.root).profiles()  # a writer stores it later
    assert sorted(rows["input_id"]) == sorted(u.input_id for u in items)
    assert not _journal_files(store.root)


def test_a_record_that_cannot_be_read_is_set_aside_not_lost(tmp_path: Path, capfd) -> None:
    store = profilelab.open_store(tmp_path / "store")
    raw = _record(pickle.dumps(os.system))
    folder = store.root / layout.JOURNAL
    folder.mkdir()
    (folder / f"0001-1-dead{journal.SUFFIX}").write_bytes(raw + journal.encode([_unbuilt(1)]))
    rows = profilelab.open_store(store.root).profiles()
    assert rows.height == 1
    kept = list((folder / journal.UNSTORABLE).iterdir())
    assert len(kept) == 1 and kept[0].read_bytes() == raw
    assert "kept here" in capfd.readouterr().err


def test_an_answer_is_visible_to_the_next_query_and_close_stores_everything(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(journal, "FOLD_DELAY", 3600.0)  # no fold but the ones asked for
    store = profilelab.open_store(tmp_path / "store")
    server = ProfileServer(store, "127.0.0.1", 0).start()
    try:
        bodies = [otlp_export("order", seed=k, time_ns=T0 + k) for k in range(3)]
        assert _post(server.server_address, bodies[0]) == 200
        assert _journal_files(store.root)  # durable in the journal, not yet in a segment
        assert store.profiles().height == 1  # this process's snapshot folds first
        assert not _journal_files(store.root)
        for body in bodies[1:] + bodies[:1]:  # the last one is a client's retry
            assert _post(server.server_address, body) == 200
    finally:
        server.close()
    assert not _journal_files(store.root)
    rows = profilelab.open_store(store.root).profiles()
    assert sorted(rows["input_id"]) == sorted(digest_bytes(b) for b in bodies)


def test_the_fold_runs_in_a_child_process_and_in_this_one_once_that_is_gone(
    tmp_path: Path, monkeypatch, capfd
) -> None:
    """The receiver's process never builds or writes the journaled tables while its fold
    process lives; when it dies, nothing acknowledged is lost: this process folds."""
    store = profilelab.open_store(tmp_path / "store")
    writes: list[int] = []
    real = store.write

    def counted(items):  # type: ignore[no-untyped-def]
        writes.append(len(items))
        return real(items)

    monkeypatch.setattr(store, "write", counted)
    items = [_unbuilt(k) for k in range(6)]
    j = journal.Journal(store.root, store.write, fold_delay=3600.0)
    try:
        j.append([[u] for u in items[:3]])
        j.flush()
        child = j.fold_pid
        assert child is not None and child != os.getpid() and writes == []
        assert not _journal_files(store.root)
        os.kill(child, signal.SIGKILL)
        j.append([[u] for u in items[3:]])
        j.flush()
        assert j.fold_pid is None and writes == [3]  # folded here
    finally:
        j.close()
    rows = profilelab.open_store(store.root).profiles()
    assert sorted(rows["input_id"]) == sorted(u.input_id for u in items)
    err = capfd.readouterr().err
    assert "fold process stopped" in err and "Traceback" not in err


def test_a_fold_process_that_hangs_is_killed_and_this_process_folds(
    tmp_path: Path, monkeypatch, capfd
) -> None:
    store = profilelab.open_store(tmp_path / "store")
    items = [_unbuilt(k) for k in range(4)]
    j = journal.Journal(store.root, store.write, fold_delay=3600.0)
    try:
        j.append([[items[0]]])
        j.flush()
        child = j.fold_pid
        assert child is not None
        os.kill(child, signal.SIGSTOP)  # alive, but never answers
        monkeypatch.setattr(journal, "FOLD_TIMEOUT", 0.5)
        j.append([[u] for u in items[1:]])
        j.flush()
        assert j.fold_pid is None
    finally:
        j.close()
    assert subprocess.run(["kill", "-0", str(child)], capture_output=True).returncode != 0
    rows = profilelab.open_store(store.root).profiles()
    assert sorted(rows["input_id"]) == sorted(u.input_id for u in items)
    assert "fold process did not answer in time" in capfd.readouterr().err


def test_the_fold_process_starts_with_the_journal_below_the_receivers_priority(
    tmp_path: Path,
) -> None:
    """It is running before anything is appended (its start-up is not paid by the first
    requests), at a lower priority than this process, and ends with the journal."""
    from profilelab.store import _fold

    store = profilelab.open_store(tmp_path / "store")
    j = journal.Journal(store.root, store.write, fold_delay=3600.0)
    try:
        child = None
        for _ in range(200):
            child = j.fold_pid
            if child is not None:
                break
            time.sleep(0.05)
        assert child is not None and child != os.getpid()
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        for _ in range(200):  # it lowers its own priority first thing
            if os.getpriority(os.PRIO_PROCESS, child) != ours:
                break
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, child) == min(19, ours + _fold.NICE)
        j.append([[_unbuilt(0)]])
        j.flush()
        assert j.fold_pid == child and not _journal_files(store.root)
    finally:
        j.close()
    assert subprocess.run(["kill", "-0", str(child)], capture_output=True).returncode != 0
    assert profilelab.open_store(store.root).profiles().height == 1


def test_a_fold_process_never_handed_a_fold_is_ended_at_once_on_close(tmp_path: Path) -> None:
    """A receiver closed during its fold process's start-up does not wait for it; one that
    folded ends it by closing its socket, after the fold."""
    store = profilelab.open_store(tmp_path / "store")
    for fold in (False, True):
        j = journal.Journal(store.root, store.write, fold_delay=3600.0)
        for _ in range(1000):  # started by the fold thread
            if j._folder is not None:
                break
            time.sleep(0.01)
        folder = j._folder
        assert folder is not None
        if fold:
            j.append([[_unbuilt(0)]])
            j.flush()
        j.close()
        assert folder.proc.returncode == (0 if fold else -signal.SIGKILL)
    assert profilelab.open_store(store.root).profiles().height == 1


def test_a_warm_fold_process_imports_nothing_more_to_fold_otlp_exports(tmp_path: Path) -> None:
    """:func:`_fold.warm` imports everything a fold of received exports needs, so that
    the first fold of a receiver costs what the next ones do."""
    store = profilelab.open_store(tmp_path / "store")
    j = journal.Journal(store.root, store.write, fold_process=False, fold_delay=3600.0)
    try:
        j.append([[_unbuilt(k)] for k in range(2)])
        (name,) = [f.name for f in _journal_files(store.root)]
        code = textwrap.dedent(
            f"""
            import os, sys
            from pathlib import Path
            from profilelab.store import _fold
            from profilelab.store.store import open_store
            store = open_store(Path({str(store.root)!r}), create=False)
            _fold.warm()
            before = set(sys.modules)
            folder = store.root / {layout.JOURNAL!r}
            fd = os.open(folder / {name!r}, os.O_RDONLY)
            assert _fold.fold(store.write, folder, [{name!r}], [fd]) == b"ok"
            print(sorted(set(sys.modules) - before))
            """
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert out.stdout.strip() == "[]"
    finally:
        j.close()
    assert profilelab.open_store(store.root).profiles().height == 2


def test_a_fold_request_names_one_journal_file_per_descriptor(tmp_path: Path) -> None:
    from profilelab.store import _fold

    folder = tmp_path / layout.JOURNAL
    folder.mkdir()
    fd = os.open(folder, os.O_RDONLY)
    try:
        for names in (["a.jnl", "b.jnl"], ["../x.jnl"], ["notes.txt"]):
            answer = _fold.fold(lambda items: None, folder, names, [fd])
            assert answer == b"error: a fold request must name one journal file per descriptor"
    finally:
        os.close(fd)


def test_another_process_waits_for_the_receivers_fold(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(journal, "FOLD_DELAY", 5.0)  # longer than the reader takes to start
    store = profilelab.open_store(tmp_path / "store")
    server = ProfileServer(store, "127.0.0.1", 0).start()
    try:
        body = otlp_export("order", seed=5)
        assert _post(server.server_address, body) == 200
        code = (
            "import sys, profilelab; "
            "print(profilelab.open_store(sys.argv[1]).profiles()['input_id'].to_list())"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(store.root)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"[{digest_bytes(body)}]"
    finally:
        server.close()


_SERVER = textwrap.dedent(
    """
    import sys
    import profilelab
    from profilelab.store import journal
    from profilelab.store.serve import ProfileServer

    journal.FOLD_DELAY = 3600.0  # the journal is the only copy when the kill comes
    journal.FOLD_ITEMS = 10**9
    server = ProfileServer(profilelab.open_store(sys.argv[1]), "127.0.0.1", 0).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    """
)


def _server_process(script: str, root: Path) -> subprocess.Popen[str]:
    """A real server in its own process, over the store at ``root`` (see _SERVER)."""
    return subprocess.Popen(
        [sys.executable, "-c", script, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _port(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    return int(proc.stdout.readline())


def test_acknowledged_posts_survive_kill_9(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = _server_process(_SERVER, root)
    try:
        port = _port(proc)
        bodies = [otlp_export(f"svc{k % 3}", seed=k, time_ns=T0 + k) for k in range(12)]
        acked = [b for b in bodies if _post(("127.0.0.1", port), b) == 200]
        assert len(acked) == len(bodies)
        assert _journal_files(root)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    rows = profilelab.open_store(root).profiles()
    assert sorted(rows["input_id"]) == sorted(digest_bytes(b) for b in acked)
    assert not _journal_files(root)


def test_a_request_that_cannot_be_built_is_set_aside_and_the_rest_stored(
    tmp_path: Path, monkeypatch, capfd
) -> None:
    store = profilelab.open_store(tmp_path / "store")
    items = [_unbuilt(k) for k in range(4)]
    bad = items[2].input_id
    real = journal.built

    def built(group):  # type: ignore[no-untyped-def]
        if any(i.input_id == bad for i in group):
            raise ValueError("a table cannot be built")
        return real(group)

    monkeypatch.setattr(journal, "built", built)
    j = journal.Journal(store.root, store.write, fold_process=False)  # built: patched here
    j.append([[u] for u in items])
    j.close()
    rows = profilelab.open_store(store.root).profiles()
    assert sorted(rows["input_id"]) == sorted(u.input_id for u in items if u.input_id != bad)
    kept = list((store.root / layout.JOURNAL / journal.UNSTORABLE).iterdir())
    assert [journal.decode(f.read_bytes(), "x")[0].input_id for f in kept] == [bad]
    assert "a table cannot be built" in capfd.readouterr().err


def test_a_failed_append_leaves_no_torn_record_before_later_ones(
    tmp_path: Path, monkeypatch
) -> None:
    store = profilelab.open_store(tmp_path / "store")
    items = [_unbuilt(k) for k in range(3)]
    j = journal.Journal(store.root, store.write, fold_delay=3600.0)
    j.append([[items[0]]])
    real = os.fdatasync

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", full)
    with pytest.raises(OSError):
        j.append([[items[1]]])
    monkeypatch.setattr(os, "fdatasync", real)
    j.append([[items[2]]])
    files = _journal_files(store.root)
    assert len(files) == 2  # the failed file takes no more appends
    for f in files:
        records, good = journal.read_records(f.read_bytes())
        assert good == f.stat().st_size and len(records) == 1
    j.close()
    rows = profilelab.open_store(store.root).profiles()
    assert sorted(rows["input_id"]) == sorted([items[0].input_id, items[2].input_id])


def test_a_dead_writers_built_items_are_stored_too(tmp_path: Path) -> None:
    """Pyroscope pushes and scrapes journal built Items (tables, not RawProfiles)."""
    from profilelab.store.prepare import Item

    store = profilelab.open_store(tmp_path / "store")
    body = otlp_export("order", seed=9)
    item = Item(profilelab.load(body), digest_bytes(body), labels={"via": "push"})
    folder = store.root / layout.JOURNAL
    folder.mkdir()
    (folder / f"0001-1-dead{journal.SUFFIX}").write_bytes(journal.encode([item]))
    stored = profilelab.open_store(store.root).query('cpu{via="push"}')
    assert stored.top(nodecount=50).to_dicts() == profilelab.load(body).top(nodecount=50).to_dicts()


_BUSY_SERVER = _SERVER.replace("3600.0", "0.05").replace("10**9", "40")


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.05, 0.2, 0.6])
def test_kill_9_at_any_moment_loses_no_acknowledged_post(tmp_path: Path, after: float) -> None:
    """Posts keep coming and the journal folds every 50 ms: the kill lands in an append, a
    fold or between them; every acknowledged post is stored, once."""
    import threading
    import time

    root = tmp_path / "store"
    proc = _server_process(_BUSY_SERVER, root)
    bodies = [otlp_export(f"svc{k % 4}", seed=k, time_ns=T0 + k) for k in range(400)]
    acked: list[bytes] = []
    first = threading.Event()

    def client(mine: list[bytes]) -> None:
        for body in mine:
            try:
                if _post(("127.0.0.1", port), body) == 200:
                    acked.append(body)
                    first.set()
            except OSError:  # the server is gone
                return

    try:
        port = _port(proc)
        threads = [threading.Thread(target=client, args=(bodies[k::4],)) for k in range(4)]
        for t in threads:
            t.start()
        assert first.wait(60)  # the server has warmed up
        time.sleep(after)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    for t in threads:
        t.join()
    assert acked
    ids = profilelab.open_store(root).profiles()["input_id"].to_list()
    assert len(ids) == len(set(ids))  # stored once
    assert {digest_bytes(b) for b in acked} <= set(ids) <= {digest_bytes(b) for b in bodies}
