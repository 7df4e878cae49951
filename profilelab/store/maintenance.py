"""Store maintenance: compaction of small segments, retention by age, garbage collection.

Both operations are ordinary commits: they write a new segment whose record *replaces*
the segments it rewrites, then delete what is no longer live. A crash at any point leaves
either the old segments or the new one live, never both and never neither (readers
ignore replaced segments; the next writer deletes them).

* **compact** merges small segments: their samples are rewritten one file per partition,
  their dictionary rows (stacks, frames, mappings, label sets) one file per table. When it
  rewrites the whole store in one segment it also drops dictionary rows no sample uses any
  more (what retention left behind).
* **retain** drops profiles older than a cutoff: samples files holding only expired
  profiles are dropped, files holding both are rewritten with the kept profiles, and
  dictionary files are kept as they are (other segments may use their rows).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from profilelab.core.timeparse import parse_duration, parse_time
from profilelab.errors import StoreError
from profilelab.model import schema
from profilelab.store import functions, layout, writer
from profilelab.store.catalog import Segment, Snapshot
from profilelab.store.dictionaries import read_dictionary

if TYPE_CHECKING:
    from profilelab.store.directory import StoreDirectory

#: A segment whose files add up to less than this is "small" and gets compacted.
SMALL_BYTES = 32 << 20
#: Most sample rows rewritten into one new segment (bounds compaction memory).
MAX_ROWS = 20_000_000


@dataclass
class CompactReport:
    segments_before: int
    segments_after: int
    files_before: int
    files_after: int
    bytes_before: int
    bytes_after: int
    deleted: int  # files deleted (replaced segments' files and crash leftovers)

    def summary(self) -> str:
        return (
            f"segments {self.segments_before} -> {self.segments_after}, files "
            f"{self.files_before} -> {self.files_after}, bytes {self.bytes_before} -> "
            f"{self.bytes_after}, {self.deleted} files deleted"
        )


@dataclass
class RetainReport:
    cutoff_ns: int
    profiles_dropped: int
    profiles_kept: int
    files_rewritten: int
    deleted: int
    span_files_dropped: int = 0  # spans files whose every span ended before the cutoff

    def summary(self) -> str:
        spans = f", {self.span_files_dropped} span files" if self.span_files_dropped else ""
        return (
            f"dropped {self.profiles_dropped} profiles older than the cutoff{spans}, kept "
            f"{self.profiles_kept}; {self.files_rewritten} files rewritten, "
            f"{self.deleted} files deleted"
        )


def _size(store: StoreDirectory, files: set[str] | list[str]) -> int:
    total = 0
    for f in files:
        try:
            total += os.path.getsize(store.root / f)
        except FileNotFoundError:
            continue
    return total


def compact(
    store: StoreDirectory,
    *,
    full: bool = False,
    small_bytes: int = SMALL_BYTES,
    max_rows: int = MAX_ROWS,
) -> CompactReport:
    """Merge small segments (all segments with ``full``) into as few as ``max_rows`` allows."""
    with store.locked():
        snap = store.snapshot()
        before = snap.live_files()
        report = CompactReport(len(snap.segments), 0, len(before), 0, _size(store, before), 0, 0)
        deleted = writer.collect_garbage(store.root, snap)
        chosen = _choose(store, snap, full, small_bytes)
        groups = _groups(snap, chosen, max_rows) if len(chosen) > 1 else []
        whole = full and len(groups) == 1 and len(groups[0]) == len(snap.segments)
        for group in groups:
            _rewrite(store, snap, group, gc_dictionaries=whole)
        store.files_rewritten()
        snap = store.snapshot()
        deleted += writer.collect_garbage(store.root, snap)
        after = snap.live_files()
        report.segments_after = len(snap.segments)
        report.files_after = len(after)
        report.bytes_after = _size(store, after)
        report.deleted = deleted
        return report


def _choose(store: StoreDirectory, snap: Snapshot, full: bool, small_bytes: int) -> list[Segment]:
    if full:
        return list(snap.segments.values())
    return [s for s in snap.segments.values() if _size(store, list(s.files)) < small_bytes]


def _groups(snap: Snapshot, chosen: list[Segment], max_rows: int) -> list[list[Segment]]:
    """Consecutive segments packed into groups of at most ``max_rows`` sample rows."""
    rows = snap.catalog.group_by("segment").agg(pl.col("n_samples").sum())
    per_seg = dict(zip(rows["segment"].to_list(), rows["n_samples"].to_list(), strict=True))
    groups: list[list[Segment]] = [[]]
    size = 0
    for seg in sorted(chosen, key=lambda s: s.id):
        n = int(per_seg.get(seg.id) or 0)
        if groups[-1] and size + n > max_rows:
            groups.append([])
            size = 0
        groups[-1].append(seg)
        size += n
    return [g for g in groups if len(g) > 1]


def _replaces(group: list[Segment]) -> list[str]:
    """The group and everything it replaced (so no older segment can come back)."""
    return sorted({s.id for s in group} | {r for s in group for r in s.replaces})


def _rewrite(
    store: StoreDirectory, snap: Snapshot, group: list[Segment], gc_dictionaries: bool
) -> Segment:
    ids = {s.id for s in group}
    rows = snap.catalog.filter(pl.col("segment").is_in(list(ids)))
    sample_files = sorted({f for s in group for f in s.files if f.startswith(layout.SAMPLES)})
    samples = _read(store, sample_files, "samples")
    if samples.height:
        samples = samples.filter(pl.col("profile_id").is_in(rows["profile_id"].implode()))
    dictionaries = {}
    for table, key in layout.DICTIONARIES.items():
        files = sorted({f for s in group for f in s.files if f.startswith(f"{table}/")})
        df = _read(store, files, table)
        dictionaries[table] = (
            df.unique(maintain_order=True) if table == "labels" else df.unique(key)
        )
    index = _index(store, snap, rows, samples, dictionaries)
    if gc_dictionaries:
        dictionaries = _referenced(samples, dictionaries)
    rows = rows.with_columns(
        pl.lit(None, pl.Utf8).alias("samples_file"),
        pl.lit(None, pl.Utf8).alias("functions_file"),
        pl.lit(None, pl.Int64).alias("n_samples"),
        pl.lit(None, pl.Int64).alias("total"),
    )
    spans = sorted({f for s in group for f in s.files if f.startswith(f"{layout.SPANS}/")})
    return writer.write_segment(
        store.root,
        rows,
        samples,
        dictionaries,
        replaces=_replaces(group),
        keep_files=spans,
        functions=index,
    )


def _index(
    store: StoreDirectory,
    snap: Snapshot,
    rows: pl.DataFrame,
    samples: pl.DataFrame,
    dictionaries: dict[str, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The function index rows of the profiles of ``rows`` (``samples``: theirs): read from
    their functions files, and computed from their samples for profiles stored before the
    index (so a compaction gives an older store its index)."""
    indexed = rows.filter(pl.col("functions_file").is_not_null())
    files = indexed["functions_file"].unique().sort().to_list()
    have = (
        pl.read_parquet([str(store.root / f) for f in files], hive_partitioning=False)
        .select(list(functions.COLUMNS))
        .filter(pl.col("profile_id").is_in(indexed["profile_id"].implode()))
        if files
        else functions.empty()
    )
    todo = rows.filter(pl.col("functions_file").is_null())["profile_id"]
    if todo.len() == 0 or samples.height == 0:
        return have

    def fetch(table: str, ids: pl.Series) -> pl.DataFrame:
        return read_dictionary(store.root, snap.files(f"{table}/"), table, ids)

    d = dictionaries or {}
    made = functions.index_rows(
        samples.filter(pl.col("profile_id").is_in(todo.implode())),
        d.get("stacks", schema.empty("stacks")),
        d.get("frames", schema.empty("frames")),
        fetch,
    )
    return pl.concat([have, made])


def _read(store: StoreDirectory, files: list[str], table: str) -> pl.DataFrame:
    if not files:
        return schema.empty(table)
    df = pl.read_parquet([str(store.root / f) for f in files], hive_partitioning=False)
    return schema.conform(table, df)


def _referenced(samples: pl.DataFrame, d: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Dictionary rows reachable from ``samples`` (samples -> stacks -> frames -> mappings)."""
    stacks = d["stacks"].filter(pl.col("stack_id").is_in(samples["stack_id"].unique().implode()))
    frame_ids = stacks["frame_ids"].explode().drop_nulls().unique()
    frames = d["frames"].filter(pl.col("frame_id").is_in(frame_ids.implode()))
    mappings = d["mappings"].filter(
        pl.col("mapping_id").is_in(frames["mapping_id"].drop_nulls().unique().implode())
    )
    labels = d["labels"].filter(
        pl.col("label_set_id").is_in(samples["label_set_id"].unique().implode())
    )
    return {"stacks": stacks, "frames": frames, "mappings": mappings, "labels": labels}


def retain(
    store: StoreDirectory, *, max_age: str | int | None = None, before: str | int | None = None
) -> RetainReport:
    """Drop profiles whose time is before ``before`` or older than ``max_age`` (e.g. "30d"),
    and files of received spans that all ended before then."""
    if (max_age is None) == (before is None):
        raise StoreError("retain needs exactly one of max_age (e.g. '30d') or before (a time)")
    if max_age is not None:
        age = parse_duration(max_age) if isinstance(max_age, str) else int(max_age)
        cutoff = time.time_ns() - age
    else:
        cutoff = int(parse_time(before))  # type: ignore[arg-type]
    with store.locked():
        snap = store.snapshot()
        deleted = writer.collect_garbage(store.root, snap)
        rows = snap.catalog
        expired = rows.filter(pl.col("time_ns") < cutoff)
        old_spans = _expired_spans(store, snap, cutoff)
        report = RetainReport(cutoff, expired.height, rows.height - expired.height, 0, 0)
        report.span_files_dropped = len(old_spans)
        ids = set(expired["segment"].unique().to_list())
        ids |= {s.id for s in snap.segments.values() if old_spans & set(s.files)}
        if ids:
            affected = [snap.segments[s] for s in sorted(ids)]
            report.files_rewritten = _drop_expired(store, snap, affected, cutoff, old_spans)
            store.files_rewritten()
            snap = store.snapshot()
            deleted += writer.collect_garbage(store.root, snap)
        report.deleted = deleted
        return report


def _expired_spans(store: StoreDirectory, snap: Snapshot, cutoff: int) -> set[str]:
    """Live spans files whose every span ended (or, without an end, started) before ``cutoff``."""
    out = set()
    for f in snap.files(f"{layout.SPANS}/"):
        last = (
            pl.scan_parquet(store.root / f)
            .select(pl.coalesce("end_ns", "start_ns").max())
            .collect()
            .item()
        )
        if last is not None and last < cutoff:
            out.add(f)
    return out


def _drop_expired(
    store: StoreDirectory, snap: Snapshot, affected: list[Segment], cutoff: int, drop: set[str]
) -> int:
    """Commit one segment replacing ``affected`` without their expired profiles and without
    the files in ``drop``."""
    rows = snap.catalog.filter(pl.col("segment").is_in([s.id for s in affected]))
    kept = rows.filter(pl.col("time_ns") >= cutoff)
    by_file = rows.group_by("samples_file").agg(
        (pl.col("time_ns") < cutoff).any().alias("some_expired"),
        (pl.col("time_ns") >= cutoff).any().alias("some_kept"),
    )
    mixed = by_file.filter(pl.col("some_expired") & pl.col("some_kept"))["samples_file"]
    mixed_files = mixed.drop_nulls().to_list()
    in_mixed = pl.col("samples_file").is_in(mixed_files)
    # the samples and functions files of kept profiles, the mixed ones rewritten below
    unmixed = kept.filter(~in_mixed)
    kept_files = {*unmixed["samples_file"].drop_nulls(), *unmixed["functions_file"].drop_nulls()}
    per_profile = (layout.SAMPLES + "/", layout.FUNCTIONS + "/")
    keep_files = [
        f
        for s in affected
        for f in s.files
        if (not f.startswith(per_profile) or f in kept_files) and f not in drop
    ]
    samples = _read(store, mixed_files, "samples")
    if samples.height:
        samples = samples.filter(pl.col("profile_id").is_in(kept["profile_id"].implode()))
    index = _index(store, snap, kept.filter(in_mixed), samples)
    rewritten = kept.with_columns(
        pl.when(in_mixed).then(pl.lit(None, pl.Utf8)).otherwise(pl.col(c)).alias(c)
        for c in ("samples_file", "functions_file")
    )
    writer.write_segment(
        store.root,
        rewritten,
        samples,
        {},
        replaces=_replaces(affected),
        keep_files=keep_files,
        functions=index,
    )
    return len(mixed_files)
