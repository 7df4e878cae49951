"""Durable file operations: write to a temporary name, fsync, rename, fsync the directory.

POSIX ``rename`` is atomic within one file system: a reader sees the old state or the new
file complete, never a part. fsync of the file before the rename and of the directory after
it makes the new name survive a power loss, not only a process crash. Temporary files end
in ``.tmp`` so that globs such as ``**/*.parquet`` never see them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from profilelab.errors import StoreError

TMP_SUFFIX = ".tmp"


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (new, renamed or removed names) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path, root: Path, unsynced: set[Path] | None = None) -> None:
    """Create ``path`` and missing parents below ``root``, syncing each new entry; with
    ``unsynced``, the directories whose new entries need a sync are added to it instead,
    for the caller to sync in one round (:func:`fsync_all`) before anything depends on
    them."""
    if path.is_dir():
        return
    missing = []
    p = path
    while not p.is_dir() and p != root and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        if unsynced is None:
            fsync_dir(d.parent)
        else:
            unsynced.add(d.parent)


def temp_name(final: Path) -> Path:
    """A unique temporary name next to ``final`` (hidden from ``*.parquet`` globs)."""
    return final.with_name(f"{temp_prefix(final)}{secrets.token_hex(4)}{TMP_SUFFIX}")


def temp_prefix(final: Path) -> str:
    """How the names of ``final``'s temporary files begin."""
    return f".{final.name}."


def write_atomic(
    final: Path, write: Callable[[BinaryIO], object], *, sync_dir: bool = True
) -> None:
    """Write a file through ``write(fh)`` to a temporary name, fsync it and rename it to ``final``.

    With ``sync_dir=False`` the caller syncs the directory itself (to batch many renames).
    """
    tmp = temp_name(final)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync_dir:
        fsync_dir(final.parent)


def write_temp(final: Path, write: Callable[[BinaryIO], object], *, sync: bool = True) -> Path:
    """Write a temporary file for ``final`` (fsynced unless ``sync`` is false: the caller
    then syncs it, e.g. with :func:`fsync_all`); the caller renames it later."""
    tmp = temp_name(final)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def write_temps(files: Sequence[tuple[Path, Callable[[BinaryIO], object]]]) -> list[Path]:
    """:func:`write_temp` (unsynced) of each (final, write), on threads; the temporary names
    in order. Writers that release the GIL (Parquet's encoding and compression) then run
    side by side, on one thread per CPU (:func:`_write_pool`). On failure, the files
    written are removed and the first error raised."""
    if len(files) <= 1:
        return [write_temp(final, write, sync=False) for final, write in files]
    pool = _write_pool()
    futures = [pool.submit(write_temp, final, write, sync=False) for final, write in files]
    done: list[Path] = []
    error: BaseException | None = None
    for fut in futures:
        try:
            done.append(fut.result())
        except BaseException as exc:  # every write is waited for before one is raised
            error = error or exc
    if error is not None:
        for tmp in done:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise error
    return done


def fsync_all(files: list[Path], directories: Sequence[Path] = ()) -> None:
    """fsync many files and directories at once.

    fsync releases the GIL and the file system folds concurrent fsyncs into shared journal
    commits, so a dozen files cost little more than one.
    """
    jobs = [(_fsync_file, p) for p in files] + [(fsync_dir, d) for d in directories]
    if len(jobs) <= 1:
        for fn, p in jobs:
            fn(p)
        return
    pool = _sync_pool()
    for fut in [pool.submit(fn, p) for fn, p in jobs]:
        fut.result()


_SYNC_THREADS = 16
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _sync_pool() -> ThreadPoolExecutor:
    """The threads that run :func:`fsync_all`'s fsyncs, made once per process: a receiver
    commits many times a second, and starting a dozen threads per commit cost more CPU
    than the fsyncs' system calls."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_SYNC_THREADS, thread_name_prefix="fsync")
        return _pool


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity; all of them off Linux)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: Most threads that encode a commit's files (:func:`_write_pool`).
_WRITE_THREADS = 4
_write_threads: ThreadPoolExecutor | None = None


def _write_pool() -> ThreadPoolExecutor:
    """The threads that run :func:`write_temps`' writes, one per CPU this process may use
    (at most :data:`_WRITE_THREADS`), made once per process. Encoding is CPU work: more
    threads than CPUs only take turns at the GIL between Arrow's releases of it, which cost
    a batch of 256 small inputs 20-70% more CPU with sixteen threads than with two, and
    no less wall time (BENCHMARKS.md, Ingest on a busy machine)."""
    global _write_threads
    with _pool_lock:
        if _write_threads is None:
            workers = max(1, min(usable_cpus(), _WRITE_THREADS))
            _write_threads = ThreadPoolExecutor(workers, thread_name_prefix="encode")
        return _write_threads


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(path: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (one writer per store at a time).

    The lock is released by the kernel when the process dies, so a crashed writer never
    leaves the store locked. Raises StoreError after ``timeout`` seconds of waiting.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                if try_lock(fd):
                    break
            except OSError as exc:
                raise StoreError(f"{path}: cannot lock the store: {exc}") from None
            if time.monotonic() > deadline:
                raise StoreError(
                    f"{path}: another writer has held the store lock for {timeout:.0f}s"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def try_lock(fd: int) -> bool:
    """Take an exclusive ``flock`` on ``fd`` without waiting: False while another holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True
