"""Writing segments: data files first, the catalog file last (the commit point).

A segment's files are written under temporary names and fsynced, then renamed into place
(directories fsynced), and only then is its catalog file written the same way. A crash
before the catalog rename leaves files that no catalog names: invisible to readers and
deleted by :func:`collect_garbage`, which every writer runs (under the store lock) before
its first commit.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from profilelab.model import schema
from profilelab.store import _fs, catalog, layout
from profilelab.store.catalog import Segment, Snapshot

ZSTD_LEVEL = 3


def write_segment(
    root: Path,
    rows: pl.DataFrame,
    samples: pl.DataFrame,
    dictionaries: Mapping[str, pl.DataFrame],
    *,
    replaces: Sequence[str] = (),
    keep_files: Sequence[str] = (),
    segment_id: str | None = None,
) -> Segment:
    """Write one segment and commit it; return its record.

    ``rows`` are catalog rows. Rows of profiles that have samples in ``samples`` get their
    samples_file, n_samples and total from this write; other rows keep theirs (their files
    must be listed in ``keep_files``, which the new segment references without copying).
    ``dictionaries`` rows are written as given (the caller removes rows the store has).
    """
    seg_id = segment_id or layout.new_segment_id()
    staged: list[tuple[Path, Path]] = []
    try:
        rows, sample_files = _stage_samples(root, seg_id, rows, samples, staged)
        dict_files = _stage_dictionaries(root, seg_id, dictionaries, staged)
        for tmp, final in staged:
            os.rename(tmp, final)
        for d in sorted({final.parent for _, final in staged}):
            _fs.fsync_dir(d)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    files = tuple(sorted({*sample_files, *dict_files, *keep_files}))
    segment = Segment(seg_id, files, tuple(sorted(set(replaces))), time.time_ns())
    table = catalog.to_arrow(rows.sort("time_ns", "profile_id"), segment)
    cat_path = root / layout.catalog_path(seg_id)
    _fs.ensure_dir(cat_path.parent, root)
    _fs.write_atomic(cat_path, _parquet(table))  # the commit point
    return segment


def _stage_samples(
    root: Path, seg_id: str, rows: pl.DataFrame, samples: pl.DataFrame, staged: list
) -> tuple[pl.DataFrame, list[str]]:
    """Write one samples file per partition; fill the rows' samples_file, n_samples, total."""
    if samples.height == 0:
        fresh = rows.filter(pl.col("samples_file").is_null() & pl.col("n_samples").is_null())
        filled = rows.with_columns(
            pl.when(pl.col("profile_id").is_in(fresh["profile_id"].implode()))
            .then(pl.lit(0, pl.Int64))
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("n_samples", "total")
        )
        return filled, []
    keyed = rows.select(
        "profile_id",
        "time_ns",
        pl.struct(layout.PARTITIONS).alias("part"),
    )
    joined = samples.join(keyed, on="profile_id", how="inner")
    sums = joined.group_by("profile_id").agg(
        pl.len().cast(pl.Int64).alias("n_samples"), pl.col("value").sum().alias("total")
    )
    files: list[str] = []
    path_of: list[tuple[str, str]] = []  # (partition key, path)
    for part in joined.partition_by("part", maintain_order=False, include_key=True):
        key = part["part"][0]
        rel = layout.samples_path(key["profile_type"], key["service"], key["date"], seg_id)
        final = root / rel
        _fs.ensure_dir(final.parent, root)
        body = part.sort("time_ns", "profile_id", "sample_index").select(list(schema.SAMPLES))
        staged.append((_fs.write_temp(final, _parquet(_samples_table(body))), final))
        files.append(rel)
        path_of.extend((pid, rel) for pid in body["profile_id"].unique().to_list())
    paths = pl.DataFrame(
        {"profile_id": [p for p, _ in path_of], "new_file": [f for _, f in path_of]},
        schema={"profile_id": pl.Int64, "new_file": pl.Utf8},
    ).join(sums, on="profile_id")
    out = rows.join(paths, on="profile_id", how="left", suffix="_new").with_columns(
        pl.coalesce("new_file", "samples_file").alias("samples_file"),
        pl.coalesce("n_samples_new", "n_samples", pl.lit(0, pl.Int64)).alias("n_samples"),
        pl.coalesce("total_new", "total", pl.lit(0, pl.Int64)).alias("total"),
    )
    return catalog.conform(out), files


def _stage_dictionaries(
    root: Path, seg_id: str, dictionaries: Mapping[str, pl.DataFrame], staged: list
) -> list[str]:
    files = []
    for table, df in dictionaries.items():
        if df.height == 0:
            continue
        rel = layout.dictionary_path(table, seg_id)
        final = root / rel
        _fs.ensure_dir(final.parent, root)
        body = schema.conform(table, df).sort(layout.DICTIONARIES[table])
        staged.append((_fs.write_temp(final, _parquet(body.to_arrow())), final))
        files.append(rel)
    return files


def _samples_table(df: pl.DataFrame) -> pa.Table:
    return df.to_arrow()


def _parquet(table: pa.Table) -> _ParquetWrite:
    return _ParquetWrite(table)


class _ParquetWrite:
    """Callable writing a table as zstd Parquet (sample_index delta-encoded: it counts up)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __call__(self, fh: BinaryIO) -> None:
        names = self.table.column_names
        delta = [c for c in ("sample_index",) if c in names]
        pq.write_table(
            self.table,
            fh,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
            use_dictionary=[c for c in names if c not in delta],
            column_encoding=dict.fromkeys(delta, "DELTA_BINARY_PACKED") or None,
            write_statistics=True,
        )


def collect_garbage(root: Path, snap: Snapshot) -> int:
    """Delete replaced catalogs, then every data or temporary file no live segment names.

    Must run under the store lock (no other writer has files in flight). Replaced catalog
    files go first so that a crash midway can never bring a replaced segment back to life.
    Returns the number of files deleted.
    """
    removed = 0
    for seg_id in sorted(snap.replaced):
        with contextlib.suppress(FileNotFoundError):
            (root / layout.catalog_path(seg_id)).unlink()
            removed += 1
    if snap.replaced:
        _fs.fsync_dir(root / layout.CATALOG)
    live = snap.live_files()
    for top in (layout.CATALOG, layout.SAMPLES, *layout.DICTIONARIES):
        base = root / top
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base, topdown=False):
            for fname in filenames:
                rel = os.path.relpath(os.path.join(dirpath, fname), root).replace(os.sep, "/")
                if rel not in live:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(dirpath, fname))
                        removed += 1
            if dirpath != str(base) and not os.listdir(dirpath):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)
    return removed
