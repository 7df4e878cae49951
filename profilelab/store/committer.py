"""Group commit: many producers (HTTP handlers, scrapers) share one writer thread.

Each producer submits its items and waits on a future. The writer thread takes whatever
is queued (up to ``max_items``, waiting at most ``max_delay`` seconds for more once it has
some; requests that arrive during a commit wait for the next one, so batches grow by
themselves under load), writes it as one commit and resolves every future with that
commit's result: a producer learns its profiles are durable only after the catalog
rename and fsync. One commit per request would mean one segment (a dozen files) each.
A batch whose commit fails is retried one request per commit, so a request the store
cannot take fails alone.

A producer may also submit :class:`~profilelab.store.prepare.Unbuilt` inputs (decoded,
not yet built into tables): they are built together with the rest of their commit.

With ``journal=True`` (the receivers), a batch is not a commit but one append to the
store's journal (:mod:`profilelab.store.journal`, one fdatasync): the futures resolve once
it is durable, and the journal's fold thread stores the journaled requests in segments
in large commits, where building hundreds of small inputs together costs a fraction of
a millisecond each. Their results then carry no segment (``journaled`` is true).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from profilelab.errors import StoreError
from profilelab.store.journal import Journal
from profilelab.store.prepare import Item, Unbuilt, built
from profilelab.store.store import CommitResult, Store

__all__ = ["GroupCommitter", "Unbuilt"]


@dataclass
class _Request:
    items: Sequence[Item | Unbuilt]
    future: Future[CommitResult]


class GroupCommitter:
    """Batches items from many threads into few commits; see the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        max_items: int = 512,
        max_delay: float = 0.002,
        max_pending: int = 4096,
        coming: Callable[[], int] | None = None,
        max_wait_coming: float = 0.02,
        journal: bool = False,
    ) -> None:
        """``coming`` (optional) tells how many submissions are on their way (e.g. requests
        being decoded): a commit waits up to ``max_wait_coming`` seconds for them, since
        one larger commit costs much less than several small ones. ``journal``: append
        batches to the store's journal instead of committing each (module docstring)."""
        self.store = store
        self.max_items = max_items
        self.max_delay = max_delay
        self.coming = coming
        self.max_wait_coming = max_wait_coming
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_pending)
        self._closed = False
        self.commits = 0  # commits, or appends to the journal
        self.journal: Journal | None = None
        if journal:
            self.journal = Journal(store.root, store.write)
            store.attach_journal(self.journal)
        self._thread = threading.Thread(target=self._run, name="store-committer", daemon=True)
        self._thread.start()

    def submit(
        self, items: Sequence[Item | Unbuilt], timeout: float | None = None
    ) -> Future[CommitResult]:
        """Queue ``items`` for the next commit; the future resolves once they are durable.

        Raises StoreError when closed, or when the queue stays full for ``timeout`` seconds
        (the store cannot keep up: callers should answer "try again later").
        """
        if self._closed:
            raise StoreError("the store writer is shut down")
        fut: Future[CommitResult] = Future()
        try:
            self._queue.put(_Request(items, fut), timeout=timeout)
        except queue.Full:
            raise StoreError("the store writer is overloaded; retry later") from None
        return fut

    def write(self, items: Sequence[Item | Unbuilt], timeout: float | None = None) -> CommitResult:
        """Submit and wait for the commit."""
        return self.submit(items, timeout).result()

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread (and store the journal)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
            if self.journal is not None:
                self.journal.close()
                self.store.detach_journal(self.journal)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = self._gather(batch)
            self._commit(batch)
            if stop:
                return

    def _gather(self, batch: list[_Request]) -> bool:
        """Add queued requests to ``batch``; True when the shutdown marker was seen."""
        start = time.monotonic()
        deadline = start + self.max_delay
        n = len(batch[0].items)
        while n < self.max_items:
            try:
                req = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                if self.coming is None or not self.coming():
                    return False
                if time.monotonic() - start >= self.max_wait_coming:
                    return False
                deadline = time.monotonic() + 0.001
                continue
            if req is None:
                return True
            batch.append(req)
            n += len(req.items)
        return False

    def _commit(self, batch: list[_Request]) -> None:
        """One commit for the batch; when it fails, one per request, so that a request that
        cannot be stored fails alone and never takes the others' profiles with it."""
        try:
            if self.journal is not None:
                self.journal.append([req.items for req in batch])
                result = CommitResult(None, inputs=sum(len(r.items) for r in batch), journaled=True)
            else:
                result = self.store.write(built([item for req in batch for item in req.items]))
        except BaseException as exc:  # every waiter must hear about the failure
            if len(batch) > 1 and isinstance(exc, Exception):
                for req in batch:
                    self._commit([req])
                return
            for req in batch:
                req.future.set_exception(exc)
            return
        self.commits += 1
        for req in batch:
            req.future.set_result(result)
