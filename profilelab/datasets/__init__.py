"""The shipped datasets: real Go profiles (and traces) with a known story, loadable by name.

Each dataset is a directory holding pprof files, an ``index.csv`` sidecar and, for traced
datasets, OTLP/JSON trace files. They were made by the Go programs in
``datasets/generators/`` (see ``datasets/PROVENANCE.md`` and ``docs/datasets.md``)::

    import profilelab.datasets as ds
    ds.list()                                   # ['checkout-api', 'goroutine-leak', ...]
    fleet = ds.load("order-service", version="v2.3.6", region="eu-west-1")
    ds.index("order-service", version="v2.3.6") # the index rows: file, start_time, labels
    ds.traces("traced-order-service")           # [Path('.../traces.json.gz')]

Where the data is found, first match wins:

1. the directory named by the environment variable ``PROFILELAB_DATASETS``;
2. the ``datasets/`` directory of the profilelab checkout this package was imported from
   (found by walking up from the package to the first directory whose ``datasets/``
   holds ``PROVENANCE.md``).

An installed wheel does not contain the data: there, set ``PROFILELAB_DATASETS`` to a
clone's ``datasets/`` directory, or a :class:`DatasetError` says so.

``index.csv`` columns: ``file`` (relative to the dataset directory), ``start_time`` (RFC
3339, UTC), label columns, then count columns named ``n_*``. Every label column becomes a
profile label of the loaded profiles (as :func:`profilelab.api.add_profile_labels` would
set it) and can be used as a filter.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from profilelab.errors import ProfileLabError, QueryError
from profilelab.model import builder
from profilelab.model.profile import Profile
from profilelab.readers import read

__all__ = [
    "ENV_VAR",
    "DatasetError",
    "index",
    "label_columns",
    "list",
    "load",
    "path",
    "root",
    "traces",
]

#: Environment variable naming the directory that holds the dataset directories.
ENV_VAR = "PROFILELAB_DATASETS"
_MARKER = "PROVENANCE.md"
_META_COLUMNS = ("file", "start_time")
_TRACE_PATTERNS = ("traces*.json", "traces*.json.gz")


class DatasetError(ProfileLabError):
    """A dataset is unknown, its data is not available, or its index is damaged."""


def root() -> Path:
    """The directory holding the dataset directories (see the module docs for the search)."""
    env = os.environ.get(ENV_VAR)
    if env:
        found = Path(env).expanduser()
        if not found.is_dir():
            raise DatasetError(f"{ENV_VAR}={env}: not a directory")
        return found
    here = Path(__file__).resolve().parent
    for ancestor in here.parents:
        candidate = ancestor / "datasets"
        if (candidate / _MARKER).is_file():
            return candidate
    raise DatasetError(
        "the profilelab datasets are not available: they live in the datasets/ directory "
        "of a profilelab clone and are not part of the installed package; run from a clone "
        f"or set {ENV_VAR} to a clone's datasets/ directory"
    )


def list() -> builtins.list[str]:
    """The names of the available datasets, sorted."""
    base = root()
    return sorted(p.parent.name for p in base.glob("*/index.csv"))


def path(name: str) -> Path:
    """The directory of dataset ``name``."""
    base = root()
    directory = base / name
    if not (directory / "index.csv").is_file():
        known = ", ".join(list()) or "none"
        raise DatasetError(f"unknown dataset {name!r} in {base} (known: {known})")
    return directory


def index(name: str, **filters: str | Iterable[str]) -> pl.DataFrame:
    """The dataset's ``index.csv`` rows (one per profile file) that match every filter.

    A filter is ``label=value`` or ``label=[value, ...]`` (any of). ``start_time`` is
    parsed to a UTC datetime (nanoseconds), ``n_*`` columns to integers, every other
    column is a string. Raises QueryError for an unknown label or when no row matches,
    naming what exists.
    """
    frame = _read_index(name)
    labels = label_columns(frame)
    for key, wanted in filters.items():
        if key not in labels:
            raise QueryError(f"dataset {name!r}: no label {key!r} to filter on (labels: {labels})")
        scalar = isinstance(wanted, str) or not isinstance(wanted, Iterable)
        values = [str(wanted)] if scalar else [str(v) for v in wanted]
        matched = frame.filter(pl.col(key).is_in(values))
        if matched.is_empty():
            have = sorted(frame[key].unique().to_list())
            raise QueryError(f"dataset {name!r}: no profile with {key} in {values} (have: {have})")
        frame = matched
    return frame


def _read_index(name: str) -> pl.DataFrame:
    csv = path(name) / "index.csv"
    try:
        df = pl.read_csv(csv, infer_schema=False)
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise DatasetError(f"{csv}: cannot read: {exc}") from None
    missing = [c for c in _META_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(f"{csv}: missing column(s) {missing}; has {df.columns}")
    try:
        return df.with_columns(
            pl.col("start_time").str.to_datetime(time_unit="ns", time_zone="UTC"),
            *(pl.col(c).cast(pl.Int64) for c in df.columns if c.startswith("n_")),
        )
    except pl.exceptions.PolarsError as exc:
        raise DatasetError(f"{csv}: bad start_time or n_* value: {exc}") from None


def label_columns(frame: pl.DataFrame) -> builtins.list[str]:
    """The columns of an index frame that are profile labels (not file, start_time, n_*)."""
    return [c for c in frame.columns if c not in _META_COLUMNS and not c.startswith("n_")]


def load(name: str, **filters: str | Iterable[str]) -> Profile:
    """Load the dataset's profiles (those matching ``filters``) into one :class:`Profile`.

    Every profile gets the index's label columns (service, version, instance, ...) as
    profile labels; samples keep their own pprof labels. Nothing is merged or dropped:
    each file becomes one profile per sample type, in index order. ``source`` is the
    file's path relative to the datasets directory (``order-service/v2.3.5/.../cpu-00.pb.gz``).

    >>> p = load("goroutine-leak", variant="leaking")  # doctest: +SKIP
    """
    directory = path(name)
    rows = index(name, **filters)
    labels = label_columns(rows)
    raws = []
    for row in rows.iter_rows(named=True):
        for raw in read(directory / row["file"], f"{name}/{row['file']}"):
            raw.profile_labels = [*raw.profile_labels, *((k, row[k]) for k in labels)]
            raws.append(raw)
    return builder.build(raws)


def traces(name: str) -> builtins.list[Path]:
    """The trace files (OTLP/JSON, possibly gzipped) of the dataset; [] when it has none."""
    directory = path(name)
    found = {p for pattern in _TRACE_PATTERNS for p in directory.glob(pattern)}
    return sorted(found)
