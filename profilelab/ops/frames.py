"""The stack view pprof's filters work on: one row per (stack, frame) with its location.

pprof filters and aggregates *locations* (an address with its inlined lines, innermost
first); profilelab stores expanded frames, leaf first, where ``inlined`` marks a frame that
is inlined into the next one. :func:`explode` rebuilds the location structure per stack:

* ``pos``: frame position, 0 = leaf;
* ``loc``: location position in the stack, 0 = leaf location;
* ``li``: line index within the location, 0 = innermost (pprof's ``Location.Line[0]``).

Frame attributes live in a separate small frame (:func:`frame_attributes`, one row per
distinct frame) so regexes and names are computed once per frame, never per sample.
Unsymbolized frames are named after their mapping's file (``[binary]``).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import polars as pl

from profilelab.errors import ValidationError
from profilelab.model import _arrow, ids
from profilelab.model.profile import Profile
from profilelab.ops import demangle

_lookup: ModuleType | None
try:
    from profilelab._native import _lookup
except ImportError:  # not built (no C compiler at install time): NumPy's table is used
    _lookup = None


@dataclass(frozen=True)
class MainMapping:
    file: str
    build_id: str


#: The columns of the stack view, as :func:`explode` makes them and every filter keeps them.
VIEW_COLUMNS = ("stack_id", "pos", "frame_id", "loc", "li", "frame")


def explode(profile: Profile, stack_ids: pl.Series) -> pl.DataFrame:
    """The stack view of the given stacks: each stack's rows together, leaf first.

    Columns :data:`VIEW_COLUMNS`: ``frame`` is the frame's row in ``profile.frames`` (a
    dense id: frame attributes are gathered by it, never joined on 64-bit ids per row).
    Stacks come in the order of ``profile.stacks``; stacks without frames have no rows.
    """
    wanted = pl.DataFrame({"stack_id": stack_ids.unique()})
    stacks = profile.stacks.join(wanted, on="stack_id", how="semi")
    stacks = stacks.filter(pl.col("frame_ids").list.len() > 0)  # empty stacks have no rows
    lengths = stacks["frame_ids"].list.len().fill_null(0).to_numpy().astype(np.int64)
    frame_ids = stacks["frame_ids"].explode().drop_nulls()
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    frame = frame_rows(profile, frame_ids)
    inlined = profile.frames.get_column("inlined").fill_null(False).to_numpy()
    stack_id, pos, loc, li = view_rows(starts, frame, inlined, stacks["stack_id"].to_numpy())
    return _arrow.frame(
        {
            "stack_id": stack_id,
            "pos": pos,
            "frame_id": frame_ids,
            "loc": loc,
            "li": li,
            "frame": frame,
        }
    )


def view_rows(
    starts: np.ndarray, frame: np.ndarray, inlined: np.ndarray, stack_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The stack view's per-row columns: int64 stack_id and int32 pos, loc, li of the rows
    of stack s, ``starts[s]:starts[s + 1]``, whose frames are rows ``frame`` of the frames
    table (``inlined``: that table's flags). By the compiled kernel when it was built (one
    pass over the rows instead of a dozen NumPy passes), else :func:`view_rows_numpy`."""
    n = int(starts[-1])
    if _lookup is None or n >= 2**31:
        return view_rows_numpy(starts, frame, inlined, stack_ids)
    stack_id = np.empty(n, dtype=np.int64)
    pos, loc, li = (np.empty(n, dtype=np.int32) for _ in range(3))
    _lookup.stack_rows(
        np.ascontiguousarray(starts, dtype=np.int64),
        np.ascontiguousarray(frame, dtype=np.int32),
        np.ascontiguousarray(inlined, dtype=np.bool_).view(np.uint8),
        np.ascontiguousarray(stack_ids, dtype=np.int64),
        stack_id,
        pos,
        loc,
        li,
    )
    return stack_id, pos, loc, li


def view_rows_numpy(
    starts: np.ndarray, frame: np.ndarray, inlined: np.ndarray, stack_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`view_rows` with NumPy (the reference of the compiled kernel)."""
    lengths = np.diff(starts)
    n = int(starts[-1])
    # Row numbers fit the int32 columns (pos, loc, li are int32), so the passes over the
    # rows are int32: half the memory traffic of int64.
    index = np.int64 if n >= 2**31 else np.int32
    row = np.arange(n, dtype=index)
    row_stack = np.repeat(np.arange(len(lengths), dtype=index), lengths)
    first = starts[:-1].astype(index)  # each stack's first row
    pos = row - first[row_stack]
    # A location ends at a frame that is not inlined into the next one.
    ends = ~inlined[frame]
    before = np.cumsum(ends, dtype=index) - ends  # location ends before each row, globally
    loc = before - before[first][row_stack]
    new_loc = np.ones(n, dtype=bool)  # a row starts a location after an end or a stack start
    new_loc[1:] = ends[:-1] | (pos[1:] == 0)
    loc_start = np.maximum.accumulate(np.where(new_loc, row, 0))
    return (
        np.asarray(stack_ids, dtype=np.int64)[row_stack],
        pos.astype(np.int32, copy=False),
        loc.astype(np.int32, copy=False),
        (row - loc_start).astype(np.int32, copy=False),
    )


def frame_rows(profile: Profile, frame_ids: pl.Series) -> np.ndarray:
    """The row of each of ``frame_ids`` in ``profile.frames`` (int32); ValidationError when
    one is missing there."""
    rows = ids.locate(frame_ids.to_numpy(), profile.frames.get_column("frame_id").to_numpy())
    if len(rows) and int(rows.min()) < 0:
        raise ValidationError("stacks reference frames missing from the frames table")
    return rows


def used_stacks(profile: Profile, samples: pl.DataFrame) -> pl.Series:
    """The distinct stack ids of ``samples``: found by their positions among
    ``profile.stacks`` (the compiled lookup, in the stacks' order) when every one is
    there, where a unique of every sample's id hashes them on Polars' threads."""
    stack_ids = profile.stacks.get_column("stack_id")
    s = samples.get_column("stack_id")
    if len(s) and not s.null_count() and not stack_ids.null_count():
        at = ids.locate(s.to_numpy(), stack_ids.to_numpy())
        if int(at.min()) >= 0:
            seen = np.zeros(len(stack_ids), dtype=bool)
            seen[at.astype(np.intp)] = True
            return stack_ids.filter(_arrow.series("", seen))
    return s.unique()


def stack_count(e: pl.DataFrame) -> int:
    """How many stacks the stack view ``e`` holds (its rows are grouped by stack)."""
    s = e.get_column("stack_id").to_numpy()
    return int(np.count_nonzero(s[1:] != s[:-1])) + 1 if len(s) else 0


def used_frames(profile: Profile, e: pl.DataFrame) -> pl.Series:
    """The ids of the frames the stack view ``e`` uses, in ``profile.frames`` order."""
    used = np.zeros(profile.frames.height, dtype=bool)
    used[e.get_column("frame").to_numpy().astype(np.intp)] = True  # (an int32 index: 2x slower)
    return profile.frames.get_column("frame_id").filter(_arrow.series("", used))


def main_mapping(profile: Profile) -> MainMapping | None:
    """The first mapping (pprof's ``File:`` / ``Build ID:`` header lines).

    pprof keeps a profile.proto's mappings in their order (its "main binary first"
    heuristic only runs for legacy formats) and keeps the first one when merging.
    """
    m = profile.mappings
    if m.height == 0:
        return None
    return MainMapping(m["binary"][0] or "", m["build_id"][0] or "")


def frame_attributes(
    profile: Profile, frame_ids: pl.Series, *, pprof_names: bool = False
) -> pl.DataFrame:
    """Attributes of the given frames, with ``map_file`` (null without a mapping).

    When the profile has no mappings at all, pprof gives every location a fake mapping
    with an empty file name; ``map_file`` is then ``""``. With ``pprof_names``,
    ``function`` is the name ``go tool pprof`` shows (see :mod:`.demangle`), which is also
    what its filters match.
    """
    wanted = pl.DataFrame({"frame_id": frame_ids.unique()})
    frames = profile.frames.join(wanted, on="frame_id", how="semi")
    files = profile.mappings.select("mapping_id", pl.col("binary").alias("map_file"))
    frames = frames.join(files, on="mapping_id", how="left")
    if profile.mappings.height == 0:
        frames = frames.with_columns(pl.lit("").alias("map_file"))
    if pprof_names:
        names = demangle.pprof_function_names(frames["function"], frames["system_name"])
        frames = frames.with_columns(names)
    return frames.select(
        "frame_id",
        pl.col("function"),
        pl.col("file").fill_null(""),
        pl.col("start_line").fill_null(0),
        pl.col("line").fill_null(0),
        pl.col("address").fill_null(0),
        "map_file",
    )


def go_clean(path: str) -> str:
    """Go's filepath.Clean (unlike posixpath.normpath, a leading ``//`` becomes ``/``)."""
    if path == "":
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def go_base(path: str) -> str:
    """Go's filepath.Base."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path.rsplit("/", 1)[-1]
