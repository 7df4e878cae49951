"""Regrouping frames into pprof locations, in an order that keeps the frames table's rows.

The canonical tables keep frames (one per line of a pprof location, leaf first); pprof
wants locations (one address with its inline lines). A frame with ``inlined=True`` shares
the location of the next frame towards the root, so every stack cuts into location
"runs"; distinct runs are the locations. Writing them in :func:`_emission_order` makes a
pprof -> tables -> pprof -> tables round trip list the frames in the same row order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from profilelab.model import ids


class Runs:
    """Stacks (CSR of frame ids) cut into location runs, and the distinct runs."""

    def __init__(self, flat_ids: np.ndarray, depth: np.ndarray, frames: pl.DataFrame) -> None:
        self.stack_offsets = np.zeros(len(depth) + 1, dtype=np.int64)
        np.cumsum(depth, out=self.stack_offsets[1:])
        all_ids = frames["frame_id"].to_numpy()
        order = np.argsort(all_ids, kind="stable")
        self.fpos = order[np.searchsorted(all_ids[order], flat_ids)]  # frame row per slot
        inlined = frames["inlined"].to_numpy()[self.fpos]
        # A location starts at each stack's leaf and after every frame that is not inlined.
        self.start = np.ones(len(flat_ids), dtype=bool)
        self.start[1:] = ~inlined[:-1]
        self.start[self.stack_offsets[:-1][depth > 0]] = True
        self.run_offsets = np.append(np.nonzero(self.start)[0], len(flat_ids)).astype(np.int64)
        key = ids.hash_sequences(flat_ids.view(np.uint64), self.run_offsets)
        _, self.first, self.inverse = np.unique(key, return_index=True, return_inverse=True)
        self.table_pos = frames["_order"].to_numpy()[self.fpos]

    def emission_order(self) -> tuple[np.ndarray, list[int]]:
        loc_offsets = np.concatenate([[0], np.cumsum(np.diff(self.run_offsets)[self.first])])
        slots = _csr_take(self.run_offsets, self.first)
        return _emission_order(loc_offsets.astype(np.int64), self.table_pos[slots])


def unused_locations(frames: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Frames no stack uses, regrouped into locations: (frame ids, frames per location).

    Reading pprof emits a location's frames consecutively (innermost first, the caller
    last, all with the location's address, mapping and folded flag), except frames already
    emitted for another location. So a run of unused frames ends after a frame that is not
    inlined or where that key changes; a run that ends on an inlined frame is completed by
    :func:`_callers`. Loops over unused frames only (pprof inputs have few).
    """
    cols = frames.select(
        "frame_id",
        "inlined",
        pl.struct("address", "mapping_id", "folded").alias("key"),  # shared by a location
        "_used",
        pl.col("function").is_not_null(),
    ).rows()
    unused = [i for i, row in enumerate(cols) if not row[3]]
    runs: list[list[int]] = []
    for i in unused:
        _, _, key, _, named = cols[i]
        last = runs[-1] if runs else None
        if named and last and cols[last[-1]][1] and cols[last[-1]][2] == key:
            last.append(i)
        else:
            runs.append([i])
    ids: list[int] = []
    depth: list[int] = []
    for run in runs:
        if cols[run[-1]][1]:  # inlined last frame: find the rest of its location
            run = run + _callers(cols, run[-1])
        ids += [cols[j][0] for j in run]
        depth.append(len(run))
    return np.array(ids, dtype=np.int64), np.array(depth, dtype=np.int64)


def _callers(cols: list[tuple[Any, ...]], last: int) -> list[int]:
    """The used frames that complete a location whose unused frames end at row ``last``:
    the rows right after it when they finish the location (it introduced them), else the
    nearest earlier non-inlined frame with a function, the same address, mapping and
    folded flag."""
    key = cols[last][2]
    ahead = []
    for j in range(last + 1, len(cols)):
        if not cols[j][4] or cols[j][2] != key:
            break
        ahead.append(j)
        if not cols[j][1]:
            return ahead
    for j in range(last - 1, -1, -1):
        if not cols[j][1] and cols[j][4] and cols[j][2] == key:
            return [j]
    return []


def _csr_take(offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The flat positions of CSR ``rows`` (in the given order), concatenated."""
    start = offsets[:-1][rows]
    length = offsets[1:][rows] - start
    shift = np.repeat(start - (np.cumsum(length) - length), length)
    return shift + np.arange(int(length.sum()), dtype=np.int64)


def _emission_order(offsets: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """An order of locations whose frames, emitted location by location and deduplicated,
    come out in frames-table order (``positions``: each location's frames' table rows).

    Reading pprof builds the frames table exactly that way, so writing locations in this
    order makes a round trip keep the frames table's row order. Greedy over table rows:
    for the next row not yet emitted, pick a location that introduces exactly the next
    rows in order. Loops over locations, never over samples. Also returns the rows no
    location introduces that way (a standalone location of that frame would).
    """
    n = len(offsets) - 1
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    n_rows = int(positions.max()) + 1 if len(positions) else 0
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    by_row = np.argsort(positions, kind="stable")
    row_starts = np.searchsorted(positions[by_row], np.arange(n_rows + 1))
    seqs = [positions[offsets[i] : offsets[i + 1]].tolist() for i in range(n)]
    done = np.zeros(n_rows, dtype=bool)
    emitted = np.zeros(n, dtype=bool)
    order: list[int] = []
    missing: list[int] = []
    for row in range(n_rows):
        if done[row]:
            continue
        candidates = owner[by_row[row_starts[row] : row_starts[row + 1]]].tolist()
        chosen = next(
            (c for c in candidates if not emitted[c] and _introduces(seqs[c], done, row)), None
        )
        if chosen is None:
            missing.append(row)
            chosen = next((c for c in candidates if not emitted[c]), None)
            if chosen is None:
                continue
        emitted[chosen] = True
        order.append(chosen)
        done[seqs[chosen]] = True
    order += np.nonzero(~emitted)[0].tolist()
    return np.asarray(order, dtype=np.int64), missing


def _introduces(seq: list[int], done: np.ndarray, row: int) -> bool:
    """Whether emitting ``seq`` now adds exactly rows ``row, row + 1, ...`` in that order."""
    fresh = [p for p in seq if not done[p]]
    return fresh == list(range(row, row + len(fresh)))
