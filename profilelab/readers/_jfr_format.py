"""The JFR binary format: chunk headers, the metadata event, and record programs.

A recording is a sequence of chunks. Each chunk starts with a 68-byte big-endian header
(magic ``FLR\\0``, version, chunk size, offsets of the last constant-pool event and of the
metadata event, start time in nanoseconds and in ticks, ticks per second, feature flags)
and holds events: ``size`` (a compressed int, counting itself), ``type id`` (a compressed
long), then the fields of that type in the order the metadata declares them. Type id 0 is
the metadata event, type id 1 a constant-pool event.

Compressed integers are LEB128-style: 7 bits per byte, low bits first, except that the
ninth byte of a long carries 8 bits. Strings start with an encoding byte: 0 null, 1 empty,
2 a reference into the ``java.lang.String`` constant pool, 3 UTF-8, 4 an array of UTF-16
code units (each a compressed int), 5 Latin-1; 3 to 5 are followed by their length.

The metadata event describes every type as a class element with field elements (name,
type id, ``constantPool="true"`` for a reference by key, ``dimension="1"`` for an array).
:func:`compile_programs` turns these descriptions into flat *programs* of
``(opcode, slot, argument)`` triples: one per type, nested inline structs flattened, so
that one small interpreter (the compiled kernel ``_native/_jfr.c``, or :func:`scan_reference`
here, its oracle) can walk any event or constant without recursion. A slot says where a
field's value goes in the output row of its record; -1 drops it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from profilelab.errors import FormatError

MAGIC = b"FLR\x00"
HEADER_SIZE = 68
_HEADER = struct.Struct(">4sHHqqqqqqqI")

# opcodes of the record programs (shared with _native/jfr_scan.h)
OP_VARINT = 0  # char, short, int, long, constant-pool key
OP_BYTE = 1  # boolean, byte
OP_F32 = 2
OP_F64 = 3
OP_STRING = 4
OP_ARRAY = 5  # argument: the number of ops in the element's body, which follow

#: Output row widths: a record is (kind, type id, key or byte offset, slots...).
RECORD_SLOTS = 8
ITEM_SLOTS = 4
RECORD_WIDTH = 3 + RECORD_SLOTS
KIND_EVENT = 0
KIND_CONSTANT = 1
MAX_ARRAY_DEPTH = 8
MAX_STRUCT_DEPTH = 32
MAX_PROGRAM_OPS = 1 << 20

_PRIMITIVE_OPS = {
    "boolean": OP_BYTE,
    "byte": OP_BYTE,
    "char": OP_VARINT,
    "short": OP_VARINT,
    "int": OP_VARINT,
    "long": OP_VARINT,
    "float": OP_F32,
    "double": OP_F64,
    "java.lang.String": OP_STRING,
}


@dataclass(frozen=True)
class Chunk:
    """One chunk's header; offsets are absolute positions in the recording."""

    start: int
    end: int
    major: int
    minor: int
    metadata: int
    start_ns: int
    duration_ns: int
    start_ticks: int
    ticks_per_second: int
    features: int


def chunks(data: bytes, name: str) -> list[Chunk]:
    """Every chunk header of a recording, checked against the bytes that hold it."""
    out: list[Chunk] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < HEADER_SIZE:
            raise FormatError(
                f"{name}: JFR chunk at byte {pos} is truncated: "
                f"{len(data) - pos} bytes, a header needs {HEADER_SIZE}"
            )
        magic, major, minor, size, cp, meta, start_ns, dur, ticks, tps, features = (
            _HEADER.unpack_from(data, pos)
        )
        where = f"{name}: JFR chunk at byte {pos}"
        if magic != MAGIC:
            raise FormatError(f"{where}: bad magic {magic!r} (expected {MAGIC!r})")
        if major != 2:
            raise FormatError(
                f"{where}: format version {major}.{minor} is not supported (only 2.x, JDK 11+)"
            )
        if size == 0:
            raise FormatError(f"{where}: unfinished chunk (size 0: the recording was not closed)")
        if size < HEADER_SIZE or size > len(data) - pos:
            raise FormatError(
                f"{where}: declares {size} bytes but {len(data) - pos} remain (truncated?)"
            )
        if not HEADER_SIZE <= meta < size or not 0 <= cp < size:
            raise FormatError(f"{where}: metadata offset {meta} is outside the chunk")
        if tps <= 0:
            raise FormatError(f"{where}: ticks per second is {tps}")
        if not features & 1:
            raise FormatError(f"{where}: uncompressed integers are not supported")
        out.append(
            Chunk(pos, pos + size, major, minor, pos + meta, start_ns, dur, ticks, tps, features)
        )
        pos += size
    return out


# --- bytes ----------------------------------------------------------------------------------


class Cursor:
    """A read position inside [pos, end) of ``data``; every read is bounds-checked."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def varint(self) -> int:
        """A compressed long (two's complement 64-bit, returned signed)."""
        start, data, pos, end = self.pos, self.data, self.pos, self.end
        value = 0
        for i in range(9):
            if pos >= end:
                raise ScanError("truncated compressed integer", start)
            b = data[pos]
            pos += 1
            if i == 8:
                value |= b << 56
                break
            value |= (b & 0x7F) << (7 * i)
            if b < 0x80:
                break
        self.pos = pos
        return value - (1 << 64) if value >= 1 << 63 else value

    def take(self, n: int, what: str) -> int:
        """Skip ``n`` bytes; return where they start."""
        if n < 0 or n > self.end - self.pos:
            raise ScanError(f"{what} of {n} bytes runs past the end", self.pos)
        start = self.pos
        self.pos += n
        return start


class ScanError(Exception):
    """A problem in the bytes, with its absolute byte offset (turned into a FormatError)."""

    def __init__(self, what: str, at: int) -> None:
        super().__init__(what, at)
        self.what, self.at = what, at

    def __str__(self) -> str:
        return f"{self.what} at byte {self.at}"


# --- metadata -------------------------------------------------------------------------------


@dataclass
class FieldDef:
    name: str
    type_id: int
    constant_pool: bool
    dimension: int


@dataclass
class ClassDef:
    id: int
    name: str
    fields: list[FieldDef] = field(default_factory=list)


@dataclass
class Metadata:
    classes: dict[int, ClassDef]
    by_name: dict[str, ClassDef]


def read_string(cur: Cursor) -> str | None:
    """A JFR string (constant-pool references are not allowed here: metadata strings)."""
    at = cur.pos
    enc = cur.take(1, "string encoding")
    kind = cur.data[enc]
    if kind == 0:
        return None
    if kind == 1:
        return ""
    if kind in (3, 5):
        n = cur.varint()
        start = cur.take(n, "string")
        raw = cur.data[start : start + n]
        return raw.decode("utf-8", "replace") if kind == 3 else raw.decode("latin-1")
    if kind == 4:
        n = cur.varint()
        if n < 0 or n > cur.end - cur.pos:
            raise ScanError(f"char array of {n} characters runs past the end", at)
        return utf16_units([cur.varint() for _ in range(n)], at)
    raise ScanError(f"unknown string encoding {kind}", at)


def utf16_units(units: list[int], at: int) -> str:
    """Decode UTF-16 code units; a lone surrogate becomes U+FFFD (as the kernel does)."""
    out: list[str] = []
    i = 0
    while i < len(units):
        u = units[i] & 0xFFFFFFFFFFFFFFFF
        if u > 0xFFFF:
            raise ScanError(f"character {u:#x} is not a UTF-16 code unit", at)
        if 0xD800 <= u < 0xDC00 and i + 1 < len(units) and 0xDC00 <= units[i + 1] < 0xE000:
            out.append(chr(0x10000 + ((u - 0xD800) << 10) + units[i + 1] - 0xDC00))
            i += 2
            continue
        out.append("\ufffd" if 0xD800 <= u < 0xE000 else chr(u))
        i += 1
    return "".join(out)


def metadata_bytes(data: bytes, chunk: Chunk) -> bytes:
    """The bytes of a chunk's metadata event (a cache key: chunks often repeat them).

    Past its size and type (the timestamps differ from chunk to chunk); a damaged size
    gives a short key, and :func:`read_metadata` then reports the damage.
    """
    cur = Cursor(data, chunk.metadata, chunk.end)
    try:
        size = cur.varint()
        start = cur.pos
        cur.varint()  # type id
        for _ in range(3):  # start time, duration, metadata id
            cur.varint()
    except ScanError:
        return b""
    return data[cur.pos : min(chunk.metadata + max(size, 0), chunk.end)] + bytes(
        [start - chunk.metadata]
    )


def read_metadata(data: bytes, chunk: Chunk, name: str) -> Metadata:
    """The metadata event of a chunk: its classes and their fields."""
    try:
        return _read_metadata(data, chunk)
    except ScanError as exc:
        raise FormatError(f"{name}: JFR metadata: {exc}") from None


def _read_metadata(data: bytes, chunk: Chunk) -> Metadata:
    cur = Cursor(data, chunk.metadata, chunk.end)
    size = cur.varint()
    if size <= 0 or size > chunk.end - chunk.metadata:
        raise ScanError(f"metadata event size {size} runs past the chunk", chunk.metadata)
    cur.end = chunk.metadata + size
    if cur.varint() != 0:
        raise ScanError("metadata offset does not point at a metadata event", chunk.metadata)
    for _ in range(3):  # start time, duration, metadata id
        cur.varint()
    n = cur.varint()
    if n < 0 or n > cur.end - cur.pos:
        raise ScanError(f"metadata string count {n} is larger than the event", cur.pos)
    strings = [read_string(cur) or "" for _ in range(n)]
    classes: dict[int, ClassDef] = {}
    for path, attrs in _elements(cur, strings):
        if path[-2:] == ("metadata", "class"):
            cid = _int_attr(attrs, "id", cur.pos)
            classes[cid] = ClassDef(cid, attrs.get("name", ""))
            current = classes[cid]
        elif path[-3:] == ("metadata", "class", "field"):
            current.fields.append(
                FieldDef(
                    attrs.get("name", ""),
                    _int_attr(attrs, "class", cur.pos),
                    attrs.get("constantPool") == "true",
                    _int_attr(attrs, "dimension", cur.pos, 0),
                )
            )
    return Metadata(classes, {c.name: c for c in classes.values()})


def _int_attr(attrs: Mapping[str, str], key: str, at: int, default: int | None = None) -> int:
    text = attrs.get(key)
    if text is None and default is not None:
        return default
    try:
        return int(text or "")
    except ValueError:
        raise ScanError(f"metadata attribute {key}={text!r} is not a number", at) from None


def _elements(cur: Cursor, strings: list[str]):  # type: ignore[no-untyped-def]
    """Pre-order walk of the element tree: (path of names, attributes), without recursion."""

    def name_at(i: int) -> str:
        if not 0 <= i < len(strings):
            raise ScanError(f"metadata string index {i} out of range", cur.pos)
        return strings[i]

    remaining = [1]  # children still to read, per open element
    path: list[str] = []
    while remaining:
        if remaining[-1] == 0:
            remaining.pop()
            if path:
                path.pop()
            continue
        remaining[-1] -= 1
        elem = name_at(cur.varint())
        attrs = {}
        for _ in range(_count(cur, "attribute")):
            key = name_at(cur.varint())
            attrs[key] = name_at(cur.varint())
        children = _count(cur, "child")
        if len(path) >= MAX_STRUCT_DEPTH:
            raise ScanError("metadata elements nested too deep", cur.pos)
        path.append(elem)
        yield tuple(path), attrs
        remaining.append(children)


def _count(cur: Cursor, what: str) -> int:
    n = cur.varint()
    if n < 0 or n > cur.end - cur.pos:
        raise ScanError(f"metadata {what} count {n} is larger than the event", cur.pos)
    return n


# --- programs -------------------------------------------------------------------------------

#: Wanted fields of a type: top-level field name -> slot, or for an array of structs
#: name -> (slot, {element field name -> item slot}). An array takes two record slots:
#: the first item row and the item count.
Wanted = Mapping[str, "int | tuple[int, Mapping[str, int]]"]


@dataclass
class Programs:
    """Programs of every type of one chunk's metadata, in the kernel's table layout."""

    type_ids: np.ndarray  # sorted int64
    starts: np.ndarray  # int64, first op of each type's program
    lengths: np.ndarray  # int64, ops per program
    emit: np.ndarray  # uint8, 1 when records of the type are output
    ops: np.ndarray  # int64, (n_ops, 3): opcode, slot, argument


def compile_programs(meta: Metadata, wanted: Mapping[str, Wanted]) -> Programs:
    """Programs for all classes; types named in ``wanted`` emit records with those slots."""
    ops: list[tuple[int, int, int]] = []
    rows = []
    for cid in sorted(meta.classes):
        cls = meta.classes[cid]
        start = len(ops)
        want = wanted.get(cls.name)
        if cls.name in _PRIMITIVE_OPS:  # a pool of strings: the value is the string
            ops.append((_PRIMITIVE_OPS[cls.name], 0 if want is not None else -1, 0))
        else:
            _struct_ops(meta, cls, want or {}, ops, 0, item=False)
        rows.append((cid, start, len(ops) - start, want is not None))
    table = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return Programs(
        type_ids=table[:, 0].copy(),
        starts=table[:, 1].copy(),
        lengths=table[:, 2].copy(),
        emit=table[:, 3].astype(np.uint8),
        ops=np.array(ops, dtype=np.int64).reshape(-1, 3),
    )


def _struct_ops(
    meta: Metadata,
    cls: ClassDef,
    want: Wanted,
    ops: list[tuple[int, int, int]],
    depth: int,
    item: bool,
) -> None:
    if depth > MAX_STRUCT_DEPTH:
        raise FormatError(f"JFR metadata: type {cls.name} nests inline structs too deep (a cycle?)")
    for f in cls.fields:
        if len(ops) > MAX_PROGRAM_OPS:
            raise FormatError("JFR metadata: types too large to decode")
        w = want.get(f.name)
        if f.dimension > 1:
            raise FormatError(f"JFR metadata: field {cls.name}.{f.name} has {f.dimension} dims")
        if f.dimension == 1:
            slot, sub = w if isinstance(w, tuple) and not item else (-1, {})
            at = len(ops)
            ops.append((OP_ARRAY, slot, 0))
            _value_ops(meta, f, sub, ops, depth, item=True, slot=-1)
            ops[at] = (OP_ARRAY, slot, len(ops) - at - 1)
        else:
            slot = w if isinstance(w, int) else -1
            _value_ops(meta, f, {}, ops, depth, item, slot)


def _value_ops(
    meta: Metadata,
    f: FieldDef,
    sub: Mapping[str, int],
    ops: list[tuple[int, int, int]],
    depth: int,
    item: bool,
    slot: int,
) -> None:
    """Ops of one value of field ``f`` (an array element when ``sub`` names its slots)."""
    if f.constant_pool:
        ops.append((OP_VARINT, slot, 0))
        return
    cls = meta.classes.get(f.type_id)
    if cls is None:
        raise FormatError(f"JFR metadata: field {f.name} has unknown type id {f.type_id}")
    if cls.name in _PRIMITIVE_OPS:
        ops.append((_PRIMITIVE_OPS[cls.name], slot, 0))
        return
    _struct_ops(meta, cls, sub, ops, depth + 1, item=item)


# --- the reference scanner ------------------------------------------------------------------


@dataclass
class Scan:
    """What a scan of one chunk outputs (the kernel returns the same arrays)."""

    records: np.ndarray  # int64 (n, RECORD_WIDTH)
    items: np.ndarray  # int64 (m, ITEM_SLOTS)
    strings: list[str]  # string table; slot values index it (0 is ""), see below


# String slots hold an index into ``strings`` (0 = ""), -1 for null, and -(key) - 2 for
# a reference into the java.lang.String constant pool.
NULL_STRING = -1


def scan_reference(data: bytes, chunk: Chunk, programs: Programs) -> Scan:
    """Scan every event of a chunk with the programs (pure Python; the kernel's oracle).

    Raises :class:`ScanError` with the same words and byte offsets as the kernel.
    """
    state = _ScanState(data, programs)
    pos = chunk.start + HEADER_SIZE
    while pos < chunk.end:
        cur = Cursor(data, pos, chunk.end)
        size = cur.varint()
        if size < cur.pos - pos + 1 or size > chunk.end - pos:
            raise ScanError(f"event size {size} does not fit in the chunk", pos)
        cur.end = pos + size
        type_id = cur.varint()
        if type_id == 1:
            state.constants(cur)
        elif type_id != 0:
            row = state.lookup(type_id)
            if row >= 0 and programs.emit[row]:
                state.record(cur, row, KIND_EVENT, type_id, pos)
        pos += size
    records = np.array(state.records, dtype=np.int64).reshape(-1, RECORD_WIDTH)
    items = np.array(state.items, dtype=np.int64).reshape(-1, ITEM_SLOTS)
    return Scan(records, items, state.strings)


class _ScanState:
    def __init__(self, data: bytes, programs: Programs) -> None:
        self.data = data
        self.p = programs
        self.index = {int(t): i for i, t in enumerate(programs.type_ids)}
        self.records: list[int] = []
        self.items: list[int] = []
        self.strings: list[str] = [""]

    def lookup(self, type_id: int) -> int:
        return self.index.get(type_id, -1)

    def constants(self, cur: Cursor) -> None:
        for _ in range(3):  # start time, duration, delta to the previous pool
            cur.varint()
        cur.take(1, "flush flag")
        for _ in range(self.count(cur, "pool count")):
            at = cur.pos
            type_id = cur.varint()
            row = self.lookup(type_id)
            if row < 0:
                raise ScanError(f"constant pool of unknown type {type_id}", at)
            emit = bool(self.p.emit[row])
            for _ in range(self.count(cur, "constant count")):
                key = cur.varint()
                if emit:
                    self.record(cur, row, KIND_CONSTANT, type_id, key)
                else:
                    self.run(cur, row, None)

    def count(self, cur: Cursor, what: str) -> int:
        at = cur.pos
        n = cur.varint()
        if n < 0 or n > cur.end - cur.pos:
            raise ScanError(f"{what} {n} is larger than the bytes left", at)
        return n

    def record(self, cur: Cursor, row: int, kind: int, type_id: int, key: int) -> None:
        out = [kind, type_id, key] + [0] * RECORD_SLOTS
        self.run(cur, row, out)
        self.records.extend(out)

    def run(self, cur: Cursor, row: int, out: list[int] | None) -> None:
        """Interpret one type's program; array bodies loop with an explicit stack.

        Only the outermost array of a record collects item rows (its elements' values);
        values of arrays nested deeper are read and dropped.
        """
        ops = self.p.ops
        pc = int(self.p.starts[row])
        end = pc + int(self.p.lengths[row])
        # per open array: [body start, body end, elements left, item row or None]
        stack: list[list] = []  # type: ignore[type-arg]
        while True:
            if pc == end:
                if not stack:
                    return
                top = stack[-1]
                if top[3] is not None:
                    self.items.extend(top[3])
                    top[3] = [0] * ITEM_SLOTS
                top[2] -= 1
                if top[2] > 0:
                    pc = top[0]
                    continue
                stack.pop()
                pc = top[1]
                end = stack[-1][1] if stack else int(self.p.starts[row] + self.p.lengths[row])
                continue
            op, slot, arg = (int(x) for x in ops[pc])
            pc += 1
            if op == OP_ARRAY:
                at = cur.pos
                n = cur.varint()
                if n < 0 or n > cur.end - cur.pos:
                    raise ScanError(f"array of {n} elements runs past the end", at)
                collect = out is not None and slot >= 0 and not stack
                if collect:
                    assert out is not None
                    out[3 + slot] = len(self.items) // ITEM_SLOTS
                    out[3 + slot + 1] = n if arg else 0
                if n == 0 or arg == 0:
                    pc += arg
                    continue
                if len(stack) >= MAX_ARRAY_DEPTH:
                    raise ScanError("arrays nested too deep", at)
                stack.append([pc, pc + arg, n, [0] * ITEM_SLOTS if collect else None])
                end = pc + arg
                continue
            value = self.value(cur, op)
            if slot >= 0:
                if not stack:
                    if out is not None:
                        out[3 + slot] = value
                elif len(stack) == 1 and stack[0][3] is not None:
                    stack[0][3][slot] = value

    def value(self, cur: Cursor, op: int) -> int:
        if op == OP_VARINT:
            return cur.varint()
        if op == OP_BYTE:
            return self.data[cur.take(1, "byte")]
        if op == OP_F32:
            cur.take(4, "float")
            return 0
        if op == OP_F64:
            cur.take(8, "double")
            return 0
        return self.string(cur)

    def string(self, cur: Cursor) -> int:
        at = cur.pos
        kind = self.data[cur.take(1, "string encoding")]
        if kind == 0:
            return NULL_STRING
        if kind == 1:
            return 0
        if kind == 2:
            key = cur.varint()
            if key < 0:
                raise ScanError(f"string constant key {key} is negative", at)
            return -key - 2
        cur.pos = at
        text = read_string(cur)
        assert text is not None
        if text == "":
            return 0
        self.strings.append(text)
        return len(self.strings) - 1
