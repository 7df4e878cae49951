"""The cost of a commit does not grow with the store, and its fsyncs stay in order.

A receiver commits many times a second: each commit appends its catalog rows to the last
snapshot (not concatenating the whole catalog again), runs its fsyncs on threads made
once, and syncs the catalog file's temporary copy in the same round as the data files,
renaming it into place (the commit point) only after that round.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_util import make_profiles

import profilelab
from profilelab.store import _fs, catalog, layout, writer
from profilelab.store.prepare import Item


def _write(store: profilelab.Store, paths: list[Path], ids: list[int]) -> None:
    store.write(
        [Item(profilelab.load(p), i) for p, i in zip(paths, ids, strict=True)],
    )


def test_own_commits_extend_the_last_snapshot_which_equals_a_fresh_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_profiles(tmp_path / "in", 6)
    store = profilelab.open_store(tmp_path / "store")
    _write(store, [made[0].path], [made[0].input_id])
    store.snapshot()
    whole: list[int] = []
    real = catalog.CatalogReader._whole
    monkeypatch.setattr(
        catalog.CatalogReader, "_whole", lambda self, names: whole.append(1) or real(self, names)
    )
    for m in made[1:4]:
        _write(store, [m.path], [m.input_id])
    # an input the store has (skipped) beside a new one
    _write(store, [made[1].path, made[4].path], [made[1].input_id, made[4].input_id])
    mine = store.snapshot()
    assert whole == []
    assert mine.stored_inputs(m.input_id for m in made) == {m.input_id for m in made[:5]}
    fresh = profilelab.open_store(store.root, create=False).snapshot()
    assert mine.segments == fresh.segments and mine.replaced == fresh.replaced
    assert mine.catalog.equals(fresh.catalog)


def test_a_compaction_or_another_writer_makes_the_snapshot_whole_again(tmp_path: Path) -> None:
    made = make_profiles(tmp_path / "in", 5)
    store = profilelab.open_store(tmp_path / "store")
    for m in made[:3]:
        _write(store, [m.path], [m.input_id])
    store.snapshot()
    other = profilelab.open_store(store.root, create=False)
    _write(other, [made[3].path], [made[3].input_id])
    store.compact(full=True)
    _write(store, [made[4].path], [made[4].input_id])
    mine = store.snapshot()
    fresh = profilelab.open_store(store.root, create=False).snapshot()
    assert len(mine.segments) == 2
    assert mine.segments == fresh.segments and mine.catalog.equals(fresh.catalog)
    assert mine.stored_inputs(m.input_id for m in made) == {m.input_id for m in made}


def test_fsyncs_run_on_threads_made_once(tmp_path: Path) -> None:
    made = make_profiles(tmp_path / "in", 2)
    store = profilelab.open_store(tmp_path / "store")
    seen = []
    for m in made:
        _write(store, [m.path], [m.input_id])
        seen.append({t.ident for t in threading.enumerate() if t.name.startswith("fsync")})
    assert seen[0] and seen[0] == seen[1]


def test_the_catalog_file_is_renamed_into_place_after_every_file_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_profiles(tmp_path / "in", 1, services=("a",))
    store = profilelab.open_store(tmp_path / "store")
    events: list[tuple[str, list[str]]] = []
    real_sync, real_rename = _fs.fsync_all, os.rename

    def sync(files: list[Path], dirs: list[Path] = ()) -> None:  # type: ignore[assignment]
        events.append(("sync", [os.path.relpath(f, store.root) for f in files]))
        real_sync(files, dirs)

    def rename(src: str | Path, dst: str | Path) -> None:
        events.append(("rename", [os.path.relpath(dst, store.root)]))
        real_rename(src, dst)

    monkeypatch.setattr(writer._fs, "fsync_all", sync)
    monkeypatch.setattr(writer.os, "rename", rename)
    _write(store, [made[0].path], [made[0].input_id])
    syncs = [i for i, (kind, _) in enumerate(events) if kind == "sync"]
    assert len(syncs) == 1, "one round of fsyncs per commit"
    synced = events[syncs[0]][1]
    (seg_id,) = store.snapshot().segments
    commit = [i for i, (_, f) in enumerate(events) if f == [layout.catalog_path(seg_id)]]
    assert commit == [len(events) - 1] and syncs[0] < commit[0]
    assert any(f.startswith(f"{layout.CATALOG}/.") and f.endswith(_fs.TMP_SUFFIX) for f in synced)
    data = [f for kind, fs in events[: syncs[0]] if kind == "rename" for f in fs]
    assert data and set(data) <= set(synced)


def test_the_directories_a_commit_creates_are_synced_in_its_one_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New partition directories (a fresh store: samples/, functions/, the dictionaries,
    catalog/ and each profile_type=/service=/date= level) are not synced one by one as
    they are made, but in the commit's one round of fsyncs, before the catalog rename."""
    made = make_profiles(tmp_path / "in", 2, services=("a", "b"))
    store = profilelab.open_store(tmp_path / "store")
    before = {p for p in store.root.rglob("*") if p.is_dir()} | {store.root}
    events: list[tuple[str, list[Path]]] = []
    real_sync, real_dir, real_rename = _fs.fsync_all, _fs.fsync_dir, os.rename

    in_round = threading.Event()

    def sync(files: list[Path], dirs: list[Path] = ()) -> None:  # type: ignore[assignment]
        events.append(("round", list(dirs)))
        in_round.set()
        real_sync(files, dirs)
        in_round.clear()

    def sync_dir(path: Path) -> None:
        if not in_round.is_set():
            events.append(("dir", [path]))
        real_dir(path)

    def rename(src: str | Path, dst: str | Path) -> None:
        events.append(("rename", [Path(dst)]))
        real_rename(src, dst)

    monkeypatch.setattr(writer._fs, "fsync_all", sync)
    monkeypatch.setattr(_fs, "fsync_dir", sync_dir)
    monkeypatch.setattr(writer.os, "rename", rename)
    _write(store, [m.path for m in made], [m.input_id for m in made])
    created = {p for p in store.root.rglob("*") if p.is_dir()} - before
    assert {p.parent for p in created} >= {store.root, store.root / layout.SAMPLES}
    (seg_id,) = store.snapshot().segments
    commit = events.index(("rename", [store.root / layout.catalog_path(seg_id)]))
    kinds = [kind for kind, _ in events[:commit]]
    assert kinds.count("round") == 1 and "dir" not in kinds, "no directory synced alone"
    (synced,) = [dirs for kind, dirs in events[:commit] if kind == "round"]
    assert {p.parent for p in created} <= set(synced)


def test_catalog_rows_carry_each_rows_labels_and_mappings(tmp_path: Path) -> None:
    """Rows without labels or mappings get empty lists, the others theirs, in row order."""
    from profilelab.store.prepare import catalog_rows

    made = make_profiles(tmp_path / "in", 3, comments=("team=core",))
    profiles = [profilelab.load(m.path) for m in made]
    items = [
        Item(profiles[0], 1, labels={"region": "eu"}, mapping_ids=[7, 8]),
        Item(profiles[1], 2, mapping_ids=[]),
        Item(profiles[2].replace(profiles=profiles[2].profiles.with_columns(comments=[])), 3),
    ]
    rows = catalog_rows(items, ingested_ns=1)
    per_input = rows.group_by("input_id", maintain_order=True).agg(
        pl.col("labels").first(), pl.col("mapping_ids").first()
    )
    labels = [sorted((kv["key"], kv["value"]) for kv in kvs) for kvs in per_input["labels"]]
    assert labels == [[("region", "eu"), ("team", "core")], [("team", "core")], []]
    assert rows["service"].to_list() == ["unknown"] * rows.height
    own = profiles[2].mappings["mapping_id"].to_list()
    assert per_input["mapping_ids"].to_list() == [[7, 8], [], own]


def test_data_files_are_written_side_by_side_and_a_failed_one_leaves_none(
    tmp_path: Path,
) -> None:
    finals = [tmp_path / f"f{i}.parquet" for i in range(4)]
    threads: set[str] = set()

    def writer(i: int):  # type: ignore[no-untyped-def]
        def write(fh) -> None:  # type: ignore[no-untyped-def]
            threads.add(threading.current_thread().name)
            fh.write(b"%d" % i)

        return write

    temps = _fs.write_temps([(f, writer(i)) for i, f in enumerate(finals)])
    assert [t.read_bytes() for t in temps] == [b"0", b"1", b"2", b"3"]
    assert all(t.name.startswith(f".{f.name}.") for t, f in zip(temps, finals, strict=True))
    assert threading.current_thread().name not in threads

    def broken(fh) -> None:  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    for t in temps:
        t.unlink()
    with pytest.raises(OSError, match="disk full"):
        _fs.write_temps([(finals[0], writer(0)), (finals[1], broken), (finals[2], writer(2))])
    assert list(tmp_path.iterdir()) == []


def test_data_files_are_encoded_on_one_thread_per_cpu_at_most(tmp_path: Path) -> None:
    """Encoding is CPU work: more threads than CPUs only take turns at the GIL."""
    finals = [tmp_path / f"f{i}.parquet" for i in range(12)]
    threads: set[str] = set()

    def write(fh) -> None:  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        time.sleep(0.01)  # long enough for an idle thread of a larger pool to take the next
        fh.write(b"x")

    for t in _fs.write_temps([(f, write) for f in finals]):
        t.unlink()
    cpus = len(os.sched_getaffinity(0))
    assert 1 <= len(threads) <= min(cpus, _fs._WRITE_THREADS)
    assert all(name.startswith("encode") for name in threads)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 5), max_size=8), st.randoms(use_true_random=False))
def test_sample_runs_are_put_in_file_order_as_slices_joined_would(
    lengths: list[int], rnd: random.Random
) -> None:
    """The samples of a commit's files, run after run, as the slices of each run joined
    (in order or shuffled, as the runs come after sorting by partition and time)."""
    n = sum(lengths)
    df = pl.DataFrame({"row": np.arange(n), "text": [f"s{i}" for i in range(n)]})
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)[: len(lengths)]
    runs = list(zip(starts.tolist(), lengths, strict=True))
    if rnd.random() < 0.7:
        rnd.shuffle(runs)
    s = np.array([r[0] for r in runs], dtype=np.int64)
    ln = np.array([r[1] for r in runs], dtype=np.int64)
    want = pl.concat([df.slice(a, b) for a, b in runs]) if runs else df.clear()
    got = writer._in_order(df, s, ln)
    assert got.equals(want)
    assert got.n_chunks() == 1
