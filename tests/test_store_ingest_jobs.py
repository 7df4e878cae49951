"""How many worker processes an ingest uses by default: only CPUs that are free."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from store_util import fresh_process, make_profiles

import profilelab
from profilelab.store import ingest


@pytest.mark.parametrize(
    ("cpus", "load", "expected"),
    [
        (2, 0.1, 0),  # one CPU free beside the ingest's: not shown to pay, decode here
        (4, 0.0, 4),
        (8, 0.5, 4),  # at most 4
        (4, 1.5, 2),
        (4, 2.5, 0),  # one CPU free
        (2, 9.0, 0),  # a busy machine: this process does it all
    ],
)
def test_default_workers_counts_free_cpus(
    monkeypatch: pytest.MonkeyPatch, cpus: int, load: float, expected: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert ingest.default_workers() == expected


def test_default_workers_without_a_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert ingest.default_workers() == 3


@pytest.mark.parametrize("jobs", [1, 2])
def test_this_process_builds_each_batch_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """The inputs of a batch are built into tables together, in this process: one build
    per commit, not one per small chunk. Worker processes (``jobs=2``) only read and
    decode; a bad input they read fails alone, named."""
    from profilelab.model import builder

    made = make_profiles(tmp_path / "in", 9, samples=10)
    bad = tmp_path / "in" / "zz-bad.pb.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    calls: list[int] = []
    real = builder._build  # what build and build_with_mapping_ids both run

    def counting(raws, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(raws))
        return real(raws, *args, **kwargs)

    monkeypatch.setattr(builder, "_build", counting)
    report = profilelab.open_store(tmp_path / "s").ingest(
        [*(m.path for m in made), bad], jobs=jobs, batch_size=3
    )
    assert report.stored == 9 and len(report.segments) == 3
    assert calls == [3, 3, 3]
    assert [source for source, _ in report.failed] == [str(bad)]
    assert "gzip" in report.failed[0][1]


def test_parts_no_worker_started_are_read_here(tmp_path: Path) -> None:
    """The ingesting process reads the parts of a chunk that wait for a busy worker."""
    from collections import deque
    from concurrent.futures import Future

    from profilelab.store._decode import read_each, read_input

    made = make_profiles(tmp_path / "in", 4, samples=10)
    todo = [read_input(str(m.path), set()) for m in made]
    started: Future = Future()
    started.set_running_or_notify_cancel()
    started.set_result(read_each(todo[:2]))  # type: ignore[arg-type]
    waiting: Future = Future()  # no worker took it
    pending = deque([(list(todo), todo, 2, [started, waiting])])
    loaded = list(ingest._next_result(pending))  # type: ignore[arg-type]
    assert waiting.cancelled() and not pending
    assert [x.source for x in loaded] == [str(m.path) for m in made]
    assert all(x.profile is not None and x.error is None for x in loaded)


def test_workers_start_only_from_the_second_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunk is decoded here while the workers start: an ingest of one batch
    gives them nothing (a spawned worker costs more than it would read)."""
    from concurrent.futures import ProcessPoolExecutor

    submitted: list[int] = []

    class Counting(ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            submitted.append(len(args[0]))
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(ingest, "ProcessPoolExecutor", Counting)
    made = make_profiles(tmp_path / "in", 6, samples=10)
    one = profilelab.open_store(tmp_path / "one").ingest([m.path for m in made], jobs=2)
    assert one.stored == 6 and submitted == []
    two = profilelab.open_store(tmp_path / "two").ingest(
        [m.path for m in made], jobs=2, batch_size=3
    )
    assert two.stored == 6 and submitted == [2, 1]


def test_the_ingest_command_keeps_freed_memory_and_the_library_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's process ends with its ingest, so it keeps the memory it frees for the
    next batch (as workers do) and takes what it imported out of the cyclic collector's
    passes; a library call in a user's program changes nothing."""
    from profilelab import _malloc
    from profilelab.cli import main

    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(
        ingest,
        "keep_freed_memory",
        lambda mmap_threshold, trim_threshold: (
            calls.append((mmap_threshold, trim_threshold)) or True
        ),
    )
    monkeypatch.setattr(_malloc, "keep_freed_memory", lambda *a, **k: pytest.fail("direct"))
    made = make_profiles(tmp_path / "in", 3, samples=20)
    profilelab.open_store(tmp_path / "lib").ingest([m.path for m in made], jobs=1)
    assert calls == []
    store = str(tmp_path / "cmd")
    paths = [str(m.path) for m in made]
    import gc

    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    assert main(["ingest", "-q", "--jobs", "1", "--store", store, *paths]) == 0
    assert calls == [(ingest.REUSED_BLOCK_BYTES, ingest.KEPT_FREE_BYTES)]
    assert frozen == [True]  # what the command imported leaves the collector's passes
    assert profilelab.open_store(store).profiles().height == 6


def test_an_ingest_imports_no_pandas_no_scipy_and_no_progress_bar_it_does_not_show(
    tmp_path: Path,
) -> None:
    """Building a batch of inputs stays clear of
    Arrow's conversions that import pandas (a third of a second of CPU per command); the
    function index sums by the compiled kernel, not SciPy's sparse products (SciPy's
    import, numpy.f2py included, is about 0.2 s of CPU per command); without a terminal to
    show it on, tqdm is not imported."""
    made = make_profiles(tmp_path / "in", 4, samples=20)
    code = (
        "import sys, profilelab; "
        f"r = profilelab.open_store({str(tmp_path / 'store')!r}).ingest("
        f"{[str(m.path) for m in made]!r}, jobs=1, progress=True); "
        "assert r.ok and r.stored == 4, r.summary(); "
        "print('pandas' in sys.modules, 'scipy' in sys.modules, 'tqdm' in sys.modules)"
    )
    assert fresh_process(code) == "False False False"


def test_a_large_batch_finds_equal_strings_without_pyarrow_compute_or_numpy_ma(
    tmp_path: Path,
) -> None:
    """A batch large enough for its strings to be deduplicated (DEDUP_MIN_STRINGS) finds
    the equal ones with the compiled kernel, not Arrow's dictionary encoding, whose module
    ``pyarrow.compute`` costs 0.03-0.05 s of CPU to import once per ingest; the commit
    hands its NumPy arrays to Polars as Arrow buffers, so ``numpy.ma`` is not imported
    either (0.01 s)."""
    from profilelab.model import builder

    made = make_profiles(tmp_path / "in", 40, samples=20, functions=300, stacks=400)
    code = (
        "import sys, profilelab\n"
        "from profilelab.model import ids\n"
        "real, asked = ids.hash_strings_at, []\n"
        "def spy(arr, index, *, dedup=False):\n"
        "    asked.append((dedup, 0 if index is None else len(index)))\n"
        "    return real(arr, index, dedup=dedup)\n"
        "ids.hash_strings_at = spy\n"
        f"r = profilelab.open_store({str(tmp_path / 'store')!r}).ingest("
        f"{[str(m.path) for m in made]!r}, jobs=1)\n"
        "assert r.ok and r.stored == 40, r.summary()\n"
        "print(max(n for d, n in asked if d), 'pyarrow.compute' in sys.modules, "
        "'numpy.ma' in sys.modules)"
    )
    largest, compute, ma = fresh_process(code).split()
    assert int(largest) >= builder.DEDUP_MIN_STRINGS
    assert (compute, ma) == ("False", "False")


def test_a_terminal_gets_a_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm import tqdm

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = ingest._progress(3, True)
    assert isinstance(bar, tqdm)
    bar.close()
    assert not isinstance(ingest._progress(3, False), tqdm)
