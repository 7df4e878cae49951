"""From one scanned JFR chunk to columns: events with their stacks, threads and values.

Constant-pool references are resolved with sorted keys and ``np.searchsorted`` (a key
defined twice keeps its last definition); nothing loops over events in Python. The
resolution follows a fixed path (event -> stack trace -> frame -> method -> class ->
symbol, event -> thread, event -> thread state, string -> string pool), so a pool that
refers back to itself cannot make it loop. A reference to a key that no pool defines is a
:class:`FormatError`; key 0 is JFR's null reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from profilelab.errors import FormatError
from profilelab.model.ranges import ranges
from profilelab.readers._jfr_format import (
    KIND_CONSTANT,
    KIND_EVENT,
    NULL_STRING,
    Chunk,
    Metadata,
    Scan,
)

# Event slots (the same for every event type): 0 startTime, 1 thread, 2 stackTrace,
# 3 state, 4 value, 5 contextId, 6 spanId, 7 spanName.
T_START, T_THREAD, T_STACK, T_STATE, T_VALUE, T_CONTEXT, T_SPAN, T_SPAN_NAME = range(8)


def _event(thread: str, value: str | None = None, state: bool = False) -> dict[str, int]:
    slots = {"startTime": T_START, thread: T_THREAD, "stackTrace": T_STACK}
    slots |= {"contextId": T_CONTEXT, "spanId": T_SPAN, "spanName": T_SPAN_NAME}
    if state:
        slots["state"] = T_STATE
    if value:
        slots[value] = T_VALUE
    return slots


#: The fields each event and constant type contributes (see _jfr_format.Wanted).
WANTED: dict[str, Mapping[str, int | tuple[int, Mapping[str, int]]]] = {
    "jdk.ExecutionSample": _event("sampledThread", state=True),
    "profiler.WallClockSample": _event("sampledThread", "samples", state=True),
    "jdk.ObjectAllocationInNewTLAB": _event("eventThread", "tlabSize"),
    "jdk.ObjectAllocationOutsideTLAB": _event("eventThread", "allocationSize"),
    "jdk.ObjectAllocationSample": _event("eventThread", "weight"),
    "jdk.JavaMonitorEnter": _event("eventThread", "duration"),
    "jdk.ThreadPark": _event("eventThread", "duration"),
    "jdk.OldObjectSample": _event("eventThread"),
    "profiler.LiveObject": _event("eventThread"),
    "jdk.ActiveSetting": {"id": 0, "name": 1, "value": 2},
    "jdk.types.StackTrace": {"truncated": 0, "frames": (1, {"method": 0, "lineNumber": 1})},
    "jdk.types.Method": {"type": 0, "name": 1},
    "java.lang.Class": {"name": 0},
    "jdk.types.Symbol": {"string": 0},
    "java.lang.Thread": {"osName": 0, "osThreadId": 1, "javaName": 2, "javaThreadId": 3},
    "jdk.types.ThreadState": {"name": 0},
    "java.lang.String": {},
}

#: Event types whose duration fields are in ticks (converted to nanoseconds).
TICK_VALUES = {"jdk.JavaMonitorEnter", "jdk.ThreadPark"}


@dataclass
class ChunkEvents:
    """The events of one chunk, resolved (one row per event, in file order)."""

    type_name: np.ndarray  # object array of event type names (per distinct type, see codes)
    type_code: np.ndarray  # int64 position in type_name, per event
    time_ns: np.ndarray
    value: np.ndarray  # raw value field (tlabSize, duration in ns, samples...), 0 if none
    stack: np.ndarray  # position in the chunk's stacks, -1 for an event without one
    thread_name: pa.Array  # per event (null when the event has no thread)
    thread_id: np.ndarray
    state: pa.Array  # per event thread state name (null when none)
    context_id: np.ndarray
    span_id: np.ndarray
    span_name: np.ndarray
    # frames (distinct per chunk) and stacks (CSR, leaf first) over them
    frame_class: pa.Array
    frame_method: pa.Array
    frame_line: np.ndarray
    stack_offsets: np.ndarray
    stack_frames: np.ndarray
    stack_truncated: np.ndarray
    settings: list[tuple[int, str, str]]  # ActiveSetting (event type id, name, value)
    type_ids: dict[str, int]


class _Pools:
    """Constant pools of one chunk, by type name: keys (sorted) and record rows."""

    def __init__(self, scan: Scan, meta: Metadata, name: str, where: str) -> None:
        self.scan, self.name, self.where = scan, name, where
        rec = scan.records
        self.records = rec
        self.ids = {n: c.id for n, c in meta.by_name.items()}
        consts = rec[rec[:, 0] == KIND_CONSTANT]
        self.pools: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for type_name in WANTED:
            tid = self.ids.get(type_name)
            rows = consts[consts[:, 1] == tid] if tid is not None else consts[:0]
            # last definition wins: unique over the reversed keys
            keys, first = np.unique(rows[::-1, 2], return_index=True)
            self.pools[type_name] = (keys, rows[::-1][first])
        self.strings = (
            pa.array(scan.strings, pa.string()) if isinstance(scan.strings, list) else scan.strings
        )

    def find(self, type_name: str, keys: np.ndarray, what: str) -> np.ndarray:
        """Rows of ``keys`` in a pool; -1 for key 0 (null); unknown keys are an error."""
        pool_keys, _ = self.pools[type_name]
        pos = np.searchsorted(pool_keys, keys)
        pos_c = np.minimum(pos, max(len(pool_keys) - 1, 0))
        found = (
            (pos < len(pool_keys)) & (pool_keys[pos_c] == keys)
            if len(pool_keys)
            else (np.zeros(len(keys), dtype=bool))
        )
        bad = ~found & (keys != 0)
        if bad.any():
            key = int(keys[np.argmax(bad)])
            raise FormatError(
                f"{self.name}: {self.where}: {what} refers to {type_name} {key}, "
                f"which no constant pool defines"
            )
        return np.where(found, pos_c, -1)

    def slot(self, type_name: str, rows: np.ndarray, slot: int) -> np.ndarray:
        values = self.pools[type_name][1][:, 3 + slot]
        return (
            np.where(rows >= 0, values[np.maximum(rows, 0)], 0)
            if len(values)
            else (np.zeros(len(rows), dtype=np.int64))
        )

    def text(self, values: np.ndarray, what: str) -> np.ndarray:
        """String slot values -> positions in the chunk's string table (-1 for null)."""
        out = np.where(values >= 0, values, NULL_STRING)
        ref = values <= -2
        if ref.any():
            rows = self.find("java.lang.String", np.where(ref, -values - 2, 0), what)
            pooled = self.slot("java.lang.String", rows, 0)
            out = np.where(ref, np.where((rows >= 0) & (pooled >= 0), pooled, -1), out)
        return out

    def take_text(self, index: np.ndarray) -> pa.Array:
        valid = index >= 0
        taken = self.strings.take(pa.array(np.maximum(index, 0)))
        return pc.if_else(pa.array(valid), taken, pa.nulls(len(index), pa.string()))

    def symbols(self, symbol_keys: np.ndarray, what: str) -> pa.Array:
        rows = self.find("jdk.types.Symbol", symbol_keys, what)
        return self.take_text(
            np.where(rows >= 0, self.text(self.slot("jdk.types.Symbol", rows, 0), what), -1)
        )


def resolve(scan: Scan, meta: Metadata, chunk: Chunk, name: str) -> ChunkEvents:
    """Resolve the records of one chunk into events, frames and stacks."""
    where = f"JFR chunk at byte {chunk.start}"
    pools = _Pools(scan, meta, name, where)
    rec = scan.records
    events = rec[rec[:, 0] == KIND_EVENT]
    setting_id = pools.ids.get("jdk.ActiveSetting", -1)
    settings_rows = events[events[:, 1] == setting_id]
    events = events[events[:, 1] != setting_id]
    type_by_id = {c.id: c.name for c in meta.classes.values()}
    codes, type_code = np.unique(events[:, 1], return_inverse=True)
    type_name = np.array([type_by_id[int(t)] for t in codes], dtype=object)
    slot = events[:, 3:]

    stacks = _stacks(pools, scan)
    stack = pools.find("jdk.types.StackTrace", slot[:, T_STACK], "an event's stack trace")
    threads = pools.find("java.lang.Thread", slot[:, T_THREAD], "an event's thread")
    java_name = pools.text(pools.slot("java.lang.Thread", threads, 2), "a thread name")
    os_name = pools.text(pools.slot("java.lang.Thread", threads, 0), "a thread name")
    java_id = pools.slot("java.lang.Thread", threads, 3)
    os_id = pools.slot("java.lang.Thread", threads, 1)
    states = pools.find("jdk.types.ThreadState", slot[:, T_STATE], "an event's thread state")
    state = pools.text(pools.slot("jdk.types.ThreadState", states, 0), "a thread state")

    value = slot[:, T_VALUE].copy()
    ticks = np.isin(type_code, [i for i, n in enumerate(type_name) if n in TICK_VALUES])
    value[ticks] = _ticks_to_ns(value[ticks], chunk.ticks_per_second)
    setting_text = [
        pools.take_text(pools.text(settings_rows[:, 3 + i], "a setting")).to_pylist()
        for i in (1, 2)
    ]
    return ChunkEvents(
        type_name=type_name,
        type_code=type_code.astype(np.int64),
        time_ns=chunk.start_ns
        + _ticks_to_ns(slot[:, T_START] - chunk.start_ticks, chunk.ticks_per_second),
        value=value,
        stack=stack,
        thread_name=pools.take_text(np.where(java_name >= 0, java_name, os_name)),
        thread_id=np.where(threads < 0, 0, np.where(java_id != 0, java_id, os_id)),
        state=pools.take_text(state),
        context_id=slot[:, T_CONTEXT].copy(),
        span_id=slot[:, T_SPAN].copy(),
        span_name=slot[:, T_SPAN_NAME].copy(),
        settings=[
            (int(i), n or "", v or "")
            for i, n, v in zip(settings_rows[:, 3], *setting_text, strict=True)
        ],
        type_ids=pools.ids,
        **stacks,
    )


def _ticks_to_ns(ticks: np.ndarray, per_second: int) -> np.ndarray:
    """Ticks to nanoseconds without overflow: whole seconds exactly, the rest rounded."""
    q, r = np.divmod(ticks.astype(np.int64), np.int64(per_second))
    return q * 1_000_000_000 + np.rint(r * (1e9 / per_second)).astype(np.int64)


def _stacks(pools: _Pools, scan: Scan) -> dict[str, Any]:
    """Distinct frames (method, line) and every stack trace as a CSR list over them."""
    _, st = pools.pools["jdk.types.StackTrace"]
    starts, counts = st[:, 4], st[:, 5]
    items = scan.items
    if len(counts) and ((starts < 0) | (starts + counts > len(items))).any():
        raise FormatError(f"{pools.name}: {pools.where}: stack trace frames out of range")
    offsets = np.zeros(len(st) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = ranges(starts, counts)
    method_key = items[flat, 0] if len(flat) else np.zeros(0, dtype=np.int64)
    line = items[flat, 1] if len(flat) else np.zeros(0, dtype=np.int64)
    # lineNumber is a Java int, written as its unsigned 32 bits: the JDK writes -1 (native
    # and unknown lines), which becomes 0, pprof's "no line", as Pyroscope's converter has it
    line = np.where(line >= 2**31, 0, line)
    methods = pools.find("jdk.types.Method", method_key, "a stack frame's method")
    pair = pl.DataFrame({"m": methods, "line": line})
    distinct = pair.unique(maintain_order=True).with_row_index("frame")
    frame_of = pair.join(distinct, on=["m", "line"], how="left", maintain_order="left")
    m = distinct["m"].to_numpy()
    classes = pools.find("java.lang.Class", pools.slot("jdk.types.Method", m, 0), "a method")
    class_name = pools.symbols(pools.slot("java.lang.Class", classes, 0), "a class name")
    method_name = pools.symbols(pools.slot("jdk.types.Method", m, 1), "a method name")
    return {
        "frame_class": class_name,
        "frame_method": method_name,
        "frame_line": distinct["line"].to_numpy(),
        "stack_offsets": offsets,
        "stack_frames": frame_of["frame"].to_numpy().astype(np.int64),
        "stack_truncated": st[:, 3] != 0,
    }
