"""Ingest files, directories and globs into a store, many profiles per commit.

Each input is read, hashed (its ``input_id``) and skipped at once when the store already
holds it, else decoded as :func:`profilelab.load` would, a chunk of inputs at a time (their
tables built together in this process; with workers, worker processes inflate and decode
the inputs beforehand) and committed in batches of ``batch_size`` inputs (one segment
each). A bad input is reported with its reason and skipped; the batch goes on (a batch
whose commit fails is committed again one input at a time, so only the input at fault is
refused). One batch is committed on a thread of its own while the next is decoded.
Ctrl-C waits for a commit under way and loses at most the batch being decoded; a crash
loses at most two batches; running the same ingest again completes it."""

from __future__ import annotations

import glob
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from profilelab._malloc import keep_freed_memory
from profilelab.errors import ProfileLabError
from profilelab.readers import limits
from profilelab.store._decode import (
    Decoded,
    Loaded,
    Pending,
    decode_inputs,
    read_each,
    read_input,
)
from profilelab.store._fs import usable_cpus
from profilelab.store.prepare import Item

if TYPE_CHECKING:
    from profilelab.model.raw import RawProfile

    #: A chunk handed to workers: its entries, the inputs to decode, the workers' answers.
    _InFlight = tuple[
        list[Loaded | Pending], list[Pending], int, list[Future[list[list[RawProfile] | str]]]
    ]
    from profilelab.store.directory import StoreDirectory

#: Inputs per commit by default: large enough to amortize Parquet and fsync costs (about
#: 64 ms of a commit's CPU does not depend on its size) ...
BATCH_SIZE = 256
#: ... and up to this many in a large ingest, cut in about four batches
#: (:func:`default_batch_size`).
MAX_BATCH_SIZE = 1024
#: A batch is committed once its inputs hold this many sample rows, however few they are:
#: a batch's tables stay in memory until its commit.
BATCH_SAMPLE_ROWS = 2_000_000
#: Below this many inputs, decoding in-process beats starting worker processes.
PARALLEL_MIN = 64
#: Inputs a worker process decodes per task. A chunk, built into tables at once in this
#: process, is a whole batch (unless it reaches CHUNK_BYTES first): fewer, larger builds,
#: and one copy of the dictionary rows per commit.
CHUNK_INPUTS = 32
CHUNK_BYTES = 16 << 20
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
    #: (input, difference) for skipped inputs the store holds under other labels or name
    relabel_skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    segments: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def add(self, part: IngestReport) -> None:
        """Count ``part`` (the outcome of one batch's commit) in this report."""
        self.stored += part.stored
        self.skipped += part.skipped
        self.profiles += part.profiles
        self.samples += part.samples
        self.failed.extend(part.failed)
        self.segments.extend(part.segments)

    def summary(self) -> str:
        rate = self.stored / self.seconds if self.seconds > 0 else 0.0
        other = len(self.relabel_skipped)
        kept = f" ({other} of them under other labels, kept as stored)" if other else ""
        return (
            f"{self.stored} inputs stored ({self.profiles} profiles, {self.samples} samples), "
            f"{self.skipped} already present{kept}, {len(self.failed)} failed, "
            f"in {self.seconds:.2f}s ({rate:.0f} inputs/s)"
        )


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
    store: StoreDirectory,
    sources: Iterable[str | os.PathLike[str]],
    *,
    labels: Mapping[str, str] | None = None,
    name: str | None = None,
    batch_size: int | None = None,
    jobs: int | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest every input of ``sources`` into ``store``; never stops at a bad input.

    ``labels`` are added to every profile (they win over the profile's own labels);
    ``name`` sets the profile name (cpu, heap, mutex, block, ...) instead of inferring it.
    ``batch_size``: inputs per commit (default :func:`default_batch_size`); a batch is
    committed earlier once it holds :data:`BATCH_SAMPLE_ROWS` sample rows.
    ``jobs`` worker processes decode inputs (``jobs=1``: this process decodes); this
    process builds and commits. The default is :func:`default_workers` when there are at
    least :data:`PARALLEL_MIN` inputs, else none.
    ``progress`` shows a tqdm bar on stderr when it is a terminal.
    """
    started = time.perf_counter()
    root = str(store.root) + os.sep
    # never the store's own files (``ingest --store s .`` would otherwise walk into s/)
    paths = [p for p in expand(sources) if not os.path.abspath(p).startswith(root)]
    report = IngestReport(inputs=len(paths))
    present = store.snapshot().input_ids()
    size = default_batch_size(len(paths)) if batch_size is None else max(1, batch_size)
    bar = _progress(len(paths), progress)
    batch: list[Item] = []
    already: list[tuple[str, int]] = []
    committing: Future[IngestReport] | None = None
    try:
        # read once for the whole ingest, not per input; one thread commits a batch while
        # this one decodes the next (the executor's exit waits for a commit under way)
        with limits.held(), ThreadPoolExecutor(1, thread_name_prefix="ingest-commit") as commit:
            rows = 0  # sample rows in the batch
            for loaded in _load_all(paths, present, jobs, size):
                bar.update(1)
                if loaded.error is not None:
                    report.failed.append((loaded.source, loaded.error))
                    continue
                if loaded.profile is None:
                    report.skipped += 1
                    already.append((loaded.source, loaded.input_id))
                    continue
                batch.append(
                    Item(
                        loaded.profile,
                        loaded.input_id,
                        name,
                        labels,
                        loaded.mtime_ns,
                        loaded.source,
                        loaded.mapping_ids,
                    )
                )
                rows += loaded.profile.samples.height
                if len(batch) >= size or rows >= BATCH_SAMPLE_ROWS:
                    committing = _commit_next(commit, committing, store, batch, report)
                    batch, rows = [], 0
            if batch:
                committing = _commit_next(commit, committing, store, batch, report)
            if committing is not None:
                report.add(committing.result())
        _in_input_order(report.failed, paths)
        report.relabel_skipped = _labelled_otherwise(store, already, labels or {}, name)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
    return report


def default_batch_size(inputs: int) -> int:
    """Inputs per commit for an ingest of ``inputs``: :data:`BATCH_SIZE`, or a quarter of
    them up to :data:`MAX_BATCH_SIZE` (fewer, larger commits, and still four batches, so
    that most commits run beside a decoding). 2,000 small files, batches of 256 against
    512: 0.84 against 0.76 ms of CPU per file (BENCHMARKS.md, Ingest on a busy machine)."""
    return max(BATCH_SIZE, min(MAX_BATCH_SIZE, -(-inputs // 4)))


def _commit_next(
    commit: ThreadPoolExecutor,
    previous: Future[IngestReport] | None,
    store: StoreDirectory,
    batch: list[Item],
    report: IngestReport,
) -> Future[IngestReport]:
    """Start committing ``batch`` on the commit thread, once the batch before it is
    committed and its outcome added to ``report``.

    One batch commits while the next is decoded: the commit's Parquet encoding, Polars
    work and fsyncs release the GIL, so the two overlap on a second CPU, or take a larger
    share of a busy machine (BENCHMARKS.md, Ingest on a busy machine). One commit at a
    time keeps the segments in input order and memory at one more batch.
    """
    if previous is not None:
        report.add(previous.result())
    return commit.submit(_committed, store, batch)


def _committed(store: StoreDirectory, batch: list[Item]) -> IngestReport:
    """The outcome of committing ``batch``, as a report of its own (added to the ingest's
    report on the ingesting thread)."""
    part = IngestReport()
    _commit(store, batch, part)
    return part


def _in_input_order(failed: list[tuple[str, str]], paths: list[str]) -> None:
    """Sort ``failed`` by where each input came in ``paths`` (a commit's failures are
    known after later inputs' decoding failures)."""
    where: dict[str, int] = {}
    for n, p in enumerate(paths):
        where.setdefault(p, n)
    failed.sort(key=lambda f: where.get(f[0], len(paths)))


def _commit(store: StoreDirectory, batch: list[Item], report: IngestReport) -> None:
    """Commit the batch; when that fails, each input alone, so a bad one fails alone."""
    try:
        result = store.write(batch)
    except (ProfileLabError, OSError, ValueError, pl.exceptions.PolarsError) as exc:
        if len(batch) == 1:
            report.failed.append((batch[0].source or "<input>", f"cannot store: {exc}"))
            return
        for item in batch:
            _commit(store, [item], report)
        return
    report.stored += result.inputs
    report.skipped += result.skipped
    report.profiles += result.profiles
    report.samples += result.samples
    if result.segment:
        report.segments.append(result.segment)


def _labelled_otherwise(
    store: StoreDirectory,
    inputs: list[tuple[str, int]],
    labels: Mapping[str, str],
    name: str | None,
) -> list[tuple[str, str]]:
    """Of the skipped ``inputs`` (source, input_id), those the store holds with another
    value for one of the given ``labels`` or another ``name``, with the difference."""
    if not inputs or (not labels and name is None):
        return []
    ids = [i for _, i in inputs]
    rows = store.snapshot().catalog.filter(pl.col("input_id").is_in(ids))
    stored = {
        i: (n, {kv["key"]: kv["value"] for kv in kvs or []})
        for i, n, kvs in rows.select("input_id", "name", "labels").iter_rows()
    }
    out = []
    for source, input_id in inputs:
        if input_id not in stored:
            continue
        had_name, had = stored[input_id]
        diff = [
            f"{k}={had[k]!r} not {v!r}" if k in had else f"no {k} label (asked {v!r})"
            for k, v in labels.items()
            if had.get(k) != v
        ]
        if name is not None and had_name != name:
            diff.append(f"name {had_name!r} not {name!r}")
        if diff:
            out.append((source, "; ".join(diff)))
    return out


def _progress(total: int, enabled: bool):  # type: ignore[no-untyped-def]
    """A tqdm bar on stderr when it is a terminal; else a bar that shows nothing (without
    importing tqdm: a tenth of a second per command)."""
    if not enabled or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="input", desc="ingest", file=sys.stderr)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _load_all(
    paths: list[str], present: set[int], jobs: int | None, batch_size: int = BATCH_SIZE
) -> Iterator[Loaded]:
    """Read every path in order (skipping inputs already stored) and decode the rest.

    Reading and hashing happen here, and building and committing a whole batch's tables
    at once. With workers, worker processes inflate, sniff and decode the inputs (to
    RawProfiles, cheap to hand back) a few at a time while this process builds and
    commits the batch before; at most two batches are in flight, so memory stays flat.
    When the workers cannot run (a process pool that breaks, e.g. a ``__main__`` spawn
    cannot re-import), the rest is decoded in this process.
    """
    workers = _workers(jobs, len(paths))
    chunks = _chunks(paths, present, batch_size)
    if not workers:
        for chunk in chunks:
            yield from _inline(chunk)
        return
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: Polars' thread pool does not survive fork().
    ctx = multiprocessing.get_context("spawn")
    pending: deque[_InFlight] = deque()
    try:
        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_watch_parent, initargs=(os.getpid(),)
        ) as pool:
            for n, chunk in enumerate(chunks):
                todo = [e for e in chunk if isinstance(e, Pending)]
                step = max(1, min(CHUNK_INPUTS, -(-len(todo) // workers)))
                parts = [  # none for the first: decoded here while the workers start
                    pool.submit(read_each, todo[i : i + step])
                    for i in range(0, len(todo) if n else 0, step)
                ]
                pending.append((chunk, todo, step, parts))
                while len(pending) > 1:
                    yield from _next_result(pending)
            while pending:
                yield from _next_result(pending)
    except BrokenProcessPool:
        for chunk, *_ in pending:
            yield from _inline(chunk)
        for chunk in chunks:
            yield from _inline(chunk)


def _workers(jobs: int | None, inputs: int) -> int:
    """Worker processes reading inputs for this ingest; 0: this process does it all."""
    if jobs is not None:
        return jobs if jobs > 1 else 0
    return default_workers() if inputs >= PARALLEL_MIN else 0


def default_workers() -> int:
    """Worker processes for an ingest: one per CPU that is free now, at most 4; 0 (decode
    in this process) when fewer than two are free.

    Workers read and decode; this process builds the tables and commits. Handing the
    decoded inputs over costs CPU on both sides, and a worker's start about 0.45 s of
    CPU: workers only pay when they get CPUs of their own, and one worker beside this
    process on an otherwise idle 2-CPU machine is not yet shown to beat decoding here
    (measured: BENCHMARKS.md, Ingest on a busy machine). "Free" is the CPUs this process
    may use minus the one-minute load average.
    """
    cpus = usable_cpus()
    try:
        busy = os.getloadavg()[0]
    except OSError:  # no load average on this system
        busy = 0.0
    free = int(cpus - busy)
    return min(free, 4) if free >= 2 else 0


def _chunks(paths: list[str], present: set[int], size: int) -> Iterator[list[Loaded | Pending]]:
    """Inputs in order, read and hashed, in chunks of at most ``size`` inputs to decode
    (or :data:`CHUNK_BYTES` of them). An input seen earlier in this ingest is finished at
    once as already stored: its copy is decoded once."""
    seen = set(present)
    chunk: list[Loaded | Pending] = []
    n = nbytes = 0
    for p in paths:
        got = read_input(p, seen)
        chunk.append(got)
        if isinstance(got, Pending):
            seen.add(got.input_id)
            n += 1
            nbytes += len(got.data)
            if n >= size or nbytes >= CHUNK_BYTES:
                yield chunk
                chunk, n, nbytes = [], 0, 0
    if chunk:
        yield chunk


def _merge(chunk: list[Loaded | Pending], decoded: Decoded | None) -> Iterator[Loaded]:
    """The chunk's results in input order: finished entries as they are, the others decoded."""
    done = iter(decoded.split() if decoded is not None else [])
    for entry in chunk:
        yield next(done) if isinstance(entry, Pending) else entry


def _inline(chunk: list[Loaded | Pending]) -> Iterator[Loaded]:
    todo = [e for e in chunk if isinstance(e, Pending)]
    return _merge(chunk, decode_inputs(todo) if todo else None)


def _next_result(pending: deque[_InFlight]) -> Iterator[Loaded]:
    """The oldest chunk's results; it leaves ``pending`` only once its workers answered.

    A chunk given to no worker, and the parts of one that no worker has started yet
    (the workers are busy with the next chunk, or still starting), are read here."""
    chunk, todo, step, parts = pending[0]
    mine = {k for k in range(len(parts) - 1, -1, -1) if parts[k].cancel()}
    read = [
        got
        for k, part in enumerate(parts)
        for got in (read_each(todo[k * step : (k + 1) * step]) if k in mine else part.result())
    ]
    pending.popleft()
    return _merge(chunk, decode_inputs(todo, read if parts else None) if todo else None)


#: What an ingesting process keeps of the memory it frees (:func:`reuse_freed_memory`).
REUSED_BLOCK_BYTES = 64 << 20
KEPT_FREE_BYTES = 256 << 20


def reuse_freed_memory() -> None:
    """In a process that ends with its ingest (the ``ingest`` command, a worker): keep
    freed blocks for reuse instead of returning them (:mod:`profilelab._malloc`).

    Each batch allocates and frees the same large buffers (decoded arrays, the batch's
    tables, pickles in a worker); glibc hands blocks over 128 KiB back to the kernel on
    free, and touching them again page-faults: system time was a fifth of a worker's CPU,
    and building a batch in the ingesting process costs about a third less with the
    memory kept (BENCHMARKS.md, Ingest on a busy machine). Only for processes that are
    ours and short-lived, never a library call in a user's program.
    """
    keep_freed_memory(mmap_threshold=REUSED_BLOCK_BYTES, trim_threshold=KEPT_FREE_BYTES)


def _watch_parent(parent_pid: int) -> None:
    """In a worker: exit as soon as the ingesting process is gone (e.g. kill -9).

    An orphaned worker would otherwise wait forever on its task queue. Ctrl-C is left to
    the parent (which stops the pool), so workers do not print tracebacks of their own.
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    reuse_freed_memory()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
