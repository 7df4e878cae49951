"""Ingest files, directories and globs into a store, many profiles per commit.

Each input is read, hashed (its ``input_id``) and skipped at once when the store already
holds it, else decoded with :func:`profilelab.load` — in worker processes when there are
many inputs — and committed in batches of ``batch_size`` inputs (one segment each). A bad
input is reported with its reason and skipped; the batch goes on. Ctrl-C or a crash loses
at most the uncommitted batch, and running the same ingest again completes it.
"""

from __future__ import annotations

import glob
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from profilelab.errors import ProfileLabError
from profilelab.model.ids import digest_bytes
from profilelab.model.profile import Profile
from profilelab.store import layout
from profilelab.store.prepare import Item

if TYPE_CHECKING:
    from profilelab.store.store import Store

#: Inputs per commit by default: large enough to amortize Parquet and fsync costs.
BATCH_SIZE = 256
#: Below this many inputs, decoding in-process beats starting worker processes.
PARALLEL_MIN = 64
_GLOB_CHARS = frozenset("*?[")


@dataclass
class IngestReport:
    """The outcome of one ingest."""

    inputs: int = 0  # inputs seen
    stored: int = 0  # inputs stored by this ingest
    skipped: int = 0  # inputs the store already had (same bytes)
    profiles: int = 0  # catalog rows written (one per sample type)
    samples: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    seconds: float = 0.0
    segments: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        rate = self.stored / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.stored} inputs stored ({self.profiles} profiles, {self.samples} samples), "
            f"{self.skipped} already present, {len(self.failed)} failed, "
            f"in {self.seconds:.2f}s ({rate:.0f} inputs/s)"
        )


@dataclass
class _Loaded:
    source: str
    input_id: int
    profile: Profile | None = None
    error: str | None = None
    mtime_ns: int | None = None


def expand(sources: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Files named, found under directories (recursively, hidden names skipped) or globbed.

    A name that is neither a file, a directory nor a matching glob is yielded as is, so
    that reading it reports the problem.
    """
    for src in sources:
        s = os.fspath(src)
        if os.path.isdir(s):
            yield from _walk(s)
        elif not os.path.exists(s) and _GLOB_CHARS & set(s):
            matches = sorted(glob.glob(s, recursive=True))
            if not matches:
                yield s
            for m in matches:
                yield from (_walk(m) if os.path.isdir(m) else [m])
        else:
            yield s


def _walk(directory: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith("."):
                yield os.path.join(dirpath, f)


def ingest(
    store: Store,
    sources: Iterable[str | os.PathLike[str]],
    *,
    labels: Mapping[str, str] | None = None,
    name: str | None = None,
    batch_size: int = BATCH_SIZE,
    jobs: int | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest every input of ``sources`` into ``store``; never stops at a bad input.

    ``labels`` are added to every profile (they win over the profile's own labels);
    ``name`` sets the profile name (cpu, heap, mutex, block, ...) instead of inferring it.
    ``jobs`` worker processes decode inputs (default: one per CPU, capped at 4, when there
    are at least :data:`PARALLEL_MIN` inputs; ``jobs=1`` decodes in this process).
    ``progress`` shows a tqdm bar on stderr when it is a terminal.
    """
    started = time.perf_counter()
    root = str(store.root) + os.sep
    # never the store's own files (``ingest --store s .`` would otherwise walk into s/)
    paths = [p for p in expand(sources) if not os.path.abspath(p).startswith(root)]
    report = IngestReport(inputs=len(paths))
    present = store.snapshot().input_ids()
    bar = _progress(len(paths), progress)
    batch: list[Item] = []
    try:
        for loaded in _load_all(paths, present, jobs):
            bar.update(1)
            if loaded.error is not None:
                report.failed.append((loaded.source, loaded.error))
                continue
            if loaded.profile is None:
                report.skipped += 1
                continue
            batch.append(
                Item(loaded.profile, loaded.input_id, name, labels, loaded.mtime_ns, loaded.source)
            )
            if len(batch) >= batch_size:
                _commit(store, batch, report)
                batch = []
        if batch:
            _commit(store, batch, report)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
    return report


def _commit(store: Store, batch: list[Item], report: IngestReport) -> None:
    result = store.write(batch)
    report.stored += result.inputs
    report.skipped += result.skipped
    report.profiles += result.profiles
    report.samples += result.samples
    if result.segment:
        report.segments.append(result.segment)


def _progress(total: int, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="input",
        desc="ingest",
        disable=not enabled or not sys.stderr.isatty(),
        file=sys.stderr,
    )


def _load_all(paths: list[str], present: set[int], jobs: int | None) -> Iterator[_Loaded]:
    """Read every path in order (skipping inputs already stored) and decode the rest.

    Reading and hashing happen here; decoding happens in worker processes when there are
    many inputs, with a bounded number in flight so memory stays flat. When the workers
    cannot run (a process pool that breaks, e.g. a ``__main__`` spawn cannot re-import),
    the rest is decoded in this process.
    """
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 4)
    if workers <= 1 or (jobs is None and len(paths) < PARALLEL_MIN):
        for p in paths:
            yield _inline(read_input(p, present))
        return
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: Polars' thread pool does not survive fork().
    ctx = multiprocessing.get_context("spawn")
    window = workers * 8
    pending: deque[tuple[_Loaded | tuple[str, bytes, int, int], Future[_Loaded] | None]] = deque()
    it = iter(paths)
    try:
        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_watch_parent, initargs=(os.getpid(),)
        ) as pool:
            for p in it:
                got = read_input(p, present)
                fut = None if isinstance(got, _Loaded) else pool.submit(_decode_in_worker, *got)
                pending.append((got, fut))
                while len(pending) > window or (pending and pending[0][1] is None):
                    yield _result(pending[0])
                    pending.popleft()
            while pending:
                yield _result(pending[0])
                pending.popleft()
    except BrokenProcessPool:
        for got, _ in pending:
            yield _inline(got)
        for p in it:
            yield _inline(read_input(p, present))


def _inline(got: _Loaded | tuple[str, bytes, int, int]) -> _Loaded:
    return got if isinstance(got, _Loaded) else decode_input(*got)


def _result(entry: tuple[_Loaded | tuple[str, bytes, int, int], Future[_Loaded] | None]) -> _Loaded:
    got, fut = entry
    return _inline(got) if fut is None else fut.result()


def _watch_parent(parent_pid: int) -> None:
    """In a worker: exit as soon as the ingesting process is gone (e.g. kill -9).

    An orphaned worker would otherwise wait forever on its task queue. Ctrl-C is left to
    the parent (which stops the pool), so workers do not print tracebacks of their own.
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def read_input(path: str, present: set[int]) -> _Loaded | tuple[str, bytes, int, int]:
    """The input's bytes, id and mtime, or a finished result (already stored, unreadable)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
            mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
    except OSError as exc:
        return _Loaded(path, 0, error=exc.strerror or str(exc))
    input_id = digest_bytes(data)
    if input_id in present:
        return _Loaded(path, input_id)
    return path, data, input_id, mtime_ns


#: In a worker process: ids of the dictionary rows (stacks, frames, ...) it already sent.
_SENT: dict[str, np.ndarray] = {}


def _decode_in_worker(path: str, data: bytes, input_id: int, mtime_ns: int) -> _Loaded:
    """:func:`decode_input`, minus dictionary rows this worker already sent to the parent.

    The ingesting process keeps (commits) every dictionary row it receives, in order, so a
    row sent once need not travel again: a fleet's profiles share most of their stacks and
    frames, and pickling them is a large part of a worker's time. The result is therefore
    not a self-contained Profile; it only feeds the store's writer.
    """
    loaded = decode_input(path, data, input_id, mtime_ns)
    if loaded.profile is not None:
        loaded.profile = _drop_sent(loaded.profile)
    return loaded


def _drop_sent(profile: Profile) -> Profile:
    tables = {}
    for table, key in layout.DICTIONARIES.items():
        df: pl.DataFrame = getattr(profile, table)
        ids = df[key].to_numpy()
        sent = _SENT.get(table)
        if sent is not None and len(ids):
            df = df.filter(~np.isin(ids, sent))
        if df.height:
            new = df[key].unique().to_numpy()
            _SENT[table] = new if sent is None else np.union1d(sent, new)
        tables[table] = df
    return profile.replace(**tables)


def decode_input(path: str, data: bytes, input_id: int, mtime_ns: int) -> _Loaded:
    """Decode one input with :func:`profilelab.load`; any failure becomes a reason."""
    import profilelab

    try:
        profile = profilelab.load(data, name=path)
    except ProfileLabError as exc:
        return _Loaded(path, input_id, error=_reason(exc, path))
    except Exception as exc:  # a reader bug must not abort a batch of thousands of files
        return _Loaded(path, input_id, error=f"internal error {type(exc).__name__}: {exc}")
    if profile.profiles.height == 0:
        return _Loaded(path, input_id, error="no profiles in the input")
    return _Loaded(path, input_id, profile, mtime_ns=mtime_ns)


def _reason(exc: Exception, path: str) -> str:
    text = str(exc)
    return text[len(path) + 2 :] if text.startswith(f"{path}: ") else text
