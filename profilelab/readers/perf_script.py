"""Linux ``perf script`` text: what ``perf record -g`` then ``perf script`` print.

A record is a header line then its stack, leaf first, one frame per line, and an empty line::

    java 24636/25607 [002] 4794564.109216:    10101010 cpu-clock:
            7f1e214c24d9 SpinPause+0x19 (/usr/lib/jvm/.../libjvm.so)
        ffffffff8103ce3b native_safe_halt ([kernel.kallsyms])

Header: the command name (may hold spaces), the thread id or ``pid/tid``, then optional
``[cpu]``, time in seconds, period and event name (each optional, in ``perf script -F``'s
variants). The lines are matched as stackcollapse-perf.pl (FlameGraph) matches them, so
the two read the same files the same way:

* **Events become sample types** (unit ``nanoseconds`` for ``cpu-clock``/``task-clock``,
  whose periods are times, with or without the modifiers current perf prints, as in
  ``cpu-clock:ppp``; else ``count``), in order of appearance; the first is the
  default type (stackcollapse-perf.pl keeps only the first event). A sample's value is
  its period, or 1 when the header has none.
* **Labels**: ``comm``, ``pid`` (only with ``pid/tid``), ``tid`` and ``cpu``, as strings;
  the time becomes ``time_ns`` (perf's clock, seconds since boot, not Unix time).
* **Frames**: the address and the binary (``[kernel.kallsyms]``, a JIT's
  ``/tmp/perf-PID.map``, ...) become the location and its mapping; a symbol's ``+0x..``
  offset is dropped. Names are tidied as stackcollapse-perf.pl tidies them: from the first
  ``(`` on (arguments) dropped except in Go methods and ``(anonymous namespace)``, quotes
  removed, ``;`` made ``:``, and in ``java*`` processes the ``L`` of ``Lpkg/Class;`` dropped;
  the symbol as perf printed it is the frame's system name. ``[unknown]`` symbols are
  unsymbolized locations (address and binary). Inlined functions, which perf prints as
  lines ending `` (inlined)`` before their caller's line (or as ``a->b``), are one
  location with ``b`` inlined into ``a``. Frames naming the process (``(...)``) are
  skipped.
* **Differences from stackcollapse-perf.pl**: a record that the file ends without an
  empty line is kept (the script drops it); a header directly after a record's frames
  starts a new record (the script would join the two stacks). Lines that match nothing are
  skipped, as the script skips them (it warns).

Parsing is vectorized: Polars regular expressions over all lines at once.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from profilelab.errors import FormatError
from profilelab.model.raw import RawProfile
from profilelab.readers._input import Input
from profilelab.readers._stacks import add_sample_labels
from profilelab.readers.sniff import PERF_FRAME, PERF_HEADER

FORMAT = "perf-script"
# stackcollapse-perf.pl's patterns (Rust regex syntax); the header's is tried first
_EVENT = r":\s*(\d+)?\s+(\S+):\s*$"
_EVENT_ONLY = r"\s(\S+):\s*$"  # "comm tid event:" (no time): the event, no period
_CPU = r"^\S.+?\s+\d+(?:/\d+)?\s+\[(\d+)\]"
_TIME = r"^\S.+?\s+\d+(?:/\d+)?\s+(?:\[\d+\]\s+)?(\d+)\.(\d+):"
_TIME_EVENTS = ("cpu-clock", "task-clock")
_INLINED = " (inlined)"
_LOCATION = ["address", "binary", "symbol", "java"]  # a location's identity


def read(inp: Input) -> list[RawProfile]:
    text = inp.data.decode("utf-8", errors="replace")
    lines = pl.DataFrame({"line": pl.Series(text.split("\n"), dtype=pl.Utf8)})
    lines = lines.with_columns(pl.col("line").str.strip_suffix("\r"))
    records, frames = _parse(lines)
    if not records.height:
        raise FormatError(f"{inp.name}: perf script: no sample records (header lines)")
    raw = _build(records, frames, inp.name)
    raw.source_id = inp.content_id()
    return [raw]


def _parse(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records: record, comm, pid, tid, cpu, time_ns, event, period;
    frames: record, pos, address, binary, symbol), the frames leaf first."""
    kind = lines.with_columns(
        comment=pl.col("line").str.starts_with("#"),
        blank=pl.col("line") == "",
        h=pl.col("line").str.extract_groups(PERF_HEADER),
    ).with_columns(header=pl.col("h").struct.field("1").is_not_null() & ~pl.col("comment"))
    kind = kind.with_columns(
        record=pl.col("header").cum_sum() - 1, blanks=pl.col("blank").cum_sum()
    ).with_columns(
        # a frame belongs to its record until the first empty line after the header
        open=pl.col("blanks") == pl.when("header").then("blanks").forward_fill()
    )
    headers = kind.filter(pl.col("header"))
    records = _records(headers)
    body = kind.filter(
        ~pl.col("header") & ~pl.col("comment") & ~pl.col("blank") & (pl.col("record") >= 0)
    )
    body = body.filter(pl.col("open"))
    # stacks repeat: the patterns run once per distinct frame line
    codes = pc.dictionary_encode(body["line"].to_arrow())
    distinct = pl.DataFrame({"line": pl.Series(codes.dictionary)}).with_row_index("code")
    distinct = _frame_lines(distinct)
    f = body.select(
        "record", code=pl.Series(codes.indices.to_numpy(zero_copy_only=False)).cast(pl.UInt32)
    ).join(distinct, on="code", how="inner", maintain_order="left")
    f = _fold_inlined(f.drop("code"))
    f = f.with_columns(pos=pl.int_range(pl.len()).over("record"))
    return records, f


def _frame_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """code, pc, symbol (offset dropped), binary, address, inlined of the lines that are
    frames (perf marks an inlined function's line `` (inlined)``)."""
    lines = lines.with_columns(inlined=pl.col("line").str.ends_with(_INLINED)).with_columns(
        line=pl.col("line").str.strip_suffix(_INLINED)
    )
    f = lines.select("code", "inlined", g=pl.col("line").str.extract_groups(PERF_FRAME)).unnest("g")
    f = f.rename({"1": "pc", "2": "symbol", "3": "binary"}).drop_nulls("pc")
    f = f.with_columns(pl.col("symbol").str.replace(r"\+0x[\da-f]+$", ""))
    f = f.filter(~pl.col("symbol").str.starts_with("("))  # process names
    f = f.with_columns(address=pl.col("pc").str.to_integer(base=16, dtype=pl.UInt64, strict=False))
    return f.drop_nulls("address")


def _fold_inlined(frames: pl.DataFrame) -> pl.DataFrame:
    """Lines perf marks ``(inlined)`` join the next line of their record (their caller at
    the same address) into one frame whose symbol reads ``caller->inlined`` (the form
    stackcollapse-perf.pl splits), innermost last."""
    if not frames["inlined"].any():
        return frames.drop("inlined")
    ends = ~pl.col("inlined")
    grouped = frames.with_columns(
        group=ends.cast(pl.Int64).cum_sum().over("record") - ends.cast(pl.Int64)
    )
    return (
        grouped.group_by(["record", "group"], maintain_order=True)
        .agg(
            pl.col("pc").last(),
            pl.col("symbol").reverse().str.join("->"),
            pl.col("binary").last(),
            pl.col("address").last(),
        )
        .drop("group")
    )


def _records(headers: pl.DataFrame) -> pl.DataFrame:
    h = headers.select(
        "record",
        comm=pl.col("h").struct.field("1"),
        first=pl.col("h").struct.field("2"),
        second=pl.col("h").struct.field("3"),
        ev=pl.col("line").str.extract_groups(_EVENT),
        ev_only=pl.col("line").str.extract(_EVENT_ONLY, 1),
        cpu=pl.col("line").str.extract(_CPU, 1),
        t=pl.col("line").str.extract_groups(_TIME),
    )
    secs = pl.col("t").struct.field("1").cast(pl.Int64, strict=False)
    frac = pl.col("t").struct.field("2").str.pad_end(9, "0").str.slice(0, 9).cast(pl.Int64)
    return h.select(
        "record",
        "comm",
        pid=pl.when(pl.col("second").is_not_null()).then("first"),
        tid=pl.coalesce("second", "first"),
        cpu=pl.col("cpu").cast(pl.Int64, strict=False).cast(pl.Utf8),
        time_ns=secs * 1_000_000_000 + frac,
        event=pl.coalesce(pl.col("ev").struct.field("2"), "ev_only").fill_null("samples"),
        period=pl.col("ev").struct.field("1").cast(pl.Int64, strict=False).fill_null(1),
    )


def tidy(symbol: pl.Expr, java: pl.Expr) -> pl.Expr:
    """stackcollapse-perf.pl's clean-up of a symbol (module doc)."""
    anon = "(anonymous namespace)"
    keep = "\x00anon\x00"
    name = symbol.str.replace_all(";", ":", literal=True)
    cut = name.str.replace_all(anon, keep, literal=True).str.replace(r"\(.*", "")
    cut = cut.str.replace_all(keep, anon, literal=True)
    name = pl.when(name.str.contains(r"\.\(.*\)\.")).then(name).otherwise(cut)
    name = name.str.replace_all("[\"']", "")
    return (
        pl.when(java & name.str.contains("/", literal=True))
        .then(name.str.strip_prefix("L"))
        .otherwise(name)
    )


def _build(records: pl.DataFrame, frames: pl.DataFrame, name: str) -> RawProfile:
    java = records.select("record", java=pl.col("comm").str.starts_with("java"))
    frames = frames.join(java, on="record", how="left")
    parts = (
        frames.select(_LOCATION)
        .unique(maintain_order=True)
        .with_columns(part=pl.col("symbol").str.split("->"))
        .with_row_index("slot")
        .explode("part")
        .with_columns(
            unknown=pl.col("part") == "[unknown]",
            k=pl.int_range(pl.len()).over("slot"),
        )
        .with_columns(function=tidy(pl.col("part"), pl.col("java")))
    )
    table = _strings(records, parts)
    raw = RawProfile(source=name, format=FORMAT, strings=table)
    _functions_and_locations(raw, frames, parts, table)
    _samples(raw, records, frames)
    return raw


def _strings(records: pl.DataFrame, parts: pl.DataFrame) -> pa.Array:
    events = records["event"].unique(maintain_order=True)
    texts = pl.concat(
        [
            pl.Series(["", "count", "nanoseconds"], dtype=pl.Utf8),
            events,
            parts["function"],
            parts["part"],
            parts["binary"],
        ]
    )
    return texts.unique(maintain_order=True).to_arrow().cast(pa.string())


def _index(values: pl.Series, table: pa.Array) -> np.ndarray:
    found = pc.index_in(values.to_arrow().cast(pa.string()), value_set=table)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _functions_and_locations(
    raw: RawProfile, frames: pl.DataFrame, parts: pl.DataFrame, table: pa.Array
) -> None:
    """Mappings (binaries), functions (tidy name, symbol), locations (address, binary,
    symbol, java) with their lines, innermost first."""
    binaries = frames.filter(pl.col("binary") != "[unknown]")["binary"].unique(maintain_order=True)
    n_map = len(binaries)
    raw.mapping_start = np.zeros(n_map, np.uint64)
    raw.mapping_limit = np.zeros(n_map, np.uint64)
    raw.mapping_offset = np.zeros(n_map, np.uint64)
    raw.mapping_file = _index(binaries, table)
    raw.mapping_build_id = np.zeros(n_map, np.int64)
    raw.mapping_has_functions = np.ones(n_map, bool)
    for flag in ("filenames", "line_numbers", "inline_frames"):
        setattr(raw, f"mapping_has_{flag}", np.zeros(n_map, bool))
    known = parts.filter(~pl.col("unknown"))
    functions = known.select("function", "part").unique(maintain_order=True)
    functions = functions.with_row_index("fn")
    raw.function_name = _index(functions["function"], table)
    raw.function_system_name = _index(functions["part"], table)
    raw.function_file = np.zeros(functions.height, np.int64)
    raw.function_start_line = np.zeros(functions.height, np.int64)

    key = _LOCATION
    locations = frames.select(key).unique(maintain_order=True).with_row_index("loc")
    mapping = pl.DataFrame({"binary": binaries}).with_row_index("map")
    loc = locations.join(mapping, on="binary", how="left", maintain_order="left")
    raw.location_address = loc["address"].to_numpy().astype(np.uint64)
    raw.location_mapping = loc["map"].fill_null(-1).to_numpy().astype(np.int64)
    raw.location_folded = np.zeros(loc.height, bool)
    # lines: every known part of a location, innermost (the last of "a->b") first
    lines = (
        parts.unique(["address", "binary", "symbol", "java", "k"], maintain_order=True)
        .join(locations, on=key, how="left")
        .filter(~pl.col("unknown"))
        .join(functions, on=["function", "part"], how="left")
        .sort(["loc", "k"], descending=[False, True])
    )
    counts = np.bincount(lines["loc"].to_numpy(), minlength=loc.height)
    raw.line_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    raw.line_function = lines["fn"].to_numpy().astype(np.int64)
    raw.line_line = np.zeros(lines.height, np.int64)
    raw.line_column = np.zeros(lines.height, np.int64)
    frames_loc = frames.join(locations, on=key, how="left", maintain_order="left")
    raw.stack_locations = frames_loc.sort(["record", "pos"])["loc"].to_numpy().astype(np.int64)


def _samples(raw: RawProfile, records: pl.DataFrame, frames: pl.DataFrame) -> None:
    """One sample per record: its stack, its period under its event, labels and time."""
    n = records.height
    depth = frames.group_by("record").len()
    per_record = records.select("record").join(depth, on="record", how="left")
    lengths = per_record["len"].fill_null(0).to_numpy().astype(np.int64)
    raw.stack_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    raw.sample_stack = np.arange(n, dtype=np.int64)
    events = records["event"].unique(maintain_order=True).to_list()
    raw.sample_types = [
        (e, "nanoseconds" if e.split(":", 1)[0] in _TIME_EVENTS else "count") for e in events
    ]
    raw.default_sample_type = events[0]
    column = records["event"].replace_strict(events, list(range(len(events)))).to_numpy()
    raw.values = np.zeros((n, len(events)), dtype=np.int64)
    raw.values[np.arange(n), column] = records["period"].to_numpy()
    times = records["time_ns"]
    raw.sample_time_ns = times.fill_null(0).to_numpy().astype(np.int64)
    raw.sample_time_valid = times.is_not_null().to_numpy()
    raw.label_offsets = np.zeros(n + 1, dtype=np.int64)
    labels = {k: records[k].to_arrow() for k in ("comm", "pid", "tid", "cpu")}
    add_sample_labels(raw, {k: v for k, v in labels.items() if v.null_count < n})
