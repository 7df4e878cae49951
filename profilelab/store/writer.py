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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from profilelab.model import _arrow, ids, schema
from profilelab.model.ranges import ranges
from profilelab.store import _fs, catalog, layout
from profilelab.store.catalog import Segment, Snapshot

ZSTD_LEVEL = 3
#: Rows per row group of a functions file: sorted by function, so a reader of one
#: function's rows skips the other groups by their statistics.
FUNCTION_ROW_GROUP = 4096


def write_segment(
    root: Path,
    rows: pl.DataFrame,
    samples: pl.DataFrame,
    dictionaries: Mapping[str, pl.DataFrame],
    *,
    replaces: Sequence[str] = (),
    keep_files: Sequence[str] = (),
    segment_id: str | None = None,
    committed: Callable[[str, pa.Table], None] | None = None,
    functions: pl.DataFrame | None = None,
) -> Segment:
    """Write one segment and commit it; return its record.

    ``committed`` (optional) is called with the catalog file's name and table once the
    commit is durable (a reader caches it instead of reading it back).

    ``rows`` are catalog rows. Rows of profiles that have samples in ``samples`` get their
    samples_file, n_samples and total from this write; other rows keep theirs (their files
    must be listed in ``keep_files``, which the new segment references without copying).
    ``functions`` (``store.functions.COLUMNS``) are the function index rows of the
    profiles of ``samples``: a functions file is written beside each samples file and
    named by their rows (without it, their ``functions_file`` is null: not indexed).
    ``dictionaries`` rows are written as given (the caller removes rows the store has).
    """
    seg_id = segment_id or layout.new_segment_id()
    staged: list[tuple[Path, Path]] = []
    cat_path = root / layout.catalog_path(seg_id)
    cat_tmp: Path | None = None
    writes: list[tuple[Path, _ParquetWrite]] = []  # (final path, its write), run together
    # directories with new entries (new partitions), synced with the files below
    new_dirs: set[Path] = set()
    try:
        rows, sample_files = _stage_samples(
            root, seg_id, rows, samples, writes, functions, new_dirs
        )
        dict_files = _stage_dictionaries(root, seg_id, dictionaries, writes, new_dirs)
        staged += zip(_fs.write_temps(writes), [final for final, _ in writes], strict=True)
        rows = rows.with_columns(pl.lit(seg_id, pl.Utf8).alias("segment"))
        files = tuple(sorted({*sample_files, *dict_files, *keep_files}))
        segment = Segment(seg_id, files, tuple(sorted(set(replaces))), time.time_ns())
        table = catalog.to_arrow(rows.sort("time_ns", "profile_id"), segment)
        _fs.ensure_dir(cat_path.parent, root, new_dirs)
        cat_tmp = _fs.write_temp(cat_path, _parquet(table), sync=False)
        for tmp, final in staged:
            os.rename(tmp, final)
        # One round of fsyncs for the data files, their directory entries (and those of
        # the directories this commit created) and the catalog file's temporary copy.
        # Renaming data files before they are durable is safe: no catalog names them until
        # the catalog file is renamed, after this round.
        _fs.fsync_all(
            [final for _, final in staged] + [cat_tmp],
            sorted({f.parent for _, f in staged} | new_dirs),
        )
        os.rename(cat_tmp, cat_path)  # the commit point
    except BaseException:
        for tmp in [t for t, _ in staged] + ([cat_tmp] if cat_tmp is not None else []):
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    _fs.fsync_dir(cat_path.parent)
    if committed is not None:
        committed(cat_path.name, table)
    return segment


def _stage_samples(
    root: Path,
    seg_id: str,
    rows: pl.DataFrame,
    samples: pl.DataFrame,
    writes: list[tuple[Path, _ParquetWrite]],
    functions: pl.DataFrame | None = None,
    new_dirs: set[Path] | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Add to ``writes`` one samples file per partition (and its functions file when
    ``functions`` is given); fill the rows' samples_file, functions_file, n_samples, total.
    Directories it creates are synced by the caller (``new_dirs``, as :func:`_fs.ensure_dir`).

    Within a file, samples are ordered by profile time, profile id and sample index.
    """
    parts = rows.select(layout.PARTITIONS).unique(maintain_order=True).with_row_index("part")
    parts = parts.with_columns(
        pl.Series(
            "new_file",
            [
                layout.samples_path(t, s, d, seg_id)
                for t, s, d in parts.select(layout.PARTITIONS).iter_rows()
            ],
            dtype=pl.Utf8,
        )
    )
    keyed = rows.select("profile_id", "time_ns", *layout.PARTITIONS).join(
        parts, on=list(layout.PARTITIONS)
    )
    runs = _runs(samples, keyed)
    order = np.lexsort((runs["profile_id"], runs["time_ns"], runs["part"]))
    runs = {k: v[order] for k, v in runs.items()}
    lengths = runs["end"] - runs["start"]
    # Every file's rows in one table, partition after partition, made and converted to
    # Arrow once; each file is a zero-copy slice of it (a gather, a join and a conversion
    # per file cost more than the rows: a batch writes a few dozen small files).
    body = _in_order(samples.select(list(schema.SAMPLES)), runs["start"], lengths).to_arrow()
    ends = np.cumsum(lengths)  # the runs are in partition order: a file is a range of them
    body_at = np.concatenate([[0], ends])[
        np.searchsorted(runs["part"], np.arange(parts.height + 1))
    ]
    if functions is not None:
        index, index_at = _functions_by_part(functions, keyed, parts.height)
    files: list[str] = []
    for part, rel in parts.select("part", "new_file").iter_rows():
        if body_at[part + 1] == body_at[part]:
            continue
        final = root / rel
        _fs.ensure_dir(final.parent, root, new_dirs)
        writes.append((final, _parquet(_slice(body, body_at, part))))
        files.append(rel)
        if functions is not None:
            frel = layout.functions_path(rel)
            ffinal = root / frel
            _fs.ensure_dir(ffinal.parent, root, new_dirs)
            table = _slice(index, index_at, part)
            writes.append((ffinal, _ParquetWrite(table, row_group_size=FUNCTION_ROW_GROUP)))
            files.append(frel)
    values = samples["value"].cast(pl.Int64).cum_sum().to_numpy()
    ends_sum = values[runs["end"] - 1] if len(values) else lengths
    starts_sum = np.where(runs["start"] > 0, values[np.maximum(runs["start"] - 1, 0)], 0)
    sums = (
        pl.DataFrame(
            [
                _arrow.series("profile_id", runs["profile_id"]),
                _arrow.series("n_samples", lengths),
                _arrow.series("total", ends_sum - starts_sum),
            ]
        )
        .group_by("profile_id")
        .agg(pl.col("n_samples").sum(), pl.col("total").sum())
    )
    written = keyed.join(parts.select("part", "new_file"), on="part").join(sums, on="profile_id")
    out = rows.join(
        written.select("profile_id", "new_file", "n_samples", "total"),
        on="profile_id",
        how="left",
        suffix="_new",
    ).with_columns(
        pl.when(pl.col("new_file").is_null())
        .then(pl.col("functions_file"))
        .when(pl.lit(functions is not None))
        .then(pl.col("new_file").str.replace(f"^{layout.SAMPLES}/", f"{layout.FUNCTIONS}/"))
        .alias("functions_file"),
        pl.coalesce("new_file", "samples_file").alias("samples_file"),
        pl.coalesce("n_samples_new", "n_samples", pl.lit(0, pl.Int64)).alias("n_samples"),
        pl.coalesce("total_new", "total", pl.lit(0, pl.Int64)).alias("total"),
    )
    return catalog.conform(out), files


def _in_order(df: pl.DataFrame, starts: np.ndarray, lengths: np.ndarray) -> pl.DataFrame:
    """The rows of ``df`` in the runs [start, start + length), one after another, in one
    chunk (as they are when the runs already follow each other from row 0)."""
    if len(starts) and np.array_equal(starts[1:], starts[:-1] + lengths[:-1]) and not starts[0]:
        return df.head(int(lengths.sum())).rechunk()
    return df[_arrow.series("", ranges(starts, lengths))]  # (a NumPy index imports numpy.ma)


def _starts(counts: np.ndarray) -> np.ndarray:
    """Where each partition's rows start (counts per partition), and the end."""
    at = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts.astype(np.int64), out=at[1:])
    return at


def _slice(table: pa.Table, at: np.ndarray, part: int) -> pa.Table:
    return table.slice(int(at[part]), int(at[part + 1] - at[part]))


def _functions_by_part(
    functions: pl.DataFrame, keyed: pl.DataFrame, n_parts: int
) -> tuple[pa.Table, np.ndarray]:
    """The function index rows partition after partition (``keyed``: profile_id -> part),
    each partition's sorted by function id, then profile id, as one Arrow table, and
    where each partition's rows start (rows that come sorted, as ``index_rows`` gives them,
    are only cut apart: a stable sort by partition keeps their order). Rows of profiles
    not in ``keyed`` are left out."""
    if not _sorted_by_function(functions):
        functions = functions.sort("function_id", "profile_id")
    at = ids.locate(functions["profile_id"].to_numpy(), keyed["profile_id"].to_numpy())
    known = keyed["part"].to_numpy().astype(np.int64)
    part = np.where(at >= 0, known[at], -1) if len(known) else np.full(len(at), -1)
    # a stable sort of small integers is a radix sort
    small = np.int16 if n_parts < np.iinfo(np.int16).max else np.int64
    order = np.argsort(part.astype(small), kind="stable")
    unknown = int(np.count_nonzero(part < 0))  # sorted first: left out
    table = functions[_arrow.series("", order[unknown:])].to_arrow()
    return table, _starts(np.bincount(part + 1, minlength=n_parts + 1)[1:])


def _sorted_by_function(functions: pl.DataFrame) -> bool:
    """Whether the rows are ordered by function id, then profile id."""
    fid = functions["function_id"].to_numpy()
    pid = functions["profile_id"].to_numpy()
    return bool(np.all((fid[1:] > fid[:-1]) | ((fid[1:] == fid[:-1]) & (pid[1:] >= pid[:-1]))))


def write_spans_segment(root: Path, spans: pl.DataFrame) -> Segment:
    """Commit ``spans`` (schema ``SPANS``) as one segment: a spans file, then a catalog file
    with no profile rows that names it (the commit point, as for profiles)."""
    seg_id = layout.new_segment_id()
    rel = layout.spans_path(seg_id)
    final = root / rel
    _fs.ensure_dir(final.parent, root)
    table = schema.conform("spans", spans).sort("start_ns", "trace_id", "span_id").to_arrow()
    _fs.write_atomic(final, _parquet(table))
    empty = pl.DataFrame(schema=schema.SAMPLES)
    return write_segment(root, catalog.empty(), empty, {}, keep_files=[rel], segment_id=seg_id)


def _runs(samples: pl.DataFrame, keyed: pl.DataFrame) -> dict[str, np.ndarray]:
    """Maximal runs of equal profile_id in ``samples`` with each run's partition and time.

    Readers emit each profile's samples contiguously, so this is one run per profile: the
    samples are then reordered by moving whole runs, not by sorting a million rows.
    """
    pid = samples["profile_id"].to_numpy()
    n = len(pid)
    cuts = np.flatnonzero(pid[1:] != pid[:-1]) + 1 if n else np.zeros(0, np.int64)
    start = np.concatenate([[0], cuts]).astype(np.int64) if n else np.zeros(0, np.int64)
    end = np.concatenate([cuts, [n]]).astype(np.int64) if n else np.zeros(0, np.int64)
    # as Arrow buffers: a DataFrame of a NumPy array imports numpy.ma
    run_df = pl.DataFrame([_arrow.series("profile_id", pid[start] if n else pid)])
    run_df = run_df.with_row_index("run")
    info = run_df.join(keyed, on="profile_id", how="left", maintain_order="left")
    if info["part"].null_count():
        missing = info.filter(pl.col("part").is_null())["profile_id"][0]
        raise ValueError(f"samples of profile {missing} have no catalog row")
    return {
        "start": start,
        "end": end,
        "profile_id": info["profile_id"].to_numpy(),
        "time_ns": info["time_ns"].to_numpy(),
        "part": info["part"].to_numpy().astype(np.int64),
    }


def _stage_dictionaries(
    root: Path,
    seg_id: str,
    dictionaries: Mapping[str, pl.DataFrame],
    writes: list[tuple[Path, _ParquetWrite]],
    new_dirs: set[Path] | None = None,
) -> list[str]:
    files = []
    for table, df in dictionaries.items():
        if df.height == 0:
            continue
        rel = layout.dictionary_path(table, seg_id)
        final = root / rel
        _fs.ensure_dir(final.parent, root, new_dirs)
        body = schema.conform(table, df).sort(layout.DICTIONARIES[table])
        writes.append((final, _parquet(body.to_arrow())))
        files.append(rel)
    return files


def _parquet(table: pa.Table) -> _ParquetWrite:
    return _ParquetWrite(table)


class _ParquetWrite:
    """Callable writing a table as zstd Parquet (sample_index delta-encoded: it counts up)."""

    def __init__(self, table: pa.Table, row_group_size: int | None = None) -> None:
        self.table = table
        self.row_group_size = row_group_size

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
            row_group_size=self.row_group_size,
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
    tops = (layout.CATALOG, layout.SAMPLES, layout.FUNCTIONS, layout.SPANS, *layout.DICTIONARIES)
    for top in tops:
        base = root / top
        if not base.is_dir():
            continue
        for dirpath, _dirs, filenames in os.walk(base, topdown=False):
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
