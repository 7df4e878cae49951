"""Replaying trace-event lanes that do not nest, the way speedscope's importer repairs them.

Only lanes that the array path of :mod:`profilelab.readers.trace_event` finds inconsistent
come here (unbalanced, out of order, ends of other names): real tools rarely write them,
and they are replayed event by event in linear time (plus a look-ahead over ends that share
one timestamp).

Rules (speedscope ``src/import/trace-event.ts``): begins are taken in ``ts`` order, ties in
file order with complete events after, longer first; ends in ``ts`` order, ties in file
order. At equal times an end goes first unless it ends the very begin at the head of the
queue (a zero-length event). Before taking an end, an end of the same time that matches
the innermost open event by key (name and args), else by name, is taken first. An end of
another name than the innermost open event, or with nothing open, is ignored; an end
without a name closes the innermost event.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import polars as pl

COLUMNS = ["lane", "ts_ns", "is_open", "idx"]


def replay(rows: pl.DataFrame, table: pl.DataFrame, events: list[Any]) -> pl.DataFrame:
    """The begin/end rows (see ``trace_event._begin_end_rows``) of the lanes to repair, as
    the events that take effect, in order: lane, ts_ns, is_open, idx."""
    out: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    if not rows.height:
        return pl.DataFrame(out, schema=dict(zip(COLUMNS, _SCHEMA, strict=True)))
    names = table["name"].to_list()
    for (lane,), group in rows.group_by("lane", maintain_order=True):
        begins = group.filter(pl.col("is_open")).sort(["ts_ns", "k1", "f2", "idx"])
        ends = group.filter(~pl.col("is_open")).sort(
            ["ts_ns", "k1", "start_ns", "dur_ns", "idx"],
            descending=[False, False, False, True, False],
        )
        for ts, is_open, idx in _replay_lane(
            list(zip(begins["ts_ns"], begins["idx"], strict=True)),
            list(zip(ends["ts_ns"], ends["idx"], strict=True)),
            names,
            events,
        ):
            out["lane"].append(lane)
            out["ts_ns"].append(ts)
            out["is_open"].append(is_open)
            out["idx"].append(idx)
    return pl.DataFrame(out, schema=dict(zip(COLUMNS, _SCHEMA, strict=True)))


_SCHEMA = [pl.UInt32, pl.Int64, pl.Boolean, pl.Int64]


def _key(idx: int, names: list[Any], events: list[Any]) -> str:
    """speedscope's event id: the name, and the args as JSON when there are any."""
    key = names[idx] or "(unnamed)"
    args = events[idx].get("args")
    if args is not None:
        key += " " + json.dumps(args, separators=(",", ":"), ensure_ascii=False)
    return key


def _replay_lane(
    begins: list[tuple[int, int]],
    ends: list[tuple[int, int]],
    names: list[Any],
    events: list[Any],
) -> list[tuple[int, bool, int]]:
    b_queue, e_queue = deque(begins), deque(ends)
    stack: list[int] = []
    done: list[tuple[int, bool, int]] = []
    while b_queue or e_queue:
        if _take_begin(b_queue, e_queue, names, events):
            ts, idx = b_queue.popleft()
            stack.append(idx)
            done.append((ts, True, idx))
            continue
        if stack:
            _bring_match_forward(e_queue, stack[-1], names, events)
        ts, idx = e_queue.popleft()
        if stack and (names[idx] is None or names[idx] == names[stack[-1]]):
            stack.pop()
            done.append((ts, False, idx))
    return done


def _take_begin(
    b_queue: deque[tuple[int, int]],
    e_queue: deque[tuple[int, int]],
    names: list[Any],
    events: list[Any],
) -> bool:
    if not e_queue:
        return True
    if not b_queue:
        return False
    (b_ts, b_idx), (e_ts, e_idx) = b_queue[0], e_queue[0]
    if b_ts != e_ts:
        return b_ts < e_ts
    return _key(b_idx, names, events) == _key(e_idx, names, events)


def _bring_match_forward(
    e_queue: deque[tuple[int, int]], top: int, names: list[Any], events: list[Any]
) -> None:
    """Move to the front the first end of the front's time matching ``top`` by key, else
    by name (speedscope swaps the two)."""
    front_ts = e_queue[0][0]
    same = []
    for i in range(1, len(e_queue)):
        if e_queue[i][0] > front_ts:
            break
        same.append(i)
    top_key = _key(top, names, events)
    for match in (
        lambda idx: _key(idx, names, events) == top_key,
        lambda idx: names[idx] == names[top],
    ):
        for i in same:
            if match(e_queue[i][1]):
                e_queue[0], e_queue[i] = e_queue[i], e_queue[0]
                return
