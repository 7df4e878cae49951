"""Load a shipped dataset in the format a notebook asks for: pprof (as shipped) or OTLP.

The playbooks run on the pprof files of :mod:`profilelab.datasets` and on the same profiles
as OpenTelemetry (OTLP) profiles, so one notebook checks both readers end to end. When a
dataset ships no OTLP files, :func:`load` converts each pprof file once with the OTLP writer
(``profilelab.writers.write(profile, out, "otlp")``) into a cache directory and reads those:

* the cache is ``$PROFILELAB_CACHE`` or ``~/.cache/profilelab`` (``$XDG_CACHE_HOME``);
* a converted dataset lives in ``otlp/<name>-<digest>/``, where the digest covers the
  index and every source file, so a regenerated dataset is converted again;
* a conversion is written to a temporary directory and renamed into place when complete,
  so an interrupted run leaves nothing half-written to be read later.

Profile labels come from the dataset's ``index.csv`` in both formats, exactly as
:func:`profilelab.datasets.load` sets them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

import profilelab
from profilelab import datasets
from profilelab.errors import ProfileLabError, QueryError
from profilelab.model import builder
from profilelab.model.profile import Profile
from profilelab.readers import read

FORMATS = ("pprof", "otlp")
CACHE_ENV = "PROFILELAB_CACHE"
_OTLP_SUFFIX = ".otlp.pb"


def load(name: str, format: str = "pprof", **filters: str | Iterable[str]) -> Profile:
    """The dataset's profiles (matching ``filters``) read from ``format`` files.

    ``format="pprof"`` is :func:`profilelab.datasets.load`; ``format="otlp"`` reads the
    same profiles converted to OTLP (see the module docs). Anything else is a QueryError.
    """
    if format not in FORMATS:
        raise QueryError(f"unknown dataset format {format!r} (expected one of {FORMATS})")
    if format == "pprof":
        return datasets.load(name, **filters)
    directory = otlp_copy(name)
    rows = datasets.select(name, **filters)
    labels = datasets.label_columns(rows)
    raws = []
    for row in rows.iter_rows(named=True):
        converted = directory / (row["file"] + _OTLP_SUFFIX)
        for raw in read(converted, f"{name}/{row['file']}{_OTLP_SUFFIX}"):
            raw.profile_labels = [*raw.profile_labels, *((k, row[k]) for k in labels)]
            raws.append(raw)
    return builder.build(raws)


def cache_dir() -> Path:
    """Where converted datasets are kept."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "profilelab"


def otlp_copy(name: str) -> Path:
    """The directory holding every file of dataset ``name`` converted to OTLP (made once)."""
    source = datasets.path(name)
    files = datasets.index(name)["file"].to_list()
    target = cache_dir() / "otlp" / f"{name}-{_digest(source, files)}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        for file in files:
            _convert(source / file, tmp / (file + _OTLP_SUFFIX))
        try:
            tmp.rename(target)
        except OSError:  # another process finished the same conversion first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(src: Path, dst: Path) -> None:
    from profilelab import writers

    profile = profilelab.load(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with dst.open("wb") as out:
            writers.write(profile, out, "otlp")
    except ProfileLabError as exc:
        raise exc.with_context(f"converting {src} to OTLP") from None


def _digest(source: Path, files: list[str]) -> str:
    h = hashlib.sha256((source / "index.csv").read_bytes())
    for file in files:
        h.update(file.encode())
        h.update((source / file).read_bytes())
    return h.hexdigest()[:16]


def snapshots(p: Profile) -> list[Profile]:
    """One Profile per input file (all its sample types), ordered by time: ``snapshots(p)[0]``
    is the first heap or goroutine snapshot of a series, ``[-1]`` the last."""
    order = (
        p.profiles.group_by("source_id")
        .agg(pl.col("time_ns").min())
        .sort(["time_ns", "source_id"], nulls_last=True)
    )
    out = []
    for source_id in order["source_id"].to_list():
        ids = p.profiles.filter(pl.col("source_id") == source_id)["profile_id"].implode()
        out.append(
            p.replace(
                profiles=p.profiles.filter(pl.col("profile_id").is_in(ids)),
                samples=p.samples.filter(pl.col("profile_id").is_in(ids)),
            )
        )
    return out


def snapshot_totals(
    p: Profile, *, by: str | None = None, sample_type: str | None = None
) -> pl.DataFrame:
    """Per profile of one sample type: its total and the seconds since the first profile
    (of the same ``by`` label value, e.g. per variant). Columns: [by], time_ns, seconds, total."""
    from profilelab.analysis import _select
    from profilelab.analysis._totals import profile_totals

    table = _select.of_type(p, sample_type)
    group = [by] if by else []
    totals = profile_totals(p, table["profile_id"])
    return (
        table.select("profile_id", "time_ns", *group)
        .join(totals, on="profile_id", how="left")
        .with_columns(pl.col("total").fill_null(0))
        .with_columns(
            ((pl.col("time_ns") - pl.col("time_ns").min().over(group or pl.lit(0))) / 1e9).alias(
                "seconds"
            )
        )
        .sort(*group, "time_ns")
        .select(*group, "time_ns", "seconds", "total")
    )
