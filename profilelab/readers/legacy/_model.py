"""A small pointer-based profile model for the legacy parsers, and its RawProfile form.

The legacy formats are decoded the way ``go tool pprof`` decodes them (google/pprof
``profile/legacy_profile.go``): locations are shared objects that later passes remap
(memory map, ids, mappings), which is easiest to express with objects. Legacy inputs are
small (kilobytes to a few megabytes of text), so plain Python is fine here; the result is
converted once to the columnar :class:`RawProfile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from profilelab.model.raw import RawProfile


class Unrecognized(Exception):
    """This parser does not apply (Go's ``errUnrecognized``): the next one is tried."""


class Malformed(Exception):
    """The input is of this parser's format but damaged; the message says where."""


@dataclass(eq=False)
class Mapping:
    start: int
    limit: int
    offset: int = 0
    file: str = ""
    build_id: str = ""


@dataclass(eq=False)
class Function:
    name: str
    system_name: str
    file: str


@dataclass(eq=False)
class Location:
    address: int
    mapping: Mapping | None = None
    lines: list[tuple[Function, int]] = field(default_factory=list)


@dataclass(eq=False)
class Sample:
    locations: list[Location]
    values: list[int]
    num_labels: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Legacy:
    """One decoded legacy profile (the fields of Go's ``profile.Profile`` that legacy sets)."""

    kind: str  # for messages: "heap", "cpu", ...
    sample_types: list[tuple[str, str]]
    period_type: tuple[str, str]
    period: int
    duration_ns: int = 0
    samples: list[Sample] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    drop_frames: str = ""
    keep_frames: str = ""


# ---- Go parsing helpers ----------------------------------------------------------------------

_HEX_NUMBER = re.compile(r"0x[0-9a-f]+")
_U64_MAX = (1 << 64) - 1


def hex_addresses(text: str) -> list[int]:
    """Every ``0x...`` number in ``text`` (Go's parseHexAddresses); too large is malformed."""
    out = []
    for h in _HEX_NUMBER.findall(text):
        value = int(h, 16)
        if value > _U64_MAX:
            raise Malformed(f"address {h} does not fit in 64 bits")
        out.append(value)
    return out


def go_int(text: str, base0: bool = False) -> int:
    """Go's strconv.ParseInt(text, 10 or 0, 64): ValueError unless it fits in int64."""
    sign = -1 if text.startswith("-") else 1
    digits = text[1:] if text[:1] in ("+", "-") else text
    if base0 and digits[:2].lower() in ("0x", "0o", "0b"):
        value = int(digits[2:], {"x": 16, "o": 8, "b": 2}[digits[1].lower()])
    elif base0 and len(digits) > 1 and digits[0] == "0":
        value = int(digits[1:], 8)
    else:
        if not digits.isdigit():
            raise ValueError(f"invalid integer {text!r}")
        value = int(digits, 10)
    value *= sign
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"integer {text!r} out of range")
    return value


def go_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Go's ``/`` on int64."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def wrap64(value: int) -> int:
    """Go's uint64 wrap-around arithmetic."""
    return value & _U64_MAX


class Scanner:
    """Go's bufio.Scanner over lines: ``scan()`` advances, ``text`` is the current line
    ("" before the first and after the last), lines lose their ``\\n`` and a final ``\\r``."""

    def __init__(self, text: str) -> None:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        self.lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
        self.pos = -1
        self.text = ""

    def scan(self) -> bool:
        self.pos += 1
        if self.pos >= len(self.lines):
            self.pos = len(self.lines)
            self.text = ""
            return False
        self.text = self.lines[self.pos]
        return True

    @property
    def line_number(self) -> int:
        return self.pos + 1


def is_space_or_comment(line: str) -> bool:
    trimmed = line.strip()
    return not trimmed or trimmed[0] == "#"


def cleanup_duplicate_locations(p: Legacy) -> None:
    """The leaf may appear twice (signal context and unwinding, the second one adjusted by
    one); drop the duplicate."""
    for smp in p.samples:
        locs = smp.locations
        if len(locs) > 1 and locs[0].address == locs[1].address + 1:
            del locs[1]


# ---- columnar form ----------------------------------------------------------------------------


class _StringTable:
    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}

    def __call__(self, s: str) -> int:
        return self.index.setdefault(s, len(self.index))

    def array(self) -> pa.Array:
        return pa.array(list(self.index), type=pa.string())


def to_raw(p: Legacy, name: str) -> RawProfile:
    """The RawProfile of a decoded legacy profile: same order of locations and mappings
    as Go's decoder, so location ``i`` is Go's location id ``i + 1``."""
    s = _StringTable()
    raw = RawProfile(source=name, format="pprof-legacy")
    raw.sample_types = list(p.sample_types)
    for t, u in p.sample_types:
        s(t), s(u)
    raw.period_type, raw.period = p.period_type, p.period
    raw.duration_ns = p.duration_ns or None
    raw.drop_frames = p.drop_frames or None
    raw.keep_frames = p.keep_frames or None
    _mappings(p, raw, s)
    fn_pos = {id(f): i for i, f in enumerate(p.functions)}
    raw.function_name = np.array([s(f.name) for f in p.functions], dtype=np.int64)
    raw.function_system_name = np.array([s(f.system_name) for f in p.functions], dtype=np.int64)
    raw.function_file = np.array([s(f.file) for f in p.functions], dtype=np.int64)
    raw.function_start_line = np.zeros(len(p.functions), dtype=np.int64)
    _locations(p, raw, fn_pos)
    _samples(p, raw, s)
    raw.strings = s.array()
    return raw


def _mappings(p: Legacy, raw: RawProfile, s: _StringTable) -> None:
    m = p.mappings
    raw.mapping_start = np.array([x.start for x in m], dtype=np.uint64)
    raw.mapping_limit = np.array([x.limit for x in m], dtype=np.uint64)
    raw.mapping_offset = np.array([x.offset for x in m], dtype=np.uint64)
    raw.mapping_file = np.array([s(x.file) for x in m], dtype=np.int64)
    raw.mapping_build_id = np.array([s(x.build_id) for x in m], dtype=np.int64)
    for col in ("functions", "filenames", "line_numbers", "inline_frames"):
        setattr(raw, f"mapping_has_{col}", np.zeros(len(m), dtype=bool))


def _locations(p: Legacy, raw: RawProfile, fn_pos: dict[int, int]) -> None:
    map_pos = {id(m): i for i, m in enumerate(p.mappings)}
    locs = p.locations
    raw.location_address = np.array([loc.address for loc in locs], dtype=np.uint64)
    raw.location_mapping = np.array(
        [map_pos[id(loc.mapping)] if loc.mapping is not None else -1 for loc in locs],
        dtype=np.int64,
    )
    raw.location_folded = np.zeros(len(locs), dtype=bool)
    lines = [(fn_pos[id(f)], n) for loc in locs for f, n in loc.lines]
    raw.line_offsets = np.concatenate([[0], np.cumsum([len(loc.lines) for loc in locs])]).astype(
        np.int64
    )
    raw.line_function = np.array([f for f, _ in lines], dtype=np.int64)
    raw.line_line = np.array([n for _, n in lines], dtype=np.int64)
    raw.line_column = np.zeros(len(lines), dtype=np.int64)


def _samples(p: Legacy, raw: RawProfile, s: _StringTable) -> None:
    loc_pos = {id(loc): i for i, loc in enumerate(p.locations)}
    stacks: dict[tuple[int, ...], int] = {}
    sample_stack = []
    key: list[int] = []
    num: list[int] = []
    label_offsets = [0]
    for smp in p.samples:
        seq = tuple(loc_pos[id(loc)] for loc in smp.locations)
        sample_stack.append(stacks.setdefault(seq, len(stacks)))
        for k in sorted(smp.num_labels):
            for v in smp.num_labels[k]:
                key.append(s(k))
                num.append(v)
        label_offsets.append(len(key))
    raw.sample_stack = np.array(sample_stack, dtype=np.int64)
    n_types = len(p.sample_types)
    if p.samples and any(len(smp.values) != n_types for smp in p.samples):
        raise Malformed(f"samples do not have one value per sample type ({n_types} types)")
    raw.values = np.array([smp.values for smp in p.samples], dtype=np.int64).reshape(
        len(p.samples), n_types
    )
    raw.stack_offsets = np.concatenate([[0], np.cumsum([len(k) for k in stacks])]).astype(np.int64)
    raw.stack_locations = np.array([x for seq in stacks for x in seq], dtype=np.int64)
    raw.label_offsets = np.array(label_offsets, dtype=np.int64)
    raw.label_key = np.array(key, dtype=np.int64)
    raw.label_num = np.array(num, dtype=np.int64)
    raw.label_str = np.zeros(len(key), dtype=np.int64)
    raw.label_unit = np.zeros(len(key), dtype=np.int64)
