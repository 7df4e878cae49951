"""Group commit: many producers (HTTP handlers, scrapers) share one writer thread.

Each producer submits its items and waits on a future. The writer thread takes whatever
is queued (up to ``max_items``, waiting at most ``max_delay`` seconds for more once it has
some; requests that arrive during a commit wait for the next one, so batches grow by
themselves under load), writes it as one commit and resolves every future with that
commit's result: a producer learns its profiles are durable only after the catalog
rename and fsync. One commit per request would mean one segment (a dozen files) each.
A batch whose commit fails is retried one request per commit, so a request the store
cannot take fails alone.

A producer may also submit :class:`Unbuilt` inputs (decoded, not yet built into tables):
the writer builds every such input of a batch together, once, right before the commit.
Building the tables of a small profile costs tens of milliseconds alone and a fraction
of a millisecond among hundreds, so a receiver of many small posts decodes each post on
its own and leaves the tables to the batch (see :mod:`profilelab.store.serve`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from profilelab.errors import StoreError
from profilelab.model.raw import RawProfile
from profilelab.store._decode import build_each
from profilelab.store.prepare import Item
from profilelab.store.store import CommitResult, Store


@dataclass
class Unbuilt:
    """An input decoded into RawProfiles whose tables the writer builds with its batch;
    the other fields are :class:`~profilelab.store.prepare.Item`'s."""

    raws: list[RawProfile]
    input_id: int
    labels: Mapping[str, str] | None = None
    default_time_ns: int | None = None
    source: str | None = None

    @property
    def rows(self) -> int:
        """The profile rows it makes (one per sample type)."""
        return sum(len(r.sample_types) for r in self.raws)


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
    ) -> None:
        """``coming`` (optional) tells how many submissions are on their way (e.g. requests
        being decoded): a commit waits up to ``max_wait_coming`` seconds for them, since
        one larger commit costs much less than several small ones."""
        self.store = store
        self.max_items = max_items
        self.max_delay = max_delay
        self.coming = coming
        self.max_wait_coming = max_wait_coming
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_pending)
        self._closed = False
        self.commits = 0
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
        """Commit what is queued, then stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

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
            result = self.store.write(_built([item for req in batch for item in req.items]))
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


def _built(items: list[Item | Unbuilt]) -> list[Item]:
    """``items`` with every Unbuilt one built (all of them together) into an Item."""
    unbuilt = [item for item in items if isinstance(item, Unbuilt)]
    profiles = iter(build_each([u.raws for u in unbuilt]) if unbuilt else [])
    return [
        item
        if isinstance(item, Item)
        else Item(
            next(profiles),
            item.input_id,
            labels=item.labels,
            default_time_ns=item.default_time_ns,
            source=item.source,
        )
        for item in items
    ]
