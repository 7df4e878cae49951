"""A store's directory: its marker, its live snapshot, and atomic commits under its lock.

Readers take a snapshot (the live catalog files) and read only the files it names, so they
never see a partial commit and never lock. Writers serialize their commits with an
exclusive ``flock`` on ``STORE/.lock``; a commit is one :class:`~catalog.Segment`.
:class:`StoreDirectory` is what ``ingest``, ``query`` and ``maintenance`` work on; the
:class:`~profilelab.store.store.Store` users open adds their entry points on top of it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from profilelab.errors import StoreError
from profilelab.model.profile import Profile
from profilelab.store import _fs, dictionaries, functions, journal, layout, prepare, writer
from profilelab.store.catalog import CatalogReader, Snapshot
from profilelab.store.prepare import Item


@dataclass
class CommitResult:
    """What one commit stored."""

    segment: str | None  # None when nothing was new
    profiles: int = 0  # catalog rows written
    inputs: int = 0  # inputs stored
    skipped: int = 0  # inputs already in the store (same bytes)
    samples: int = 0
    profile_ids: list[int] = field(default_factory=list)
    #: durable in the store's journal, to be stored in a segment later (store/journal.py)
    journaled: bool = False


class StoreDirectory:
    """The files of a store: open (or create) it, read snapshots, commit atomically."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.root = Path(path).resolve()
        self._init(create)
        self._reader = CatalogReader(self.root)
        self._mutex = threading.RLock()
        self._known = _KnownIds()
        self._seen = functions.Seen(self._stored_rows)
        self._collected = False
        self._journals: list[journal.Journal] = []  # this process's receivers' journals
        self._refused: set[str] = set()  # journal files this process may not store
        self._local = threading.local()  # .writing: this thread holds the writers' lock
        if journal.pending(self.root):  # requests a receiver that is gone acknowledged
            self._refused = journal.recover(self.root, self.write)

    # ---- opening ----------------------------------------------------------------------------
    def _init(self, create: bool) -> None:
        marker = self.root / layout.MARKER
        if marker.is_file():
            _check_marker(marker)
            return
        if not create:
            raise StoreError(f"{self.root}: no profilelab store here (missing {layout.MARKER})")
        self._refuse_foreign()
        self.root.mkdir(parents=True, exist_ok=True)
        # Several processes may create the same store at once (two ingests starting
        # together): the first to hold the writers' lock writes the marker, the others then
        # find it. Only the lock file and a crashed creator's temporary marker may be there.
        with _fs.locked(self.root / layout.LOCK):
            if marker.is_file():
                _check_marker(marker)
                return
            self._refuse_foreign()
            record = {"format": layout.FORMAT, "version": layout.VERSION}
            data = json.dumps(record).encode() + b"\n"
            _fs.write_atomic(marker, lambda fh: fh.write(data))

    def _refuse_foreign(self) -> None:
        """StoreError when ``root`` is a file, or a directory holding anything but a store
        being created."""
        if not self.root.exists():
            return
        if self.root.is_dir():
            # the marker too: another creator may have renamed it into place since this one
            # looked for it (checked under the lock next)
            tmp = _fs.temp_prefix(self.root / layout.MARKER)
            allowed = (layout.LOCK, layout.MARKER)
            if all(e.name in allowed or e.name.startswith(tmp) for e in self.root.iterdir()):
                return
        raise StoreError(
            f"{self.root}: exists and is not a profilelab store (expected an empty "
            f"directory or one with {layout.MARKER})"
        )

    # ---- reading ----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The live segments and catalog rows right now (cheap: catalog files are cached).

        Every request a receiver acknowledged before the call is in it: journaled requests
        (:mod:`profilelab.store.journal`) are folded into segments first, by this
        process's receivers, by their writer in another process (waited for), or here
        when their writer is gone. A writer holding the lock (compaction) skips this.
        """
        if not getattr(self._local, "writing", 0):
            own = frozenset(self._refused)
            for j in list(self._journals):
                j.flush()
                own |= j.names()
            if journal.pending(self.root):
                self._refused |= journal.recover(self.root, self.write, wait=True, own=own)
        with self._mutex:
            return self._reader.snapshot()

    def attach_journal(self, j: journal.Journal) -> None:
        """Let snapshots of this store fold ``j`` (a receiver's journal in this process)."""
        self._journals.append(j)

    def detach_journal(self, j: journal.Journal) -> None:
        self._journals.remove(j)

    # ---- writing ----------------------------------------------------------------------------
    def write(self, items: Sequence[Item]) -> CommitResult:
        """Store ``items`` in one atomic commit, skipping inputs the store already has."""
        with self._writing():
            return self._write(items)

    def _write(self, items: Sequence[Item]) -> CommitResult:
        with self._mutex, _fs.locked(self.root / layout.LOCK):
            snap = self._reader.snapshot()
            if not self._collected:
                writer.collect_garbage(self.root, snap)
                self._collected = True
            fresh = _new_items(items, snap.stored_inputs(i.input_id for i in items))
            result = CommitResult(None, skipped=len(items) - len(fresh))
            if not fresh:
                return result
            rows = prepare.catalog_rows(fresh)
            samples = pl.concat([i.profile.samples for i in fresh], how="vertical")
            self._known.refresh(self.root, snap)
            # dictionary rows of every item, skipped ones included: an ingest worker sends
            # each row once, and a later item may rely on a row that came with a duplicate
            dictionaries = self._known.new_rows([i.profile for i in items])
            self._known.check_references(samples, dictionaries)
            stacks = pl.concat([i.profile.stacks for i in items], how="vertical")
            frames = pl.concat([i.profile.frames for i in items], how="vertical")
            index = functions.index_rows(samples, stacks, frames, self._seen.fetch)
            seg = writer.write_segment(
                self.root,
                rows,
                samples,
                dictionaries,
                committed=self._reader.remember,
                functions=index,
            )
            self._seen.add(stacks, frames)
            self._known.add(dictionaries, seg.files)
            result.segment = seg.id
            result.profiles = rows.height
            result.inputs = len(fresh)
            result.samples = samples.height
            result.profile_ids = rows["profile_id"].to_list()
            return result

    def write_spans(self, spans: pl.DataFrame) -> str | None:
        """Store spans (schema ``SPANS``) in one atomic commit; the segment id (None: empty).

        A span stored twice (a client's retry) is read back once: :class:`Spans` keeps one
        row per span.
        """
        if spans.height == 0:
            return None
        with self._writing(), self._mutex, _fs.locked(self.root / layout.LOCK):
            if not self._collected:
                writer.collect_garbage(self.root, self._reader.snapshot())
                self._collected = True
            return writer.write_spans_segment(self.root, spans).id

    def _stored_rows(self, table: str, ids: pl.Series) -> pl.DataFrame:
        """The rows of dictionary ``table`` with these ids, read from the live files."""
        files = self._reader.snapshot().files(f"{table}/")
        return dictionaries.read_dictionary(self.root, files, table, ids)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writers' lock (this process's threads and every other process): for code
        that rewrites or removes committed files, as compaction and retention do."""
        with self._writing(), self._mutex, _fs.locked(self.root / layout.LOCK):
            yield

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self._local.writing = getattr(self._local, "writing", 0) + 1
        try:
            yield
        finally:
            self._local.writing -= 1

    def files_rewritten(self) -> None:
        """Say that committed files were rewritten or removed (under :meth:`locked`): the
        store's memory of which dictionary rows it holds starts over."""
        self._known = _KnownIds()


def _check_marker(marker: Path) -> None:
    try:
        record = json.loads(marker.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{marker}: unreadable store marker: {exc}") from None
    if record.get("format") != layout.FORMAT:
        raise StoreError(f"{marker}: not a profilelab store marker")
    if int(record.get("version", 0)) > layout.VERSION:
        raise StoreError(
            f"{marker}: store version {record.get('version')} is newer than this profilelab "
            f"reads ({layout.VERSION}); upgrade profilelab"
        )


def _new_items(items: Sequence[Item], present: set[int]) -> list[Item]:
    """Items whose input is neither in the store nor earlier in ``items``."""
    seen = set(present)
    fresh = []
    for item in items:
        if item.input_id in seen:
            continue
        seen.add(item.input_id)
        fresh.append(item)
    return fresh


class _KnownIds:
    """Ids of the dictionary rows (stacks, frames, ...) the store already holds.

    Kept per writer and refreshed from the live dictionary files at each commit, so a new
    commit writes only rows new to the store. When files it counted disappear (compaction
    rewrote them), it starts over.
    """

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.ids: dict[str, pl.Series] = {}

    def refresh(self, root: Path, snap: Snapshot) -> None:
        live = {t: snap.files(f"{t}/") for t in layout.DICTIONARIES}
        if not self.files <= {f for fs in live.values() for f in fs}:
            self.files, self.ids = set(), {}
        for table, key in layout.DICTIONARIES.items():
            new = [f for f in live[table] if f not in self.files]
            if new:
                got = pl.read_parquet([str(root / f) for f in new], columns=[key])[key]
                self.ids[table] = pl.concat([self.ids[table], got]) if table in self.ids else got
                self.files.update(new)

    def new_rows(self, profiles: Sequence[Profile]) -> dict[str, pl.DataFrame]:
        """Each dictionary table's rows over ``profiles`` that the store does not hold yet."""
        out = {}
        for table, key in layout.DICTIONARIES.items():
            df = pl.concat([getattr(p, table) for p in profiles], how="vertical")
            # a label set is several rows under one id: keep whole sets, once
            df = df.unique(maintain_order=True) if table == "labels" else df.unique(key)
            known = self.ids.get(table)
            if known is not None and len(known) and df.height:
                df = df.filter(~pl.col(key).is_in(known.implode()))
            out[table] = df
        return out

    def check_references(self, samples: pl.DataFrame, new: Mapping[str, pl.DataFrame]) -> None:
        """Raise StoreError unless every id the batch refers to is in the batch or the store.

        A commit must never make a profile visible whose stacks, frames, mappings or label
        sets are missing (e.g. rows deleted by a concurrent ``compact --full`` after an
        ingest worker had sent them once).
        """
        refs = {
            "stacks": samples["stack_id"],
            "labels": samples["label_set_id"].filter(samples["label_set_id"] != 0),
            "frames": new["stacks"]["frame_ids"].explode().drop_nulls(),
            "mappings": new["frames"]["mapping_id"].drop_nulls(),
        }
        for table, wanted in refs.items():
            key = layout.DICTIONARIES[table]
            wanted = wanted.unique()
            have = new[table][key]
            missing = wanted.filter(~wanted.is_in(have.implode()))
            known = self.ids.get(table)
            if missing.len() and known is not None:
                missing = missing.filter(~missing.is_in(known.implode()))
            if missing.len():
                raise StoreError(
                    f"{table}: {missing.len()} ids referenced by the profiles being stored are "
                    f"neither in the batch nor in the store (e.g. {missing[0]}); nothing was "
                    "stored — run the ingest again"
                )

    def add(self, rows: Mapping[str, pl.DataFrame], files: Iterable[str]) -> None:
        for table, key in layout.DICTIONARIES.items():
            df = rows.get(table)
            if df is not None and df.height:
                got = df[key].unique()
                self.ids[table] = pl.concat([self.ids[table], got]) if table in self.ids else got
        self.files.update(f for f in files if f.split("/", 1)[0] in layout.DICTIONARIES)
