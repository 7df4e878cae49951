"""The catalog: which profiles a store holds, and which files hold them.

Each commit writes one catalog file, ``catalog/<segment>.parquet``: one row per stored
profile (the canonical ``profiles`` columns plus the store's own, :data:`EXTRA`) and, in
the Parquet key-value metadata, the segment's record (:class:`Segment`): every data file it
references and the segments it replaces (compaction, retention). The rename that makes a
catalog file appear is the commit point: data files are written and renamed first, so a
committed catalog only ever names complete files, and files no live catalog names are
invisible garbage (left by a crash) that the next writer deletes.

The live set: every committed segment that no other committed segment replaces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from profilelab.errors import StoreError
from profilelab.model import schema
from profilelab.store import layout

#: Columns the catalog adds to the canonical ``profiles`` columns.
EXTRA: dict[str, pl.DataType] = {
    "name": pl.Utf8(),  # profile name: cpu, heap, goroutine, ... (see store.types)
    "profile_type": pl.Utf8(),  # name:sample_type:sample_unit
    "service": pl.Utf8(),  # partition value ("unknown" when the profile has no service label)
    "date": pl.Utf8(),  # UTC date of time_ns, YYYY-MM-DD (partition value)
    "input_id": pl.Int64(),  # digest of the input's bytes: re-ingesting it is a no-op
    "segment": pl.Utf8(),  # the commit whose catalog file holds this row
    "samples_file": pl.Utf8(),  # relative path of the samples file, null without samples
    # the functions file beside it (store.functions), null for profiles stored before it
    "functions_file": pl.Utf8(),
    "n_samples": pl.Int64(),
    "total": pl.Int64(),  # sum of the samples' values (completeness check, quick totals)
    "ingested_ns": pl.Int64(),
    # the row's position among its input's profiles (a query gives them back in that order:
    # it decides which type is an input's first, as loading the input does)
    "input_position": pl.Int32(),
    # the input's mappings in its order; the first is pprof's main binary (File, Build ID)
    "mapping_ids": pl.List(pl.Int64()),
}
CATALOG: dict[str, pl.DataType] = {**schema.PROFILES, **EXTRA}
_META_KEY = b"profilelab.segment"
_READERS = 4  # catalog files read at once


@dataclass(frozen=True)
class Segment:
    """One commit: its id, the data files it references, and the segments it replaces."""

    id: str
    files: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    created_ns: int = 0

    def to_json(self) -> bytes:
        record = {
            "id": self.id,
            "files": list(self.files),
            "replaces": list(self.replaces),
            "created_ns": self.created_ns,
            "version": layout.VERSION,
        }
        return json.dumps(record, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Segment:
        try:
            r = json.loads(data)
            return cls(r["id"], tuple(r["files"]), tuple(r["replaces"]), int(r["created_ns"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{where}: damaged segment record: {exc}") from None


@dataclass
class Snapshot:
    """The live state of a store at one moment: segments and their profile rows."""

    segments: dict[str, Segment] = field(default_factory=dict)
    catalog: pl.DataFrame = field(default_factory=lambda: empty())
    replaced: frozenset[str] = frozenset()  # committed, but superseded (garbage once deleted)

    def files(self, prefix: str = "") -> list[str]:
        """Sorted live data files whose relative path starts with ``prefix``."""
        return sorted({f for s in self.segments.values() for f in s.files if f.startswith(prefix)})

    def live_files(self) -> set[str]:
        files = {f for s in self.segments.values() for f in s.files}
        return files | {layout.catalog_path(s) for s in self.segments}

    def input_ids(self) -> set[int]:
        return set(self.catalog["input_id"].drop_nulls().to_list())

    def stored_inputs(self, ids: Iterable[int]) -> set[int]:
        """Those of ``ids`` the store holds (without making a set of every stored input)."""
        wanted = pl.Series(list(ids), dtype=pl.Int64)
        return set(wanted.filter(wanted.is_in(self.catalog["input_id"].implode())).to_list())


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=CATALOG)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    exprs = [
        (pl.col(n) if n in df.columns else pl.lit(None)).cast(t).alias(n)
        for n, t in CATALOG.items()
    ]
    return df.select(exprs)


def to_arrow(rows: pl.DataFrame, segment: Segment) -> pa.Table:
    """The catalog file's table: the rows, with the segment record in the schema metadata."""
    table = conform(rows).to_arrow()
    return table.replace_schema_metadata({_META_KEY: segment.to_json()})


class CatalogReader:
    """Reads catalog files, caching them by name (a committed catalog file never changes).

    The last snapshot is kept too: when the only change since is new catalog files that
    sort after every file it holds and replace nothing (the commits of a writer), the next
    snapshot appends their rows instead of concatenating and deduplicating the whole
    catalog again, so a commit's cost does not grow with the store.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, tuple[Segment, pl.DataFrame]] = {}
        self._last: tuple[list[str], Snapshot] | None = None
        self._replaced: frozenset[str] = frozenset()  # ids replaced, as of the last whole snapshot

    def snapshot(self) -> Snapshot:
        names = self._list()
        for gone in set(self._cache) - set(names):
            del self._cache[gone]
        todo = [name for name in names if name not in self._cache]
        # a fresh process reads every catalog file: several at once (Arrow's Parquet
        # reader releases the GIL)
        with ThreadPoolExecutor(min(_READERS, len(todo) or 1)) as pool:
            for name, loaded in zip(todo, pool.map(self._read, todo), strict=True):
                if loaded is not None:
                    self._cache[name] = loaded
        names = [n for n in names if n in self._cache]
        snap = self._appended(names)
        if snap is None:
            snap = self._whole(names)
        self._last = (names, snap)
        return snap

    def _whole(self, names: list[str]) -> Snapshot:
        committed = {seg.id: (seg, df) for seg, df in (self._cache[n] for n in names)}
        replaced = frozenset(r for seg, _ in committed.values() for r in seg.replaces)
        live = {k: v for k, v in sorted(committed.items()) if k not in replaced}
        frames = [df for _, df in live.values() if df.height]
        rows = pl.concat(frames, how="vertical") if frames else empty()
        # a profile in two live segments (a commit and a compaction racing) counts once;
        # the mask is cheap, a unique over the nested columns is not (seconds at 100k rows)
        first = rows.get_column("profile_id").is_first_distinct()
        if not first.all():
            rows = rows.filter(first)
        self._replaced = replaced
        return Snapshot(
            segments={k: seg for k, (seg, _) in live.items()},
            catalog=rows,
            replaced=replaced & set(committed),
        )

    def _appended(self, names: list[str]) -> Snapshot | None:
        """The last snapshot plus the catalog files added since, or None when the change is
        not only such additions (the whole snapshot is then made again)."""
        if self._last is None:
            return None
        before, last = self._last
        if names[: len(before)] != before:
            return None
        added = [self._cache[n] for n in names[len(before) :]]
        if not added:
            return last
        segments = dict(last.segments)
        for name, (seg, _) in zip(names[len(before) :], added, strict=True):
            # sorted after every file before it (as the whole snapshot orders segments)
            if seg.replaces or name != f"{seg.id}.parquet" or seg.id in self._replaced:
                return None
            segments[seg.id] = seg
        rows = pl.concat([df for _, df in added if df.height] or [empty()], how="vertical")
        rows = rows.filter(rows.get_column("profile_id").is_first_distinct())
        if last.catalog.height and rows.height:
            rows = rows.filter(~pl.col("profile_id").is_in(last.catalog["profile_id"].implode()))
        cat = pl.concat([last.catalog, rows], how="vertical", rechunk=False)
        if cat.n_chunks() > _MAX_CHUNKS:
            cat = cat.rechunk()
        return Snapshot(segments=segments, catalog=cat, replaced=last.replaced)

    def _list(self) -> list[str]:
        try:
            entries = os.listdir(self.root / layout.CATALOG)
        except FileNotFoundError:
            return []
        return sorted(e for e in entries if e.endswith(".parquet") and not e.startswith("."))

    def _read(self, name: str) -> tuple[Segment, pl.DataFrame] | None:
        path = self.root / layout.CATALOG / name
        try:
            # ParquetFile, not read_table: that one imports pyarrow.dataset and pandas
            # (seconds, the largest part of a fresh process's first snapshot)
            with pq.ParquetFile(path) as fh:
                table = fh.read()
        except FileNotFoundError:
            return None  # deleted by a compaction between the listing and the read
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"{path}: unreadable catalog file: {exc}") from None
        return _parse(table, path)

    def remember(self, name: str, table: pa.Table) -> None:
        """Cache the catalog file ``name`` this process has just committed with ``table``
        (its content), so that the next snapshot need not read it back."""
        self._cache[name] = _parse(table, self.root / layout.CATALOG / name)


#: Chunks of an appended snapshot's catalog before it is made contiguous again.
_MAX_CHUNKS = 64


def _parse(table: pa.Table, path: Path) -> tuple[Segment, pl.DataFrame]:
    meta = (table.schema.metadata or {}).get(_META_KEY)
    if meta is None:
        raise StoreError(f"{path}: catalog file without a segment record")
    seg = Segment.from_json(meta, str(path))
    df = pl.from_arrow(table.replace_schema_metadata(None))
    assert isinstance(df, pl.DataFrame)
    # a file of this version has the catalog's columns already (casting them costs more
    # than reading a small file); older files get the columns added since
    same = df.columns == list(CATALOG) and df.dtypes == list(CATALOG.values())
    return seg, df if same else conform(df)
