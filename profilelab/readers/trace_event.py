"""Chrome trace-event JSON: Chrome/Perfetto ``chrome://tracing`` files, DevTools exports,
py-spy's ``--format chrometrace``.

The file is a JSON array of events or an object with a ``traceEvents`` array (a trailing
``]`` may be missing, as the spec allows). Read: duration events ``B``/``E`` and complete
events ``X`` (``ts`` and ``dur``, or ``tdur``, in microseconds); metadata ``M`` events
``process_name`` and ``thread_name``. Everything else is ignored.

* **Lanes.** Events nest per (pid, tid) lane. Every sample carries the string labels
  ``pid`` and ``tid``, plus ``process_name`` / ``thread_name`` when the metadata names them.
* **Samples.** Between two consecutive events of a lane, the open events form a stack
  (outermost at the root): that interval is one sample of type ``wall/nanoseconds``
  weighted by its length, with ``time_ns`` its start on the trace clock (``ts`` x 1000;
  not Unix time). Events still open at the lane's last timestamp are closed there.
* **Frames.** An event's ``name`` (``(unnamed)`` when missing) is the function; its
  ``args.filename`` / ``args.url`` / ``args.file`` the file and ``args.line`` the line
  (py-spy writes both). speedscope names frames ``name {args as JSON}``; here other args
  are not part of the name, so events differing only in args are one function.
* **Ordering and repairs** follow speedscope's importer: begins in ``ts`` order (ties in
  file order, complete events longer first), an end closes the innermost open event of
  its name; an end whose name is not the innermost open one, or with nothing open, is
  ignored. An ``E`` without a name closes the innermost event (the spec does not require
  names on ``E``; speedscope would ignore it). Well-nested lanes are decoded with array
  operations; only lanes that need repairs are replayed event by event
  (:mod:`profilelab.readers._trace_event_repair`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from profilelab.errors import FormatError
from profilelab.model.ids import digest_bytes
from profilelab.model.raw import RawProfile
from profilelab.readers import _trace_cpuprofile as cpu
from profilelab.readers import _trace_event_repair as repair
from profilelab.readers import _trace_samples as samples_form
from profilelab.readers._input import Input
from profilelab.readers._speedscope_evented import _paths, _tree
from profilelab.readers._stacks import NamedStacks, add_sample_labels, build_raw
from profilelab.readers._trace_columns import convert, lane_column

FORMAT = "trace-event"
_FILE_KEYS = ("filename", "url", "file")
_EVENT = pa.struct(
    [
        ("ph", pa.string()),
        ("dur", pa.float64()),
        ("tdur", pa.float64()),
        ("name", pa.string()),
    ]
)
_ARGS = pa.struct([("args", pa.struct([*((k, pa.string()) for k in _FILE_KEYS)]))])
_LINE = pa.struct([("args", pa.struct([("line", pa.int64())]))])


def read(inp: Input) -> list[RawProfile]:
    doc = _load(inp)
    events = _events(doc, inp.name)
    table = _table(events, inp.name)
    if samples_form.is_samples_form(doc):
        _, thread = _metadata_names(table, events)
        threads = {(p, t): n for p, t, n in thread.iter_rows()}
        return samples_form.read(doc, threads, inp, FORMAT)
    embedded = _embedded_cpu_profiles(table, events, inp)
    if embedded:
        return embedded
    seq = _sequence(table, events)
    raw = _build(seq, table, events, inp.name)
    raw.source_id = digest_bytes(inp.raw)
    return [raw]


def _load(inp: Input) -> Any:
    try:
        return json.loads(inp.data)
    except (UnicodeDecodeError, ValueError) as exc:
        text = inp.data.decode("utf-8", errors="replace").rstrip().rstrip(",")
        if text.lstrip().startswith("[") and not text.endswith("]"):
            try:  # the spec allows a trace without its closing bracket
                return json.loads(text + "]")
            except ValueError:
                pass
        raise FormatError(f"{inp.name}: trace-event file is not valid JSON: {exc}") from None


def _events(doc: Any, name: str) -> list[Any]:
    events = doc.get("traceEvents") if isinstance(doc, dict) else doc
    if not isinstance(events, list):
        raise FormatError(f"{name}: trace-event file needs a list of events or 'traceEvents'")
    return events


def _args_file(events: list[Any]) -> pa.Array:
    """args.filename, else args.url, else args.file (null when none is a string)."""
    args = convert(events, _ARGS)
    if args is None:
        return pa.nulls(len(events), pa.string())
    inner = args.field("args")
    return pc.coalesce(*(inner.field(k) for k in _FILE_KEYS))


def _args_line(events: list[Any]) -> pa.Array:
    lines = convert(events, _LINE)
    if lines is None:
        return pa.nulls(len(events), pa.int64())
    return lines.field("args").field("line")


def _table(events: list[Any], name: str) -> pl.DataFrame:
    """One row per event: idx, ph, ts, dur, name, pid, tid, file, line."""
    base = convert(events, _EVENT)
    if base is None or base.null_count or base.field("ph").null_count:
        raise FormatError(f"{name}: every trace event must be an object with a string 'ph'")
    table = pl.DataFrame(
        {
            "ph": pl.Series(base.field("ph")),
            "ts": _ts_column(events),
            "dur": pl.Series(pc.coalesce(base.field("dur"), base.field("tdur"))),
            "name": pl.Series(base.field("name")),
            "pid": pl.Series(lane_column(events, "pid")),
            "tid": pl.Series(lane_column(events, "tid")),
            "file": pl.Series(_args_file(events), dtype=pl.Utf8),
            "line": pl.Series(_args_line(events), dtype=pl.Int64),
        }
    ).with_row_index("idx")
    timed = pl.col("ph").is_in(["B", "E", "X"])
    bad = table.filter(timed & ~pl.col("ts").is_finite().fill_null(False))
    if bad.height:
        raise FormatError(f"{name}: trace event {bad['idx'][0]} needs a finite, numeric 'ts'")
    return table


def _ts_column(events: list[Any]) -> pl.Series:
    """ts in microseconds: numbers, or numbers written as strings (Hermes); else null."""
    numbers = convert(events, pa.struct([("ts", pa.float64())]))
    if numbers is not None:
        return pl.Series(numbers.field("ts"))
    return pl.Series(lane_column(events, "ts")).cast(pl.Float64, strict=False)


def _embedded_cpu_profiles(table: pl.DataFrame, events: list[Any], inp: Input) -> list[RawProfile]:
    """The V8 CPU profiles a DevTools trace holds, if any (read instead of its events)."""
    rows = table.filter(pl.col("name").is_in(cpu.NAMES)).sort("ts", nulls_last=True)
    if not rows.height:
        return []
    _, thread = _metadata_names(table, events)
    threads = {(p, t): n for p, t, n in thread.iter_rows()}
    return cpu.read(events, rows["idx"].to_list(), threads, inp, FORMAT)


def _lane() -> pl.Expr:
    return pl.concat_str("pid", pl.lit("\x00"), "tid").rank("dense") - 1


def _sequence(table: pl.DataFrame, events: list[Any]) -> pl.DataFrame:
    """Begin/end rows in the order they take effect, lane after lane: lane, ts_ns, is_open,
    idx (the event's row in ``table``); ends of events left open are added at the lane end."""
    rows = _begin_end_rows(table)
    ordered = rows.sort(["lane", "ts_ns", "is_open", "k1", "f2", "f3", "idx"])
    ordered = ordered.with_columns(
        depth=(pl.when(pl.col("is_open")).then(1).otherwise(-1)).cum_sum().over("lane")
    )
    bad = _lanes_needing_repair(ordered, table).implode()
    fast = ordered.filter(~pl.col("lane").is_in(bad)).select(
        "lane", "ts_ns", "is_open", pl.col("idx").cast(pl.Int64)
    )
    replayed = repair.replay(rows.filter(pl.col("lane").is_in(bad)), table, events)
    seq = pl.concat([fast, replayed.cast(fast.schema)]).sort("lane", maintain_order=True)
    return _close_open(seq)


def _begin_end_rows(table: pl.DataFrame) -> pl.DataFrame:
    """B and E rows, X split into both. Sort keys: k1 (0 for B/E, 1 for X), then f2, f3:
    for begins -dur and the file position (longer complete events open first), for ends
    -start and dur (of complete events ending together, the one begun last closes first)."""
    ev = table.filter(pl.col("ph").is_in(["B", "E", "X"])).with_columns(
        lane=_lane(),
        ts_ns=(pl.col("ts") * 1000).round().cast(pl.Int64),
        dur_ns=(pl.col("dur").fill_null(0).clip(0) * 1000).round().cast(pl.Int64),
        k1=(pl.col("ph") == "X").cast(pl.Int64),
    )
    begins = ev.filter(pl.col("ph") != "E").with_columns(
        is_open=True, start_ns="ts_ns", f2=-pl.col("dur_ns"), f3=pl.col("idx").cast(pl.Int64)
    )
    ends = ev.filter(pl.col("ph") != "B").with_columns(
        is_open=False,
        start_ns="ts_ns",
        ts_ns=pl.col("ts_ns") + pl.col("dur_ns"),
        f2=-pl.col("ts_ns"),
        f3="dur_ns",
    )
    ends = ends.with_columns(
        f2=pl.when(pl.col("k1") == 1).then("f2").otherwise(0),
        f3=pl.when(pl.col("k1") == 1).then("f3").otherwise(0),
    )
    cols = ["lane", "ts_ns", "is_open", "k1", "f2", "f3", "start_ns", "dur_ns", "idx", "ph"]
    return pl.concat([begins.select(cols), ends.select(cols)])


def _lanes_needing_repair(ordered: pl.DataFrame, table: pl.DataFrame) -> pl.Series:
    """Lanes where an end closes nothing, a B/E end closes an event of another name, or a
    complete event's end closes another event."""
    depth = ordered["depth"].to_numpy()
    lane = ordered["lane"].to_numpy()
    bad = depth < 0
    is_open = ordered["is_open"].to_numpy()
    opens = np.nonzero(is_open)[0]
    closes = np.nonzero(~is_open & ~np.isin(lane, lane[bad]))[0]
    if len(closes):
        safe = np.maximum(depth, 0)
        _, current = _tree(opens, safe)
        rows = ordered["idx"].to_numpy()
        opener = rows[opens[current[closes - 1]]]
        closer = rows[closes]
        names = table["name"].to_numpy()
        is_x = ordered["k1"].to_numpy()[closes] == 1
        named = table["name"].is_not_null().to_numpy()[closer]
        differ = np.where(is_x, opener != closer, named & (names[opener] != names[closer]))
        bad[closes[differ]] = True
    return pl.Series("lane", np.unique(lane[bad]), dtype=ordered["lane"].dtype)


def _close_open(seq: pl.DataFrame) -> pl.DataFrame:
    """Close, at the lane's last timestamp, what is still open at its end (innermost first)."""
    seq = seq.with_columns(
        depth=(pl.when(pl.col("is_open")).then(1).otherwise(-1)).cum_sum().over("lane"),
        _pos=pl.int_range(pl.len()),
    )
    last = seq.group_by("lane").agg(
        pl.col("depth").last().alias("open"), pl.col("ts_ns").max().alias("end")
    )
    pending = last.filter(pl.col("open") > 0)
    if not pending.height:
        return seq.drop("_pos", "depth")
    extra = (
        pending.with_columns(k=pl.int_ranges(0, pl.col("open")))
        .explode("k")
        .select(
            "lane",
            pl.col("end").alias("ts_ns"),
            pl.lit(False).alias("is_open"),
            pl.lit(-1, pl.Int64).alias("idx"),
            (pl.lit(len(seq)) + pl.col("k")).alias("_pos"),
        )
    )
    both = pl.concat([seq.select(extra.columns), extra.cast(seq.select(extra.columns).schema)])
    return both.sort("lane", "_pos").drop("_pos")


def _build(seq: pl.DataFrame, table: pl.DataFrame, events: list[Any], name: str) -> RawProfile:
    is_open = seq["is_open"].to_numpy()
    depth = np.cumsum(np.where(is_open, 1, -1))  # lanes end closed: one running depth
    opens = np.nonzero(is_open)[0]
    frames, frame_of_row = _frames(table)
    rows = seq["idx"].to_numpy()
    frame = frame_of_row[rows[opens]]
    stacks = NamedStacks(
        frame_name=frames["name"].to_arrow(),
        stack_offsets=np.zeros(1, np.int64),
        stack_frames=np.zeros(0, np.int64),
        frame_file=frames["file"].to_arrow(),
        frame_line=frames["line"].to_numpy(),
        # no system name: event names are shown as they are, never simplified like
        # demangled C++ (py-spy's "<module>", "<listcomp>")
        frame_system_name=pa.nulls(frames.height, pa.string()),
    )
    if len(opens):
        parent, current = _tree(opens, depth)
        node_of_open, stacks.stack_offsets, stacks.stack_frames = _paths(
            frame, parent, depth[opens]
        )
    else:
        current = np.full(len(seq), -1, np.int64)
        node_of_open = np.zeros(0, np.int64)
    ts = seq["ts_ns"].to_numpy()
    lane = seq["lane"].to_numpy()
    nxt = np.arange(1, len(seq) + 1)
    same = np.zeros(len(seq), dtype=bool)
    same[:-1] = lane[:-1] == lane[1:]
    gap = np.zeros(len(seq), dtype=np.int64)
    gap[:-1] = ts[nxt[:-1]] - ts[:-1]
    chosen = np.nonzero(same & (current >= 0) & (gap > 0))[0]
    raw = build_raw(
        stacks,
        node_of_open[current[chosen]],
        gap[chosen].reshape(-1, 1),
        source=name,
        fmt=FORMAT,
        sample_types=[("wall", "nanoseconds")],
    )
    raw.sample_time_ns = ts[chosen]
    raw.sample_time_valid = np.ones(len(chosen), dtype=bool)
    add_sample_labels(raw, _labels(table, seq, chosen, events))
    return raw


def _frames(table: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """Distinct (name, file, line) frames, and the frame of every event row."""
    keys = table.select(
        name=pl.col("name").fill_null("(unnamed)").replace("", "(unnamed)"),
        file=pl.col("file").fill_null(""),
        line=pl.col("line").fill_null(0).clip(0, 2**31),
    )
    frames = keys.unique(maintain_order=True).with_row_index("frame")
    of_row = keys.join(frames, on=["name", "file", "line"], how="left", maintain_order="left")
    return frames, of_row["frame"].to_numpy().astype(np.int64)


def _labels(
    table: pl.DataFrame, seq: pl.DataFrame, chosen: np.ndarray, events: list[Any]
) -> dict[str, pa.Array]:
    """pid, tid, and the process/thread names of the metadata events, per sample."""
    lanes = (
        table.filter(pl.col("ph").is_in(["B", "E", "X"]))
        .select(lane=_lane(), pid="pid", tid="tid")
        .unique("lane")
    )
    process, thread = _metadata_names(table, events)
    lanes = lanes.join(process, on="pid", how="left").join(thread, on=["pid", "tid"], how="left")
    per_sample = pl.DataFrame({"lane": seq["lane"].gather(chosen)}).join(
        lanes, on="lane", how="left", maintain_order="left"
    )
    out = {"pid": per_sample["pid"].to_arrow(), "tid": per_sample["tid"].to_arrow()}
    for key in ("process_name", "thread_name"):
        if per_sample[key].null_count() < per_sample.height:
            out[key] = per_sample[key].to_arrow()
    return out


def _metadata_names(table: pl.DataFrame, events: list[Any]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pid -> process_name, (pid, tid) -> thread_name) from the ``M`` events (few)."""
    meta = table.filter(
        (pl.col("ph") == "M") & pl.col("name").is_in(["process_name", "thread_name"])
    )
    args = [events[i].get("args") for i in meta["idx"]]
    names = [
        a.get("name") if isinstance(a, dict) and isinstance(a.get("name"), str) else None
        for a in args
    ]
    meta = meta.with_columns(value=pl.Series(names, dtype=pl.Utf8)).drop_nulls("value")
    process = (
        meta.filter(pl.col("name") == "process_name")
        .unique("pid", keep="last")
        .select("pid", process_name="value")
    )
    thread = (
        meta.filter(pl.col("name") == "thread_name")
        .unique(["pid", "tid"], keep="last")
        .select("pid", "tid", thread_name="value")
    )
    return process, thread
