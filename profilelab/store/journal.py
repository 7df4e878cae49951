"""The receivers' journal: a request is durable after one append, stored in segments later.

A commit (a segment: one Parquet file per partition and table, the catalog file, an fsync
round) costs tens of milliseconds of CPU whatever its size, so a receiver of many small
requests cannot afford one per group of requests. Instead its group committer appends each
group to a journal file with one ``fdatasync`` and answers; a fold thread stores the
journaled requests in one large commit every :data:`FOLD_DELAY` seconds (or
:data:`FOLD_ITEMS` requests), through the same :meth:`StoreDirectory.write` as every
commit, then deletes the journal files it stored. The thread has its **fold process**
(:mod:`profilelab.store._fold`, :data:`FOLD_PROCESS`) do the storing, so that building
the tables and writing the segment never hold the receiver's GIL: it passes the process
the files with their descriptors and waits for its answer; without a fold process (it
cannot start, or died) the thread stores them itself. The thread starts the fold process
as soon as the journal is opened (before the receiver's first answer), so its start-up
overlaps the receiver's idle time; the process lowers its own priority below the
receiver's.

Guarantees:

* **durable before the answer**: a request is answered after its record is fsynced (and
  the directory entry of a new journal file too). After a crash (kill -9, power loss) the
  next :class:`~profilelab.store.store.Store` opened on the directory stores the records
  of every journal whose writer is gone (:func:`recover`).
* **stored once**: a record stored twice (a crash between the commit and the deletion of
  its journal file, or a client's retry) is skipped by the commit's input-id check.
* **visible to the next query**: a snapshot taken after an answer includes it. In the
  receiver's process the snapshot asks the fold thread to fold now; in another process
  it waits until every journal file that existed when it began has been folded (or folds
  it itself when its writer is gone). See :meth:`StoreDirectory.snapshot`.
* **torn tails are cut**: each record is ``PLJ1``, its length and its CRC-32, so a record
  cut short by a crash during an append (never acknowledged) ends the file's readable
  records; it is reported in one line, never a traceback.

Each writer owns its journal files: it holds an ``flock`` on each from creation to
deletion (and its fold process holds the same lock while it stores them), so a file
that can be locked belongs to a writer that is gone. Records hold the decoded requests
(:class:`~profilelab.store.prepare.Unbuilt` or :class:`~profilelab.store.prepare.Item`)
in Python's pickle format, read back only through an unpickler that admits the classes of
those objects; an OTLP export received as bytes is pickled as those bytes and decoded
again when read back (:meth:`~profilelab.store.prepare.Unbuilt.keep_body`). A record that
cannot be stored (its tables fail to build) is moved to ``journal/unstorable/`` and
reported, never dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import pickle
import secrets
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from profilelab.errors import StoreError
from profilelab.store import _fs, layout
from profilelab.store.prepare import Item, Unbuilt, built

#: Fold at the latest this many seconds after the first request waiting to be folded.
FOLD_DELAY = 0.5
#: ... or as soon as this many requests wait.
FOLD_ITEMS = 4000
#: Seconds a snapshot waits for another process's receiver to fold its journal.
WAIT_FOLDED = 60.0
#: Seconds between attempts to fold after a failed one (the store's disk is full, ...).
RETRY_DELAY = 1.0
#: Fold in a child process (:mod:`profilelab.store._fold`), off the receiver's GIL; when
#: it cannot start or stops, the fold thread stores the journal itself.
FOLD_PROCESS = True
#: Seconds a fold process may take to answer before it is taken for hung and killed.
FOLD_TIMEOUT = 600.0
_FDS_PER_MESSAGE = 200  # the kernel passes at most 253 descriptors in one message

SUFFIX = ".jnl"
_TMP_AGE = 60.0  # seconds after which an unnamed journal file is a dead writer's
UNSTORABLE = "unstorable"
_MAGIC = b"PLJ1"
_HEADER = struct.Struct("<4sII")  # magic, payload length, CRC-32 of the payload

Write = Callable[[list[Item]], object]
Group = Sequence[Item | Unbuilt]


# ---- records ---------------------------------------------------------------------------------
def encode(group: Group) -> bytes:
    """One record: the header, then the group pickled."""
    payload = pickle.dumps(list(group), protocol=5)
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes) -> tuple[list[bytes], int]:
    """The whole records at the start of ``data`` (as encoded) and the bytes they span;
    reading stops at the first record that is cut short or fails its checksum."""
    records: list[bytes] = []
    pos, size = 0, _HEADER.size
    while pos + size <= len(data):
        magic, n, crc = _HEADER.unpack_from(data, pos)
        end = pos + size + n
        if magic != _MAGIC or end > len(data) or zlib.crc32(data[pos + size : end]) != crc:
            break
        records.append(data[pos:end])
        pos = end
    return records, pos


def decode(record: bytes, where: str) -> list[Item | Unbuilt]:
    """The group of a record from :func:`read_records`."""
    try:
        group = _Unpickler(io.BytesIO(record[_HEADER.size :])).load()
    except Exception as exc:
        raise StoreError(f"{where}: unreadable journal record: {exc}") from None
    if not isinstance(group, list) or not all(isinstance(i, Item | Unbuilt) for i in group):
        raise StoreError(f"{where}: a journal record holds no requests")
    return group


class _Unpickler(pickle.Unpickler):
    """Admits only what a journal record is made of: the store's item classes and the
    numpy, pyarrow and polars objects inside them."""

    _MODULES = ("numpy", "pyarrow", "polars", "profilelab.model", "profilelab.store.prepare")
    _BUILTINS = frozenset({"bytearray", "complex", "frozenset", "set", "slice", "range"})

    def find_class(self, module: str, name: str) -> object:
        top_ok = any(module == m or module.startswith(m + ".") for m in self._MODULES)
        if top_ok or (module == "builtins" and name in self._BUILTINS):
            return super().find_class(module, name)
        if module in ("copyreg", "collections", "datetime"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a journal record may not hold {module}.{name}")


# ---- storing records -------------------------------------------------------------------------
def store_files(
    write: Write,
    records: Sequence[tuple[bytes, Group]],
    paths: Sequence[Path],
    folder: Path,
    log: Callable[[str], None],
) -> None:
    """Store ``records`` (:func:`store_records`), then delete the journal files ``paths``
    that hold just those records (one already gone is fine: a failed attempt deleted it)."""
    if records:
        store_records(write, records, folder, log)
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if paths:
        _fs.fsync_dir(folder)


def store_records(
    write: Write,
    records: Sequence[tuple[bytes, Group]],
    where: Path,
    log: Callable[[str], None],
) -> None:
    """Store the groups of ``records`` in one commit. When that fails for the data (not
    the store: OSError and StoreError propagate), each record is stored alone and a record
    that still fails is moved to ``journal/unstorable/`` (acknowledged data is kept)."""
    try:
        write(built([item for _, group in records for item in group]))
        return
    except (OSError, StoreError):
        raise
    except Exception:
        if len(records) == 1:
            _set_aside(records[0][0], where, log, sys.exc_info()[1])
            return
    for record, group in records:
        try:
            write(built(group))
        except (OSError, StoreError):
            raise
        except Exception as exc:
            _set_aside(record, where, log, exc)


def _set_aside(record: bytes, where: Path, log: Callable[[str], None], exc: object) -> None:
    folder = where / UNSTORABLE
    _fs.ensure_dir(folder, where.parent)
    final = folder / _new_name()
    _fs.write_atomic(final, lambda fh: fh.write(record))
    log(f"{final}: a journaled request could not be stored ({exc}); kept here")


def _new_name() -> str:
    return f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"


def _stderr(text: str) -> None:
    print(f"profilelab store: {text}", file=sys.stderr, flush=True)


# ---- recovery and waiting --------------------------------------------------------------------
def recover(
    root: Path, write: Write, *, wait: bool = False, own: frozenset[str] = frozenset()
) -> set[str]:
    """Store the records of every journal file whose writer is gone, then delete it.

    Files whose writer is alive (it holds their lock) are left to it; with ``wait``, this
    waits (up to :data:`WAIT_FOLDED` seconds) until their writer has folded them. ``own``:
    names of files to skip (this process's own journal files, and those it may not
    store). Returns the names of the files this process may not store (no write access),
    each said once on stderr and left for a writer.
    """
    folder = root / layout.JOURNAL
    refused: set[str] = set()
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return refused
    deadline = time.monotonic() + WAIT_FOLDED
    for name in names:
        if name in own or not (name.endswith(SUFFIX) or name.endswith(_fs.TMP_SUFFIX)):
            continue
        path = folder / name
        while True:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                break  # folded meanwhile
            try:
                if _fs.try_lock(fd):
                    if os.fstat(fd).st_nlink:
                        _recover_file(path, fd, write)
                    break
            except PermissionError as exc:  # a reader without write access to the store
                _stderr(f"{path}: cannot store this journal of a receiver that is gone: {exc}")
                refused.add(name)
                break
            finally:
                os.close(fd)
            if not wait or not name.endswith(SUFFIX):
                break
            if time.monotonic() > deadline:
                raise StoreError(
                    f"{path}: the receiver writing this journal has not stored it in "
                    f"{WAIT_FOLDED:.0f}s; the latest requests it acknowledged are not visible yet"
                )
            time.sleep(0.01)
    return refused


def pending(root: Path) -> bool:
    """Whether the store has journal files (cheap: one directory listing)."""
    try:
        return any(n.endswith(SUFFIX) for n in os.listdir(root / layout.JOURNAL))
    except FileNotFoundError:
        return False


def _recover_file(path: Path, fd: int, write: Write) -> None:
    """Store a dead writer's journal file (locked by us through ``fd``) and delete it."""
    if path.name.endswith(_fs.TMP_SUFFIX):  # a journal file never given its name: empty
        # (a live writer holds it unlocked for an instant between creating and locking it)
        if time.time() - os.fstat(fd).st_mtime > _TMP_AGE:
            path.unlink()
        return
    groups = file_groups(path, fd, _stderr)
    if groups:
        store_records(write, groups, path.parent, _stderr)
    path.unlink()
    _fs.fsync_dir(path.parent)


def file_groups(
    path: Path, fd: int, log: Callable[[str], None]
) -> list[tuple[bytes, list[Item | Unbuilt]]]:
    """The records of the journal file open as ``fd`` (read from its start, whatever its
    offset), each with its group; a torn tail is cut and reported, and a record that
    cannot be read is set aside (``journal/unstorable/``)."""
    data = bytearray()
    while chunk := os.pread(fd, 1 << 20, len(data)):
        data += chunk
    records, good = read_records(bytes(data))
    if good < len(data):
        log(
            f"{path}: cut {len(data) - good} bytes after byte {good}: a record torn by a "
            "crash during an append (never acknowledged)"
        )
    groups = []
    for record in records:
        try:
            groups.append((record, decode(record, str(path))))
        except StoreError as exc:  # another profilelab version's, or not ours at all
            _set_aside(record, path.parent, log, exc)
    return groups


# ---- a writer's journal ----------------------------------------------------------------------
class _File:
    """A journal file this process created, locked and appends to."""

    def __init__(self, folder: Path) -> None:
        final = folder / _new_name()
        tmp = _fs.temp_name(final)
        # created under a temporary name and locked before it is given its real name: a
        # recovering process never sees it unlocked; readable: its fold process reads it
        # through this descriptor
        self.fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            os.rename(tmp, final)
            _fs.fsync_dir(folder)
        except BaseException:
            os.close(self.fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self.path = final
        self.size = 0

    def append(self, data: bytes) -> None:
        """Write and fdatasync ``data``; on failure cut the file back to its last record."""
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
            os.fdatasync(self.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.size)
            raise
        self.size += len(data)

    def close(self) -> None:
        os.close(self.fd)  # releases the lock


class Journal:
    """One writer's journal in ``root``, and its fold thread (see the module docstring).

    ``write`` commits built items (:meth:`StoreDirectory.write`); :meth:`append` makes a
    group of requests durable, :meth:`flush` waits until everything appended so far is in
    the store's segments, :meth:`close` folds what is left and stops.
    """

    def __init__(
        self,
        root: Path,
        write: Write,
        *,
        fold_delay: float | None = None,
        fold_items: int | None = None,
        fold_process: bool | None = None,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        self.root = root
        self.folder = root / layout.JOURNAL
        _fs.ensure_dir(self.folder, root)
        self._write = write
        self.fold_delay = FOLD_DELAY if fold_delay is None else fold_delay
        self.fold_items = FOLD_ITEMS if fold_items is None else fold_items
        self._log = log
        self._cond = threading.Condition()
        self._file: _File | None = None  # the file appended to
        self._sealed: list[_File] = []  # earlier files, every record of them in _pending
        self._pending: list[tuple[bytes, Group]] = []  # appended, not folded yet
        self._since: float | None = None  # when the oldest pending record was appended
        self._appended = 0  # records appended
        self._folded = 0  # records stored (or set aside)
        self._attempts = 0  # folds tried
        self._error: BaseException | None = None  # of the last fold, when it failed
        self._flush = False
        self._closing = False
        self.folds = 0  # commits made by folding
        self._process = FOLD_PROCESS if fold_process is None else fold_process
        self._folder: _Folder | None = None  # the fold process, once started
        self._thread = threading.Thread(target=self._run, name="store-fold", daemon=True)
        self._thread.start()

    def names(self) -> frozenset[str]:
        """The names of this journal's files right now."""
        with self._cond:
            files = self._sealed + ([self._file] if self._file else [])
            return frozenset(f.path.name for f in files)

    def append(self, groups: Sequence[Group]) -> None:
        """Make ``groups`` durable: one write and one fdatasync for all of them."""
        records = [encode(g) for g in groups]
        with self._cond:
            if self._closing:
                raise StoreError("the store writer is shut down")
            if self._file is None:
                self._file = _File(self.folder)
            try:
                self._file.append(b"".join(records))
            except BaseException:
                self._sealed.append(self._file)  # its state is unknown: append no more
                self._file = None
                raise
            self._pending.extend(zip(records, groups, strict=True))
            self._appended += len(records)
            if self._since is None:
                self._since = time.monotonic()
            if len(self._pending) >= self.fold_items:
                self._cond.notify_all()

    def flush(self) -> None:
        """Return once every record appended before the call is stored in segments;
        StoreError when a fold fails meanwhile."""
        with self._cond:
            target, attempts = self._appended, self._attempts
            while self._folded < target:
                if self._error is not None and self._attempts > attempts:
                    raise StoreError(f"the journal could not be stored: {self._error}")
                if not self._thread.is_alive():
                    raise StoreError("the journal's fold thread has stopped")
                self._flush = True
                self._cond.notify_all()
                self._cond.wait(0.1)

    def close(self) -> None:
        """Fold everything appended, then stop. Files a failed fold leaves behind are
        stored by the next process that opens the store."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        if self._folder is not None:
            self._folder.close()
            self._folder = None
        with self._cond:
            for f in self._sealed + ([self._file] if self._file else []):
                f.close()
            self._sealed, self._file = [], None

    @property
    def fold_pid(self) -> int | None:
        """The process id of the fold process (None: folding on this process's thread)."""
        return self._folder.proc.pid if self._folder is not None else None

    def _due(self) -> bool:
        if self._closing or self._flush:
            return True
        if not self._pending or self._since is None:
            return False
        return len(self._pending) >= self.fold_items or (
            time.monotonic() - self._since >= self.fold_delay
        )

    def _run(self) -> None:
        # the fold process starts with the journal, not at the first fold: its start-up
        # (importing Python, NumPy, Polars, the readers) overlaps the receiver's idle time
        # instead of landing in the middle of its first busy second
        self._start_folder()
        retry_at = 0.0
        while True:
            with self._cond:
                while not self._due() or (time.monotonic() < retry_at and not self._closing):
                    wait = self.fold_delay
                    if self._since is not None:
                        wait = max(0.001, self._since + self.fold_delay - time.monotonic())
                    self._cond.wait(max(wait, retry_at - time.monotonic()))
                closing = self._closing
                records, self._pending, self._since = self._pending, [], None
                files = self._sealed + ([self._file] if self._file else [])
                self._sealed, self._file = [], None
                self._flush = False
            error = self._fold(records, files)
            with self._cond:
                self._attempts += 1
                self._error = error
                if error is None:
                    self._folded += len(records)
                else:  # keep everything for the next attempt (or the next process)
                    self._pending = records + self._pending
                    self._since = self._since or time.monotonic()
                    self._sealed = files + self._sealed
                    retry_at = time.monotonic() + RETRY_DELAY
                self._cond.notify_all()
                if closing:
                    return

    def _fold(self, records: list[tuple[bytes, Group]], files: list[_File]) -> BaseException | None:
        """Store ``records`` and delete ``files`` (which hold just those records)."""
        try:
            if not (records and self._fold_elsewhere(files)):
                paths = [f.path for f in files]
                store_files(self._write, records, paths, self.folder, self._log)
            if records:
                self.folds += 1
        except Exception as exc:
            self._log(f"storing the journal failed (retrying): {exc}")
            return exc
        for f in files:
            f.close()
        return None

    def _fold_elsewhere(self, files: list[_File]) -> bool:
        """Have the fold process store and delete ``files``: True once it has, False when
        there is none (this thread folds); StoreError when it failed (to retry)."""
        if not self._start_folder():
            return False
        assert self._folder is not None
        try:
            for start in range(0, len(files), _FDS_PER_MESSAGE):
                self._folder.fold(files[start : start + _FDS_PER_MESSAGE])
            return True
        except OSError as exc:  # it is gone or hung: it is never restarted
            why = "did not answer in time" if isinstance(exc, TimeoutError) else f"stopped ({exc})"
            self._log(f"the journal's fold process {why}; folding in this process")
            self._process = False
            if self._folder is not None:
                self._folder.close(kill=isinstance(exc, TimeoutError))
                self._folder = None
            return False

    def _start_folder(self) -> bool:
        """Start the fold process unless it runs (True) or folding stays on this thread
        (False: none wanted, or it cannot start; it is never restarted)."""
        if not self._process:
            return False
        if self._folder is None:
            try:
                self._folder = _Folder(self.root)
            except OSError as exc:
                self._log(f"the journal's fold process cannot start ({exc}); folding here")
                self._process = False
                return False
        return True


class _Folder:
    """The fold process of a journal (:mod:`profilelab.store._fold`), and its socket.

    Each fold sends the names of the files to store with their descriptors (so the child
    holds the files' locks too: were this process killed, another one opening the store
    waits for the child instead of storing the same files beside it) and waits for the
    answer: ``ok`` once the records are committed and the files deleted, else the error.
    """

    def __init__(self, root: Path) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # the child imports the profilelab this process runs, wherever it comes from
        env = dict(os.environ)
        where = str(Path(__file__).resolve().parents[2])  # holds profilelab/store/journal.py
        env["PYTHONPATH"] = os.pathsep.join(p for p in (where, env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "profilelab.store._fold", str(root), str(theirs.fileno())]
        try:
            self.proc = subprocess.Popen(
                cmd, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.used = False  # handed files to store (until then it holds none of ours)

    def fold(self, files: Sequence[_File]) -> None:
        """Have the child store ``files`` in one commit and delete them: StoreError with its
        reason when it could not, ConnectionError when it is gone, TimeoutError when it
        has not answered within :data:`FOLD_TIMEOUT` seconds."""
        names = "/".join(f.path.name for f in files).encode()
        self.sock.settimeout(FOLD_TIMEOUT)
        self.used = True
        socket.send_fds(self.sock, [names], [f.fd for f in files])
        answer = self.sock.recv(1 << 16)
        if not answer:
            raise ConnectionError(f"it exited with status {self.proc.poll()}")
        if answer != b"ok":
            raise StoreError(answer.decode("utf-8", "replace"))

    def close(self, *, kill: bool = False) -> None:
        """End the child (it exits when its socket closes; ``kill``: at once, it is hung)
        and wait for it. A child never handed a fold is ended at once too: it holds none
        of this journal's files, and a receiver closed soon after it started should not
        wait for the child's start-up (about a second of CPU)."""
        self.sock.close()
        if kill or not self.used:
            self.proc.kill()
        try:
            self.proc.wait(timeout=WAIT_FOLDED)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
