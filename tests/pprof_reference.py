"""The test oracle for the pprof decoders: the protobuf runtime plus Python loops.

Slow (a Python object and loop per sample) and never reachable from ``profilelab.load``:
the compiled and the numpy decoder of :mod:`profilelab.readers.pprof` are both tested
against it. Equal means the same RawProfile, and for bad input the same FormatError,
except that a wire-format problem is described by each decoder in its own words.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from google.protobuf.message import DecodeError

from profilelab._proto import pprof_pb2
from profilelab.errors import FormatError
from profilelab.model.raw import RawProfile
from profilelab.readers._pprof_common import (
    Header,
    Strings,
    apply_header,
    check_first_string,
    reserved_id_message,
)


def decode_reference(data: bytes, name: str) -> RawProfile:
    """Decode a raw (not gzipped) pprof message with the protobuf runtime."""
    msg = pprof_pb2.Profile()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise FormatError(f"{name}: not a pprof profile (protobuf decode failed: {exc})") from None
    return _from_message(msg, name)


def _strings(msg: pprof_pb2.Profile, name: str) -> pa.Array:
    table = [b.decode("utf-8", errors="replace") for b in msg.string_table]
    arr = pa.array(table or [""], type=pa.string())
    check_first_string(arr, name)
    return arr


def _id_index(ids: list[int], what: str, name: str) -> dict[int, int]:
    index: dict[int, int] = {}
    for pos, i in enumerate(ids):
        if i == 0:
            raise FormatError(f"{name}: {reserved_id_message(what)}")
        if i in index:
            raise FormatError(f"{name}: duplicate {what} id {i}")
        index[i] = pos
    return index


def _header(msg: pprof_pb2.Profile) -> Header:
    return Header(
        sample_types=[(v.type, v.unit) for v in msg.sample_type],
        default_sample_type=msg.default_sample_type,
        period_type=(msg.period_type.type, msg.period_type.unit),
        period=msg.period,
        time_nanos=msg.time_nanos,
        duration_nanos=msg.duration_nanos,
        drop_frames=msg.drop_frames,
        keep_frames=msg.keep_frames,
        comments=list(msg.comment),
        doc_url=msg.doc_url,
    )


def _from_message(msg: pprof_pb2.Profile, name: str) -> RawProfile:
    table = _strings(msg, name)
    s = Strings(table, name)
    raw = RawProfile(source=name, format="pprof", strings=table)
    apply_header(raw, _header(msg), s, len(msg.sample))
    _mappings(msg, raw, s)
    _functions(msg, raw, s)
    _locations(msg, raw, s)
    _samples(msg, raw, s)
    return raw


def _mappings(msg: pprof_pb2.Profile, raw: RawProfile, s: Strings) -> None:
    m = msg.mapping
    raw.mapping_start = np.array([x.memory_start for x in m], dtype=np.uint64)
    raw.mapping_limit = np.array([x.memory_limit for x in m], dtype=np.uint64)
    raw.mapping_offset = np.array([x.file_offset for x in m], dtype=np.uint64)
    raw.mapping_file = s.check_all(
        np.array([x.filename for x in m], dtype=np.int64), "mapping file"
    )
    raw.mapping_build_id = s.check_all(
        np.array([x.build_id for x in m], dtype=np.int64), "mapping build id"
    )
    raw.mapping_has_functions = np.array([x.has_functions for x in m], dtype=bool)
    raw.mapping_has_filenames = np.array([x.has_filenames for x in m], dtype=bool)
    raw.mapping_has_line_numbers = np.array([x.has_line_numbers for x in m], dtype=bool)
    raw.mapping_has_inline_frames = np.array([x.has_inline_frames for x in m], dtype=bool)


def _functions(msg: pprof_pb2.Profile, raw: RawProfile, s: Strings) -> None:
    f = msg.function
    raw.function_name = s.check_all(np.array([x.name for x in f], dtype=np.int64), "function name")
    raw.function_system_name = s.check_all(
        np.array([x.system_name for x in f], dtype=np.int64), "function system name"
    )
    raw.function_file = s.check_all(
        np.array([x.filename for x in f], dtype=np.int64), "function file"
    )
    raw.function_start_line = np.array([x.start_line for x in f], dtype=np.int64)


def _locations(msg: pprof_pb2.Profile, raw: RawProfile, s: Strings) -> None:
    name = s.name
    mapping_index = _id_index([m.id for m in msg.mapping], "mapping", name)
    function_index = _id_index([f.id for f in msg.function], "function", name)
    locs = msg.location
    raw.location_address = np.array([x.address for x in locs], dtype=np.uint64)
    raw.location_folded = np.array([x.is_folded for x in locs], dtype=bool)
    mapping = np.full(len(locs), -1, dtype=np.int64)
    offsets = np.zeros(len(locs) + 1, dtype=np.int64)
    fn: list[int] = []
    line: list[int] = []
    col: list[int] = []
    for i, loc in enumerate(locs):
        if loc.mapping_id:
            if loc.mapping_id not in mapping_index:
                raise FormatError(
                    f"{name}: location {loc.id} refers to unknown mapping {loc.mapping_id}"
                )
            mapping[i] = mapping_index[loc.mapping_id]
        for ln in loc.line:
            if ln.function_id and ln.function_id not in function_index:
                raise FormatError(
                    f"{name}: location {loc.id} refers to unknown function {ln.function_id}"
                )
            fn.append(function_index[ln.function_id] if ln.function_id else -1)
            line.append(ln.line)
            col.append(ln.column)
        offsets[i + 1] = len(fn)
    raw.location_mapping = mapping
    raw.line_offsets = offsets
    raw.line_function = np.array(fn, dtype=np.int64)
    raw.line_line = np.array(line, dtype=np.int64)
    raw.line_column = np.array(col, dtype=np.int64)


def _samples(msg: pprof_pb2.Profile, raw: RawProfile, s: Strings) -> None:
    name = s.name
    location_index = _id_index([x.id for x in msg.location], "location", name)
    n_types = len(raw.sample_types)
    n = len(msg.sample)
    values = np.zeros((n, n_types), dtype=np.int64)
    stacks: dict[tuple[int, ...], int] = {}
    sample_stack = np.zeros(n, dtype=np.int64)
    label_offsets = np.zeros(n + 1, dtype=np.int64)
    key: list[int] = []
    sval: list[int] = []
    num: list[int] = []
    unit: list[int] = []
    for i, smp in enumerate(msg.sample):
        if len(smp.value) != n_types:
            raise FormatError(
                f"{name}: sample {i} has {len(smp.value)} values for {n_types} sample types"
            )
        values[i] = smp.value
        try:
            seq = tuple(location_index[x] for x in smp.location_id)
        except KeyError as exc:
            raise FormatError(
                f"{name}: sample {i} refers to unknown location {exc.args[0]}"
            ) from None
        sample_stack[i] = stacks.setdefault(seq, len(stacks))
        for lb in smp.label:
            key.append(lb.key)
            sval.append(lb.str)
            num.append(lb.num)
            unit.append(lb.num_unit)
        label_offsets[i + 1] = len(key)
    raw.values = values
    raw.sample_stack = sample_stack
    raw.stack_offsets = np.zeros(len(stacks) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in stacks], out=raw.stack_offsets[1:])
    raw.stack_locations = np.fromiter(
        (x for seq in stacks for x in seq), dtype=np.int64, count=int(raw.stack_offsets[-1])
    )
    raw.label_offsets = label_offsets
    raw.label_key = s.check_all(np.array(key, dtype=np.int64), "label key")
    raw.label_str = s.check_all(np.array(sval, dtype=np.int64), "label value")
    raw.label_num = np.array(num, dtype=np.int64)
    raw.label_unit = s.check_all(np.array(unit, dtype=np.int64), "label unit")
