"""The fold process of a receiver's journal (``python -m profilelab.store._fold ROOT FD``).

A receiver's fold thread (:class:`profilelab.store.journal.Journal`) sends this process the
names of journal files it has finished appending to, with their descriptors, over the
socket ``FD``. This process stores their records in one commit
(:func:`profilelab.store.journal.store_files`, as the thread would), deletes the files,
and answers ``ok`` (or the error, on one line). Building the tables and writing the
segment then never hold the receiver's GIL. It exits when the socket closes: the receiver
closed its journal, or died (the descriptors it holds keep the files locked until the
fold in progress is done, so nobody else stores them meanwhile).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import sys
from pathlib import Path

from profilelab.errors import ProfileLabError
from profilelab.store import journal, layout
from profilelab.store.store import open_store


def fold(write: journal.Write, folder: Path, names: list[str], fds: list[int]) -> bytes:
    """Store the journal files ``names`` (open as ``fds``) in one commit, then delete them;
    the answer to send."""
    if len(names) != len(fds) or any("/" in n or not n.endswith(journal.SUFFIX) for n in names):
        return b"error: a fold request must name one journal file per descriptor"
    try:
        records = []
        for name, fd in zip(names, fds, strict=True):
            records += journal.file_groups(folder / name, fd, journal._stderr)
        paths = [folder / name for name in names]
        journal.store_files(write, records, paths, folder, journal._stderr)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        return f"error: {text[0] if text else type(exc).__name__}".encode()
    return b"ok"


#: How much lower than the receiver this process runs (``os.nice``): when both want the
#: same core, the receiver answering its clients gets it; the fold waits (the journal
#: keeps what it has not stored yet, durable).
NICE = 5
#: What folding received OTLP exports imports on first use (about 0.3 s of CPU): the OTLP
#: reader and the decoders it imports when it first reads, ``readers.read``'s sum check,
#: the table builder, Arrow's compute functions (concatenating several records' tables) and
#: SciPy's sparse matrices (the function index's ``core.aggregate.flat_cum``). The fold
#: process imports them before its first request (tests/test_store_journal.py checks
#: that a fold then imports nothing more).
_FOLD_MODULES = (
    "profilelab.readers.otlp",
    "profilelab.readers._otlp_binary",
    "profilelab.readers._otlp_json",
    "profilelab.readers._otlp_raw",
    "profilelab.readers._overflow",
    "profilelab.model.builder",
    "profilelab.store.writer",
    "pyarrow.compute",
    "scipy.sparse",
)


def warm() -> None:
    """Import what a fold imports, so that the first fold costs what the others do."""
    for name in _FOLD_MODULES:
        importlib.import_module(name)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the receiver's to handle
    root, fd = Path(argv[0]), int(argv[1])
    sock = socket.socket(fileno=fd)
    with contextlib.suppress(OSError):
        os.nice(NICE)
    try:
        store = open_store(root, create=False)
    except ProfileLabError as exc:
        print(f"profilelab store: {exc}", file=sys.stderr, flush=True)
        return 1
    warm()
    folder = root / layout.JOURNAL
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1 << 16, 256)
        except OSError:
            return 0
        if not message:
            return 0  # the receiver closed its journal, or is gone
        try:
            answer = fold(store.write, folder, message.decode("utf-8", "replace").split("/"), fds)
        finally:
            for f in fds:
                os.close(f)
        try:
            sock.send(answer)
        except OSError:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
