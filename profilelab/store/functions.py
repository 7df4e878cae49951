"""The store's function index: flat and cum per (profile, function), written at commit time.

A store's two fleet questions (:mod:`profilelab.store.plans`) are sums over functions: one
function's cum per time step (the trend) and every function's flat and cum over a
selection (the top). Both are sums over profiles of the same per-profile numbers, so each
commit writes them next to its samples, one file per partition:
``functions/profile_type=…/service=…/date=…/<segment>.parquet`` with, per profile, one row
per function its samples touch:

* ``function_id``: :func:`function_ids` of the name (the files are sorted by it, with small
  row groups, so a reader of one function's rows skips the others by the row groups'
  statistics);
* ``function``: the name as profilelab names frames (``0x…`` when unsymbolized);
* ``profile_id``, ``flat``, ``cum``: pprof's definitions (:mod:`profilelab.core.aggregate`:
  flat on the leaf frame's function, cum once per stack however often it recurses).

The catalog row of a profile names its file (``functions_file``); profiles of stores
written before the index have none and are answered from their samples (``store
compact`` writes their index).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from profilelab.core.aggregate import flat_cum
from profilelab.model import _arrow, ids
from profilelab.model.names import frame_function_names

#: Columns of a functions file, in order.
COLUMNS: dict[str, pl.DataType] = {
    "function_id": pl.Int64(),
    "function": pl.Utf8(),
    "profile_id": pl.Int64(),
    "flat": pl.Int64(),
    "cum": pl.Int64(),
}
#: Most stacks a writer remembers (:class:`Seen`) before starting over.
SEEN_STACKS = 1_000_000


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=COLUMNS)


def function_ids(names: Sequence[str] | pl.Series) -> pl.Series:
    """The stable 64-bit id of each function name (:func:`profilelab.model.ids.hash_strings`)."""
    # through Polars: an Arrow array made from a Python list imports pandas (seconds)
    values = names if isinstance(names, pl.Series) else pl.Series(list(names), dtype=pl.Utf8)
    # the hashes reach Polars as Arrow buffers (pl.Series of a NumPy array imports numpy.ma)
    return _arrow.series("function_id", ids.as_id(ids.hash_strings(values.to_arrow())))


def frame_names(frames: pl.DataFrame) -> pl.DataFrame:
    """frame_id, function: each frame's function name as profilelab names it."""
    frames = frames.unique("frame_id", maintain_order=True)
    return frames.select("frame_id", frame_function_names(frames).alias("function"))


def per_profile(samples: pl.DataFrame, stacks: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """:data:`COLUMNS` for every profile of ``samples``, sorted by function_id, profile_id.

    ``stacks`` (stack_id, frame_ids) must hold every stack of ``samples`` and ``names``
    (:func:`frame_names`) every frame of those stacks. The sums are the core's
    :func:`~profilelab.core.aggregate.flat_cum` per profile, never a row per sample and
    frame.
    """
    values = samples.select("profile_id", "stack_id", pl.col("value").cast(pl.Int64))
    sids = values["stack_id"].unique()
    used = stacks.filter(pl.col("stack_id").is_in(sids.implode())).unique("stack_id")
    if used.height != len(sids):
        missing = sids.filter(~sids.is_in(used["stack_id"].implode()))
        raise ValueError(f"stack {missing[0]} of the samples is not in the stacks given")
    # each frame's function as a code (its name's position among the sorted names), found
    # per frame of ``names``, not per (stack, frame) row; a frame without a name has none
    fnames = names["function"].drop_nulls().unique().sort()  # each name hashed once
    coded = names.select(
        "frame_id",
        pl.when(pl.col("function").is_not_null())
        .then(fnames.search_sorted(names["function"]))
        .alias("f"),
    )
    frames = (
        used.select(
            "stack_id", "frame_ids", pl.int_ranges(0, pl.col("frame_ids").list.len()).alias("pos")
        )
        .explode("frame_ids", "pos")
        .drop_nulls("frame_ids")
        .join(coded, left_on="frame_ids", right_on="frame_id", how="left", maintain_order="left")
    )
    if frames["f"].null_count():
        missing = frames.filter(pl.col("f").is_null())["frame_ids"]
        raise ValueError(f"frame {missing[0]} of the stacks is not in the frames given")
    frames = frames.select("stack_id", "f", (pl.col("pos") == 0).alias("leaf"))
    out = flat_cum(frames, values, by=["profile_id"], key="f")
    fids = function_ids(fnames)
    order = _by_function(fids.to_numpy(), out["f"].to_numpy(), out["profile_id"].to_numpy())
    out = out[_arrow.series("", order)]
    return out.select(
        fids.gather(out["f"]),
        fnames.gather(out["f"]).alias("function"),
        "profile_id",
        pl.col("flat_value").alias("flat"),
        pl.col("cum_value").alias("cum"),
    ).cast(COLUMNS)  # type: ignore[arg-type]


def _by_function(fids: np.ndarray, f: np.ndarray, profile_ids: np.ndarray) -> np.ndarray:
    """The order of rows (function ``fids[f]``, ``profile_ids``) by function id, then
    profile id. Rows that come ordered by profile id (as :func:`flat_cum` gives them) only
    need a stable sort by the rank of their function: a radix sort of small integers,
    instead of a two-column sort."""
    rank = np.empty(len(fids), dtype=np.int64)
    rank[np.argsort(fids, kind="stable")] = np.arange(len(fids))
    key = rank[f]
    if len(profile_ids) and np.all(profile_ids[1:] >= profile_ids[:-1]):
        small = np.int16 if len(fids) <= np.iinfo(np.int16).max else np.int32
        return np.argsort(key.astype(small), kind="stable")
    return np.lexsort((profile_ids, key))


Fetch = Callable[[str, pl.Series], pl.DataFrame]


def index_rows(
    samples: pl.DataFrame, stacks: pl.DataFrame, frames: pl.DataFrame, fetch: Fetch
) -> pl.DataFrame:
    """:func:`per_profile` with the stacks and frames at hand (``stacks``, ``frames``:
    canonical tables), the rows missing from them got from ``fetch(table, ids)``."""
    if samples.height == 0:
        return empty()
    sids = samples["stack_id"].unique()
    stacks = stacks.select("stack_id", "frame_ids")
    lacking = sids.filter(~sids.is_in(stacks["stack_id"].implode()))
    if lacking.len():
        stacks = pl.concat([stacks, fetch("stacks", lacking).select("stack_id", "frame_ids")])
    stacks = stacks.filter(pl.col("stack_id").is_in(sids.implode()))
    fids = stacks["frame_ids"].explode().drop_nulls().unique()
    names = frame_names(frames) if frames.height else pl.DataFrame(schema=_NAMES)
    lacking = fids.filter(~fids.is_in(names["frame_id"].implode()))
    if lacking.len():
        names = pl.concat([names, fetch("frames", lacking)], how="vertical_relaxed")
    return per_profile(samples, stacks, names)


_NAMES = {"frame_id": pl.Int64(), "function": pl.Utf8()}


class Seen:
    """The stacks and frame names a writer has committed, so that a later commit whose
    profiles lack rows sent once before (ingest workers send each dictionary row once)
    finds them without reading the store; rows it lacks come from ``fallback``."""

    def __init__(self, fallback: Fetch) -> None:
        self.fallback = fallback
        self._forget()

    def _forget(self) -> None:
        self.stacks = pl.DataFrame(
            schema={"stack_id": pl.Int64(), "frame_ids": pl.List(pl.Int64())}
        )
        self.names = pl.DataFrame(schema=_NAMES)

    def add(self, stacks: pl.DataFrame, frames: pl.DataFrame) -> None:
        """Remember the rows of a commit (all of them once more than SEEN_STACKS)."""
        if self.stacks.height > SEEN_STACKS:
            self._forget()
        new = stacks.select("stack_id", "frame_ids").filter(
            ~pl.col("stack_id").is_in(self.stacks["stack_id"].implode())
        )
        if new.height:
            self.stacks = pl.concat([self.stacks, new.unique("stack_id")])
        if frames.height:
            names = frame_names(frames).filter(
                ~pl.col("frame_id").is_in(self.names["frame_id"].implode())
            )
            self.names = pl.concat([self.names, names])

    def fetch(self, table: str, wanted: pl.Series) -> pl.DataFrame:
        have = self.stacks if table == "stacks" else self.names
        key = "stack_id" if table == "stacks" else "frame_id"
        got = have.filter(pl.col(key).is_in(wanted.implode()))
        rest = wanted.filter(~wanted.is_in(got[key].implode()))
        if rest.len() == 0:
            return got
        more = self.fallback(table, rest)
        more = more.select("stack_id", "frame_ids") if table == "stacks" else frame_names(more)
        return pl.concat([got, more], how="vertical_relaxed")
