"""Java Flight Recorder reader: ``.jfr`` recordings (JDK and async-profiler), any number of chunks.

The bytes are walked by :mod:`profilelab.readers._jfr_format` (chunk headers, metadata,
record programs) and scanned by the compiled kernel ``_native/_jfr.c`` (or its pure-Python
reference when the kernel is not built); :mod:`profilelab.readers._jfr_events` resolves
the constant pools with numpy. Each kind of event becomes one RawProfile, named as
Pyroscope's JFR converter names it (its ``__name__`` in brackets):

* ``jdk.ExecutionSample`` (not ``STATE_SLEEPING``): ``cpu/nanoseconds``, period type ``cpu``
  [process_cpu]; with async-profiler's ``event=wall`` also ``wall/nanoseconds`` [wall]
  (``profiler.WallClockSample`` too);
* ``jdk.ObjectAllocationInNewTLAB``, ``jdk.ObjectAllocationOutsideTLAB``,
  ``jdk.ObjectAllocationSample``: ``alloc_in_new_tlab_objects/count`` and
  ``alloc_in_new_tlab_bytes/bytes`` (``alloc_outside_tlab_*``, ``alloc_sample_*``), period
  type ``space`` [memory];
* ``jdk.JavaMonitorEnter``: ``contentions/count``, ``delay/nanoseconds``, period type
  ``mutex`` [mutex]; ``jdk.ThreadPark``: the same, period type ``block`` [block];
* ``jdk.OldObjectSample``, ``profiler.LiveObject``: ``live/count``, period type ``objects``
  [memory].

CPU and wall samples are worth the sampling interval (async-profiler's ``interval``
setting, else the JDK's ``period`` setting of ``jdk.ExecutionSample``, else 10 ms).
Every sample keeps its timestamp and the labels ``thread.name``, ``thread.id`` and, for
execution samples, ``thread.state``; with a Pyroscope labels snapshot its context labels
too, and async-profiler span ids become ``span_id``. Frames are named
``class.method`` with the JVM's class names (``java/lang/Thread.run``), generated class
names merged (``App$$Lambda$14/0x…`` -> ``App$$Lambda_``), as Pyroscope names them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from profilelab.errors import FormatError
from profilelab.model import ids
from profilelab.model.ranges import ranges
from profilelab.model.raw import RawProfile
from profilelab.readers import _jfr_native
from profilelab.readers._input import Input
from profilelab.readers._jfr_events import WANTED, ChunkEvents, resolve
from profilelab.readers._jfr_format import (
    Chunk,
    Metadata,
    Programs,
    Scan,
    ScanError,
    chunks,
    compile_programs,
    metadata_bytes,
    read_metadata,
    scan_reference,
)
from profilelab.readers._jfr_labels import ContextLabels, parse_labels_snapshot
from profilelab.readers._stacks import NamedStacks, build_raw

FORMAT = "jfr"
DEFAULT_INTERVAL_NS = 10_000_000


@dataclass(frozen=True)
class Kind:
    """One RawProfile of a recording: which events, their sample types and period type."""

    name: str  # Pyroscope's __name__
    sample_types: tuple[tuple[str, str], ...]
    period_type: tuple[str, str]


CPU = Kind("process_cpu", (("cpu", "nanoseconds"),), ("cpu", "nanoseconds"))
WALL = Kind("wall", (("wall", "nanoseconds"),), ("wall", "nanoseconds"))
_ALLOC = {
    "jdk.ObjectAllocationInNewTLAB": "alloc_in_new_tlab",
    "jdk.ObjectAllocationOutsideTLAB": "alloc_outside_tlab",
    "jdk.ObjectAllocationSample": "alloc_sample",
}
#: Event type -> kind, for the events whose kind does not depend on the thread state.
KINDS: dict[str, Kind] = {
    **{
        event: Kind(
            "memory", ((f"{p}_objects", "count"), (f"{p}_bytes", "bytes")), ("space", "bytes")
        )
        for event, p in _ALLOC.items()
    },
    "jdk.JavaMonitorEnter": Kind(
        "mutex", (("contentions", "count"), ("delay", "nanoseconds")), ("mutex", "count")
    ),
    "jdk.ThreadPark": Kind(
        "block", (("contentions", "count"), ("delay", "nanoseconds")), ("block", "count")
    ),
    "jdk.OldObjectSample": Kind("memory", (("live", "count"),), ("objects", "count")),
    "profiler.LiveObject": Kind("memory", (("live", "count"),), ("objects", "count")),
}
_SAMPLING = ("jdk.ExecutionSample", "profiler.WallClockSample")

#: Generated class and library names that Pyroscope merges (its symbol processing): the
#: varying part becomes ``_`` so that equal code gets one frame name across restarts.
SYMBOL_MERGES: tuple[tuple[str, str], ...] = (
    (r"^(jdk/internal/reflect/GeneratedMethodAccessor)\d+$", "${1}_"),
    (r"^(.+\$\$Lambda)(\$?\d*[./](0x)?[\da-f]+|\d+)$", "${1}_"),
    (r"^(\.?/tmp/)?(libzstd-jni-\d+\.\d+\.\d+-)(\d+)(\.so)( \(deleted\))?$", "libzstd-jni-_.so"),
    (
        r"^(\.?/tmp/)?(lib)?(amazonCorrettoCryptoProvider)(NativeLibraries\.)?([0-9a-f]{16})"
        r"(/libcrypto|/libamazonCorrettoCryptoProvider)?(\.so)( \(deleted\))?$",
        "libamazonCorrettoCryptoProvider_.so",
    ),
    (
        r"^(\.?/tmp/)?(libasyncProfiler)-(linux-arm64|linux-musl-x64|linux-x64|macos)-"
        r"(17b9a1d8156277a98ccc871afa9a8f69215f92)(\.so)( \(deleted\))?$",
        "libasyncProfiler-_.so",
    ),
    (r"^(.+\$\$EnhancerBySpringCGLIB\$\$)(.*)$", "${1}_"),
)


def read(inp: Input) -> list[RawProfile]:
    """Decode a recording (without context labels)."""
    return read_recording(inp)


def read_recording(inp: Input, labels: bytes | ContextLabels | None = None) -> list[RawProfile]:
    """Decode a recording; ``labels`` is a Pyroscope LabelsSnapshot (bytes or parsed)."""
    contexts = (
        parse_labels_snapshot(labels, f"{inp.name} labels") if isinstance(labels, bytes) else labels
    )
    found = chunks(inp.data, inp.name)
    if not found:
        raise FormatError(f"{inp.name}: JFR recording without chunks")
    compiled: _Compiled = {}
    parts = [_chunk_events(inp.data, c, inp.name, compiled) for c in found]
    raws = _assemble(parts, inp.name, inp.content_id(), contexts or {})
    start = min(c.start_ns for c in found)  # the recording's span: from its chunk headers
    end = max(c.start_ns + c.duration_ns for c in found)
    for raw in raws:
        raw.time_ns, raw.duration_ns = start, end - start
    return raws


_Compiled = dict[bytes, tuple[Metadata, Programs]]


def _chunk_events(data: bytes, chunk: Chunk, name: str, compiled: _Compiled) -> ChunkEvents:
    """One chunk's events; chunks with the same metadata bytes share their programs."""
    key = metadata_bytes(data, chunk)
    if key in compiled:
        meta, programs = compiled[key]
    else:
        meta = read_metadata(data, chunk, name)
        try:
            programs = compile_programs(meta, WANTED)
        except FormatError as exc:
            raise exc.with_context(name) from None
        if key:
            compiled[key] = (meta, programs)
    try:
        scan = _scan(data, chunk, programs)
    except ScanError as exc:
        raise FormatError(f"{name}: JFR chunk at byte {chunk.start}: {exc}") from None
    return resolve(scan, meta, chunk, name)


def _scan(data: bytes, chunk: Chunk, programs: Programs) -> Scan:
    if _jfr_native.available():
        return _jfr_native.scan(data, chunk, programs)
    return scan_reference(data, chunk, programs)


# --- assembling the chunks into RawProfiles ---------------------------------------------------


@dataclass
class _Events:
    """All chunks' events, concatenated, with global stack positions."""

    type_name: np.ndarray  # per event
    time_ns: np.ndarray
    value: np.ndarray
    stack: np.ndarray
    thread_name: pa.Array
    thread_id: np.ndarray
    state: pa.Array
    context_id: np.ndarray
    span_id: np.ndarray
    span_name: np.ndarray


def _assemble(
    parts: list[ChunkEvents], name: str, digest: int, contexts: ContextLabels
) -> list[RawProfile]:
    stacks, stack_maps = _stacks(parts)
    ev = _concat_events(parts, stack_maps)
    setting = _settings(parts)
    interval = setting.interval
    raws = []
    for kind, select, values in _kinds(ev, setting.event, interval):
        if not select.any():
            continue
        raw = _raw_profile(kind, stacks, ev, select, values, name)
        raw.period = interval if kind in (CPU, WALL) else 0
        raw.profile_labels = [("__name__", kind.name)]
        _add_labels(raw, ev, select, contexts)
        raws.append(raw)
    for i, raw in enumerate(raws):
        raw.source_id = digest if len(raws) == 1 else _source_id(digest, i)
    if not raws:
        raise FormatError(
            f"{name}: JFR recording has no sample events "
            "(execution samples, allocations, monitor enters, parks or live objects)"
        )
    return raws


def _source_id(digest: int, position: int) -> int:
    h = ids.fold(ids.hash_ints(np.array([digest])), ids.hash_ints(np.array([position])))
    return int(ids.as_id(h)[0])


def _kinds(
    ev: _Events, event_setting: str, interval: int
) -> Iterator[tuple[Kind, np.ndarray, list[np.ndarray]]]:
    """(kind, selected events, value columns) per kind, in a fixed order."""
    is_sample = np.isin(ev.type_name, _SAMPLING)
    wall_clock = ev.type_name == "profiler.WallClockSample"
    count = np.where(wall_clock, np.maximum(ev.value, 1), 1)
    state = ev.state.fill_null("").to_numpy(zero_copy_only=False)
    running = state == "STATE_RUNNABLE"
    has_stack = ev.stack >= 0
    wall_mode = event_setting == "wall"
    cpu = (
        is_sample
        & has_stack
        & np.where(wall_clock, running & wall_mode, (state != "STATE_SLEEPING") & (state != ""))
    )
    wall = is_sample & has_stack & (wall_clock | wall_mode)
    yield CPU, cpu, [count * interval]
    yield WALL, wall, [count * interval]
    seen: set[Kind] = set()
    for kind in KINDS.values():
        if kind in seen:
            continue
        seen.add(kind)
        events = [e for e, k in KINDS.items() if k == kind]
        select = np.isin(ev.type_name, events) & has_stack
        values = [np.ones(len(ev.value), dtype=np.int64)]
        if len(kind.sample_types) == 2:
            values.append(ev.value)
        yield kind, select, values


@dataclass
class _Setting:
    event: str
    interval: int


def _settings(parts: list[ChunkEvents]) -> _Setting:
    """async-profiler's ``event``/``interval`` settings, or the JDK's execution sample period."""
    event, interval = "", 0
    for part in parts:
        sample_id = part.type_ids.get("jdk.ExecutionSample")
        for type_id, key, value in part.settings:
            if key == "event":
                event = value
            elif key == "interval" and value.isdigit():
                interval = int(value)
            elif key == "period" and type_id == sample_id and interval == 0:
                interval = _duration_ns(value)
    if event not in ("", "cpu", "itimer", "wall") and not event.startswith("cpu"):
        interval = 0  # the interval of another event (alloc bytes, lock ns)
    return _Setting(event, interval or DEFAULT_INTERVAL_NS)


_DURATION = re.compile(r"^\s*(\d+)\s*(ns|us|ms|s|m|h|d)\s*$")
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
}


def _duration_ns(text: str) -> int:
    """A JFR setting duration ("20 ms", "1 s"); 0 for anything else ("everyChunk", "off")."""
    m = _DURATION.match(text)
    return int(m.group(1)) * _UNITS[m.group(2)] if m else 0


def _stacks(parts: list[ChunkEvents]) -> tuple[NamedStacks, list[np.ndarray]]:
    """All chunks' stacks over distinct frames, equal stacks once; per chunk, the global
    stack of each of its stacks (chunks of one recording repeat most of their stacks)."""
    frames = pl.DataFrame(
        {
            "c": pl.Series(pa.concat_arrays([p.frame_class.cast(pa.string()) for p in parts])),
            "m": pl.Series(pa.concat_arrays([p.frame_method.cast(pa.string()) for p in parts])),
            "line": np.concatenate([p.frame_line for p in parts]),
        }
    )
    distinct = frames.unique(maintain_order=True).with_row_index("frame")
    frame_of = frames.join(
        distinct, on=["c", "m", "line"], how="left", maintain_order="left", nulls_equal=True
    )["frame"].to_numpy()
    frame_base = np.cumsum([0] + [len(p.frame_line) for p in parts])
    lists = pa.concat_arrays(
        [
            pa.ListArray.from_arrays(
                pa.array(p.stack_offsets.astype(np.int32)),
                pa.array(frame_of[p.stack_frames + base].astype(np.int64)),
            )
            for p, base in zip(parts, frame_base[:-1], strict=True)
        ]
    )
    table = pl.DataFrame({"stack": pl.Series(lists)})
    unique = table.unique(maintain_order=True).with_row_index("id")
    stack_of = table.join(unique, on="stack", how="left", maintain_order="left")["id"].to_numpy()
    stack_base = np.cumsum([0] + [len(p.stack_offsets) - 1 for p in parts])
    flat = unique["stack"]
    lengths = flat.list.len().fill_null(0).to_numpy().astype(np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    stacks = NamedStacks(
        frame_name=_frame_names(distinct["c"].to_arrow(), distinct["m"].to_arrow()),
        stack_offsets=offsets,
        stack_frames=flat.explode().drop_nulls().to_numpy().astype(np.int64),
        frame_line=distinct["line"].to_numpy(),
    )
    per_chunk = [stack_of[lo:hi].astype(np.int64) for lo, hi in itertools.pairwise(stack_base)]
    return stacks, per_chunk


def _used(stacks: NamedStacks, sample_stack: np.ndarray) -> tuple[NamedStacks, np.ndarray]:
    """Only the stacks some sample uses (each kind of event has its own), renumbered."""
    used, inverse = np.unique(sample_stack, return_inverse=True)
    lengths = np.diff(stacks.stack_offsets)[used]
    offsets = np.zeros(len(used) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    sub = NamedStacks(
        frame_name=stacks.frame_name,
        stack_offsets=offsets,
        stack_frames=stacks.stack_frames[ranges(stacks.stack_offsets[used], lengths)],
        frame_line=stacks.frame_line,
    )
    return sub, inverse.astype(np.int64)


def _frame_names(cls: pa.Array, meth: pa.Array) -> pa.Array:
    """``class.method`` after Pyroscope's merges of generated names (distinct names only)."""
    frame = pl.DataFrame({"c": pl.Series(cls).fill_null(""), "m": pl.Series(meth).fill_null("")})
    for col in ("c", "m"):
        expr = pl.col(col)
        for pattern, repl in SYMBOL_MERGES:
            expr = expr.str.replace(pattern, repl)
        frame = frame.with_columns(expr)
    return frame.select(pl.concat_str("c", pl.lit("."), "m"))[:, 0].to_arrow().cast(pa.string())


def _concat_events(parts: list[ChunkEvents], stack_maps: list[np.ndarray]) -> _Events:
    def cat(attr: str) -> np.ndarray:
        return np.concatenate([getattr(p, attr) for p in parts])

    return _Events(
        type_name=np.concatenate([p.type_name[p.type_code] for p in parts]).astype(str)
        if any(len(p.type_code) for p in parts)
        else np.zeros(0, dtype=str),
        time_ns=cat("time_ns"),
        value=cat("value"),
        stack=np.concatenate(
            [
                np.where(p.stack >= 0, m[np.maximum(p.stack, 0)] if len(m) else -1, -1)
                for p, m in zip(parts, stack_maps, strict=True)
            ]
        ),
        thread_name=pa.concat_arrays([p.thread_name.cast(pa.string()) for p in parts]),
        thread_id=cat("thread_id"),
        state=pa.concat_arrays([p.state.cast(pa.string()) for p in parts]),
        context_id=cat("context_id"),
        span_id=cat("span_id"),
        span_name=cat("span_name"),
    )


def _raw_profile(
    kind: Kind,
    stacks: NamedStacks,
    ev: _Events,
    select: np.ndarray,
    values: list[np.ndarray],
    name: str,
) -> RawProfile:
    sub, sample_stack = _used(stacks, ev.stack[select])
    raw = build_raw(
        sub,
        sample_stack,
        np.stack([v[select] for v in values], axis=1),
        source=name,
        fmt=FORMAT,
        sample_types=list(kind.sample_types),
    )
    raw.period_type = kind.period_type
    raw.sample_time_ns = ev.time_ns[select]
    raw.sample_time_valid = np.ones(int(select.sum()), dtype=bool)
    return raw


def _add_labels(raw: RawProfile, ev: _Events, select: np.ndarray, contexts: ContextLabels) -> None:
    """Per-sample labels, built once per distinct (thread, state, context, span) combination."""
    idx = np.flatnonzero(select)
    combos = pl.DataFrame(
        {
            "thread.name": pl.Series(ev.thread_name.take(pa.array(idx))),
            "thread.id": ev.thread_id[idx],
            "thread.state": pl.Series(ev.state.take(pa.array(idx))),
            "context": ev.context_id[idx],
            "span": ev.span_id[idx],
        }
    )
    distinct = combos.unique(maintain_order=True).with_row_index("combo")
    combo_of = combos.join(
        distinct, on=combos.columns, how="left", maintain_order="left", nulls_equal=True
    )["combo"].to_numpy()
    lists = [_combo_labels(row, contexts) for row in distinct.iter_rows(named=True)]
    counts = np.array([len(x) for x in lists], dtype=np.int64)
    flat_keys = [k for x in lists for k, _ in x]
    flat_vals = [v for x in lists for _, v in x]
    base = len(raw.strings)
    extra = pa.array(flat_keys + flat_vals, pa.string())
    raw.strings = pa.concat_arrays([raw.strings.cast(pa.string()), extra])
    n = len(flat_keys)
    combo_start = np.cumsum(counts) - counts
    per_sample = counts[combo_of]
    raw.label_offsets = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(per_sample, out=raw.label_offsets[1:])
    rows = ranges(combo_start[combo_of], per_sample)
    raw.label_key = base + rows
    raw.label_str = base + n + rows
    raw.label_num = np.zeros(len(rows), dtype=np.int64)
    raw.label_unit = np.zeros(len(rows), dtype=np.int64)


def _combo_labels(row: dict[str, object], contexts: ContextLabels) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if row["thread.name"] is not None:
        out.append(("thread.name", str(row["thread.name"])))
    if row["thread.id"]:
        out.append(("thread.id", str(row["thread.id"])))
    if row["thread.state"]:
        out.append(("thread.state", str(row["thread.state"])))
    out.extend(contexts.get(int(row["context"]), []))  # type: ignore[call-overload]
    span = int(row["span"])  # type: ignore[call-overload]
    if span:
        out.append(("span_id", f"{span & 0xFFFFFFFFFFFFFFFF:016x}"))
    return out
