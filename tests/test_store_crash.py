"""kill -9 an ingest at random points: the store stays readable, never shows a partial profile."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from store_util import ROOT, Made, make_profiles

import profilelab
from profilelab.store import layout

pytestmark = pytest.mark.slow


def _catalog_files(store_dir: Path) -> int:
    try:
        return sum(1 for n in os.listdir(store_dir / "catalog") if n.endswith(".parquet"))
    except FileNotFoundError:
        return 0


def _check_consistent(store_dir: Path, expected: dict[int, Made]) -> int:
    """The store opens; every visible profile is whole; returns the number of inputs in it."""
    st = profilelab.open_store(store_dir, create=False)
    rows = st.profiles()
    assert rows["profile_id"].n_unique() == rows.height, "a profile is visible twice"
    per_input = rows.group_by("input_id").agg(pl.len())
    assert (per_input["len"] == 2).all(), "an input is visible with only one of its sample types"
    for r in rows.iter_rows(named=True):
        m = expected[r["input_id"]]
        assert r["n_samples"] == m.samples
        assert r["total"] == (m.cpu_total if r["sample_type"] == "cpu" else m.count_total)
    # the samples actually on disk agree with the catalog, profile by profile
    actual = st.sql(
        "select profile_id, count(*) as n, sum(value)::bigint as total from samples group by 1"
    )
    joined = rows.select("profile_id", "n_samples", "total").join(
        actual, on="profile_id", how="full", coalesce=True
    )
    assert joined.height == rows.height, "samples of a profile the catalog does not list"
    assert (joined["n"] == joined["n_samples"]).all()
    assert (joined["total"] == joined["total_right"]).all()
    if rows.height:
        st.query('{__name__="cpu"}').check()  # every stack, frame, mapping, label set resolves
    return per_input.height


def test_kill_9_during_ingest_never_exposes_partial_profiles(tmp_path: Path) -> None:
    made = make_profiles(tmp_path / "in", 1000, samples=12)
    expected = {m.input_id: m for m in made}
    store_dir = tmp_path / "store"
    rng = random.Random(20261127)
    # the library's ingest, as the CLI runs it, without the CLI's start-up imports
    script = (
        "import sys, profilelab; "
        "r = profilelab.open_store(sys.argv[1]).ingest([sys.argv[2]], jobs=1, batch_size=25); "
        "sys.exit(0 if r.ok else 1)"
    )
    cmd = [sys.executable, "-c", script, str(store_dir), str(tmp_path / "in")]
    killed = 0
    seen = 0
    for _trial in range(10):
        commits_before = _catalog_files(store_dir)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # wait until this run has committed once, then kill at a random later moment
        deadline = time.monotonic() + 120
        while proc.poll() is None and _catalog_files(store_dir) <= commits_before:
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.1))  # commits come every few milliseconds
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.communicate(timeout=60)
        now = _check_consistent(store_dir, expected)
        assert now >= seen  # committed inputs never disappear
        seen = now
    assert killed >= 8, f"only {killed} of 10 runs were still running when killed"
    assert seen < len(made)

    report = profilelab.open_store(store_dir).ingest([tmp_path / "in"], jobs=1)
    assert report.ok and report.stored + report.skipped == len(made)
    assert _check_consistent(store_dir, expected) == len(made)
    st = profilelab.open_store(store_dir)
    assert st.profiles().height == 2 * len(made)
    on_disk = {
        str(p.relative_to(store_dir))
        for p in store_dir.rglob("*")
        if p.is_file() and p.name not in (layout.MARKER, layout.LOCK)
    }
    assert on_disk == st.snapshot().live_files()  # crash leftovers were collected


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(x) for x in path.read_text().split()} if path.exists() else set()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_decoding_workers_exit_when_the_ingest_is_killed(tmp_path: Path) -> None:
    make_profiles(tmp_path / "in", 300, samples=12)
    store_dir = tmp_path / "store"
    cmd = [sys.executable, "-m", "profilelab", "ingest", "--store", str(store_dir)]
    cmd += ["--quiet", "--jobs", "2", "--batch-size", "25", str(tmp_path / "in")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and _catalog_files(store_dir) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    workers = _children(proc.pid)
    assert proc.poll() is None and workers, "the ingest finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [w for w in workers if _alive(w)]
    for w in left:  # do not leak processes even when the assertion fails
        os.kill(w, signal.SIGKILL)
    assert not left, f"worker processes {left} outlived the killed ingest"
