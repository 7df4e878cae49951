"""Vectorized protobuf wire decoding: many small messages of one type at once, with numpy.

The protobuf runtime's per-message Python access costs about a microsecond per field, which
is seconds for a million samples. Here a *batch* of N messages of one type (their bodies are
byte ranges of one buffer) is decoded field by field for all messages together: step k reads
the k-th field of every message that still has bytes, so the number of numpy passes is the
largest field count of one message, not the number of messages.

Long single messages (a Profile with a million Sample records, the dictionary) are split into
their records by the C runtime (:func:`split`, an ``upb`` parse of a shadow message whose
fields 1..15 are ``repeated bytes``); the records of one field then form a batch.

The wire rules are upb's: a varint has at most 10 bytes (bits past 64 dropped), a tag at most
5 bytes and 32 bits, a length at most 5 bytes and below 2 GiB. Unknown groups are skipped when
:func:`scan` is given the nesting depth of its messages (the pprof reader), at most
:data:`MAX_DEPTH` deep; without it a group is an error (OTLP never has them).

Malformed input raises :class:`WireError` (a ``ValueError``) saying what is wrong and where;
readers add the input's name.

:func:`scan` reads the records in C (:mod:`profilelab._native._wirescan`) when that was
built: a small input (a receiver's post) is a few dozen batches of a few messages, where
the numpy steps cost far more than the bytes they read. The C scanner gives the same rows
in the same order, and returns nothing for anything but plain well-formed records (groups,
errors), which then go through the numpy steps and their messages. The Batch methods that
read one field per message (scalar, repeated, bodies, last_body, unexpected) are one C pass over
the rows too; a malformed packed field goes through the numpy steps, which raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from profilelab.model.ranges import ranges

try:
    from profilelab._native import _wirescan as _native
except ImportError:  # built without a C compiler: the numpy steps only
    _native = None  # type: ignore[assignment]

U64 = np.uint64
VARINT, FIXED64, LEN, SGROUP, EGROUP, FIXED32 = 0, 1, 2, 3, 4, 5
#: How deep messages and groups may nest (upb's default recursion limit).
MAX_DEPTH = 100
_PAD = 16  # zero bytes after the data, so vectorized reads past a truncated end stay in bounds
# When only a few long messages are left, a plain loop is cheaper than numpy passes.
_FEW, _MANY_STEPS = 8, 64


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message of the expected shape."""


# ---- splitting one message into its records (C runtime) --------------------------------------


BYTES = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
INT64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL


def shadow_class(name: str, fields: dict[int, tuple[int, int]]) -> Any:
    """A proto3 message class with fields ``f<number>`` given as number -> (type, label).

    Declaring a message's sub-message fields as ``repeated bytes`` makes the C runtime split
    it into records without parsing them (the records are then decoded as batches)."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"profilelab_{name.lower()}.proto", package="profilelab_shadow", syntax="proto3"
    )
    msg = fdp.message_type.add(name=name)
    for number, (kind, label) in fields.items():
        msg.field.add(name=f"f{number}", number=number, type=kind, label=label)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"profilelab_shadow.{name}"))


_Split = shadow_class("Split", {i: (BYTES, REPEATED) for i in range(1, 16)})


@dataclass
class Records:
    """The records of one message, grouped by field number, in order of appearance.

    ``lengthy[f]`` lists the bodies of length-delimited records of field ``f`` (1..15);
    ``scalars`` lists every other record as (field, wire type, value) in order; a
    length-delimited record of a field above 15 appears in ``scalars`` with its bytes.
    """

    lengthy: dict[int, list[bytes]]
    scalars: list[tuple[int, int, int | bytes]]

    def last(self, field: int, default: int = 0) -> int:
        """The last scalar value of ``field`` (protobuf: the last one wins)."""
        out: int | bytes = default
        for f, _, v in self.scalars:
            if f == field:
                out = v
        return out if isinstance(out, int) else default

    def one(self, field: int) -> bytes | None:
        """The body of a singular message/bytes field (several records are merged by protobuf;
        for bytes and strings the last wins, which is what we need for the fields we read)."""
        got = self.lengthy.get(field)
        return got[-1] if got else None


def split(data: bytes, what: str) -> Records:
    """Split one message body into its records (in C). Raises WireError when malformed."""
    try:
        msg = _Split.FromString(data)
    except (DecodeError, RecursionError) as exc:
        raise WireError(f"{what}: protobuf decode failed ({exc})") from None
    # the fields present, by number (ListFields leaves out empty repeated fields)
    lengthy = {d.number: list(v) for d, v in msg.ListFields()}
    scalars: list[tuple[int, int, int | bytes]] = [
        (u.field_number, u.wire_type, u.data) for u in UnknownFieldSet(msg)
    ]
    for f, wire, _ in scalars:
        if wire not in (VARINT, FIXED64, LEN, FIXED32):
            raise WireError(f"{what}: field {f} uses the unsupported wire type {wire} (groups)")
    return Records(lengthy, scalars)


# ---- batches ---------------------------------------------------------------------------------


def as_buffer(data: bytes | bytearray) -> np.ndarray:
    """The bytes as a uint8 array with zero padding for safe vectorized reads."""
    return np.frombuffer(bytes(data) + bytes(_PAD), dtype=np.uint8)


def join(bodies: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate message bodies into one padded buffer; return (buf, starts, ends)."""
    if _native is not None:  # None: not all bytes objects
        got = _native.join(bodies, _PAD)
        if got is not None:
            starts, ends = np.frombuffer(got[1], np.int64), np.frombuffer(got[2], np.int64)
            return np.frombuffer(got[0], dtype=np.uint8), starts, ends
    lengths = np.fromiter(map(len, bodies), dtype=np.int64, count=len(bodies))
    ends = np.cumsum(lengths)
    bodies.append(bytes(_PAD))
    try:
        buf = np.frombuffer(b"".join(bodies), dtype=np.uint8)
    finally:
        bodies.pop()
    return buf, ends - lengths, ends


@dataclass
class Batch:
    """Every field record of N messages of one type.

    Rows come in decoding steps (the k-th record of every message, then the k+1-th), so a
    message's records are in order but not contiguous. ``value`` holds the varint or fixed
    value, or (length-delimited) the start of the body in ``buf``; ``length`` is the body
    length (0 for other wire types).
    """

    n: int
    buf: np.ndarray
    msg: np.ndarray
    field: np.ndarray
    wire: np.ndarray
    value: np.ndarray
    length: np.ndarray

    def rows(self, field: int, wire: int | None = None) -> np.ndarray:
        mask = self.field == field
        if wire is not None:
            mask &= self.wire == wire
        return np.flatnonzero(mask)

    def has(self, field: int, wire: int | None = None) -> bool:
        return len(self.rows(field, wire)) > 0

    def _last(self, rows: np.ndarray) -> np.ndarray:
        """Of some rows, the last one of each message (protobuf: the last value wins)."""
        m = self.msg[rows]
        if len(rows) < 2 or np.bincount(m, minlength=self.n).max() <= 1:
            return rows
        rows = rows[np.argsort(m, kind="stable")]
        m = self.msg[rows]
        return rows[np.append(m[1:] != m[:-1], True)]

    def _columns(
        self,
    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The arguments of the compiled field readers (see _wirescan.c)."""
        return (self.n, self.msg, self.field, self.wire, self.value, self.length)

    def scalar(self, field: int) -> np.ndarray:
        """The value of a singular scalar field per message (uint64; 0 when unset)."""
        if _native is not None:
            return np.frombuffer(_native.field_scalar(*self._columns(), field), dtype=U64)
        out = np.zeros(self.n, dtype=U64)
        rows = self._last(self.rows(field))
        rows = rows[self.wire[rows] != LEN]
        out[self.msg[rows]] = self.value[rows]
        return out

    def repeated(self, field: int, fixed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """A repeated scalar field, packed or not, as CSR (offsets n+1, uint64 values)."""
        if _native is not None:  # None: a malformed packed record, the steps below raise
            got = _native.field_repeated(*self._columns(), field, fixed, self.buf)
            if got is not None:
                return np.frombuffer(got[0], dtype=np.int64), np.frombuffer(got[1], dtype=U64)
        rows = self.rows(field)
        m = self.msg[rows]
        if len(m) > 1 and (m[1:] < m[:-1]).any():  # by message, each one's records in order
            rows = rows[np.argsort(m, kind="stable")]
            m = self.msg[rows]
        packed = self.wire[rows] == LEN
        p_rows = rows[packed]
        starts, lengths = self.value[p_rows].astype(np.int64), self.length[p_rows]
        if fixed:
            counts_p, values_p = _fixed64_regions(self.buf, starts, lengths)
        else:
            counts_p, values_p = varints_in_regions(self.buf, starts, lengths)
        counts = np.ones(len(rows), dtype=np.int64)
        counts[packed] = counts_p
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        per_msg = np.bincount(m, weights=counts, minlength=self.n).astype(np.int64)
        np.cumsum(per_msg, out=offsets[1:])
        # The values are those of the rows in row order: packed runs and single values.
        if packed.all():
            return offsets, values_p
        if not packed.any():
            return offsets, self.value[rows]
        dest = np.cumsum(counts) - counts
        values = np.empty(int(offsets[-1]), dtype=U64)
        values[ranges(dest[packed], counts_p)] = values_p
        values[dest[~packed]] = self.value[rows[~packed]]
        return offsets, values

    def bodies(self, field: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Length-delimited records of ``field``: (owning message, start, end), by message."""
        if _native is not None:
            got = _native.field_bodies(*self._columns(), field)
            owner, starts, ends = (np.frombuffer(c, dtype=np.int64) for c in got)
            return owner, starts, ends
        rows = self.rows(field, LEN)
        m = self.msg[rows]
        if len(m) > 1 and (m[1:] < m[:-1]).any():
            rows = rows[np.argsort(m, kind="stable")]
        starts = self.value[rows].astype(np.int64)
        return self.msg[rows], starts, starts + self.length[rows]

    def last_body(self, field: int) -> tuple[np.ndarray, np.ndarray]:
        """The last length-delimited record of ``field`` per message: (start, length).

        The start is -1 where the message has none."""
        if _native is not None:
            got = _native.field_last_body(*self._columns(), field)
            return np.frombuffer(got[0], dtype=np.int64), np.frombuffer(got[1], dtype=np.int64)
        start = np.full(self.n, -1, dtype=np.int64)
        length = np.zeros(self.n, dtype=np.int64)
        rows = self._last(self.rows(field, LEN))
        start[self.msg[rows]] = self.value[rows].astype(np.int64)
        length[self.msg[rows]] = self.length[rows]
        return start, length

    def unexpected(self, expected: dict[int, tuple[int, ...]]) -> tuple[int, int] | None:
        """The first (field, wire type) not in ``expected`` (field -> allowed wire types)."""
        if _native is not None:
            row = _native.first_unexpected(*self._columns(), _allowed(expected))
            return None if row < 0 else (int(self.field[row]), int(self.wire[row]))
        bad = np.flatnonzero(~self._expected(expected))
        if len(bad) == 0:
            return None
        return int(self.field[bad[0]]), int(self.wire[bad[0]])

    def only(self, expected: dict[int, tuple[int, ...]]) -> Batch:
        """The records of ``expected`` (field -> wire types); protobuf skips the others
        (unknown fields, and known ones with another wire type)."""
        keep = self._expected(expected)
        return self if keep.all() else self.subset(keep)

    def subset(self, keep: np.ndarray) -> Batch:
        """The records where ``keep`` is True, in order."""
        return Batch(
            self.n,
            self.buf,
            self.msg[keep],
            self.field[keep],
            self.wire[keep],
            self.value[keep],
            self.length[keep],
        )

    def _expected(self, expected: dict[int, tuple[int, ...]]) -> np.ndarray:
        table = _allowed(expected)
        field = np.minimum(self.field, table.shape[0] - 1)
        return table[field, self.wire]


_ALLOWED: dict[tuple[tuple[int, tuple[int, ...]], ...], np.ndarray] = {}


def _allowed(expected: dict[int, tuple[int, ...]]) -> np.ndarray:
    """A flag per (field, wire type) allowed by ``expected``; the last row (all False)
    stands for every larger field number. Kept per layout: each is built once."""
    key = tuple(expected.items())
    table = _ALLOWED.get(key)
    if table is None:
        table = np.zeros((max(expected, default=0) + 2, 8), dtype=bool)
        for f, wires in expected.items():
            table[f, list(wires)] = True
        table.flags.writeable = False
        _ALLOWED[key] = table
    return table


def scan(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, what: str, depth: int | None = None
) -> Batch:
    """Decode the records of every message ``buf[starts[i]:ends[i]]`` (vectorized).

    ``depth`` is how deep the messages nest (a top-level message's fields are 1): given it,
    unknown groups are checked and skipped, else a group is an error."""
    n = len(starts)
    if _native is not None:
        got = _native.scan(
            buf,
            np.ascontiguousarray(starts, dtype=np.int64),
            np.ascontiguousarray(ends, dtype=np.int64),
        )
        if got is not None:
            types = (np.int64, np.int32, np.int8, U64, np.int64)  # msg field wire value length
            cols = (np.frombuffer(c, dtype=t) for c, t in zip(got, types, strict=True))
            return Batch(n, buf, *cols)
    ids = np.arange(n, dtype=np.int64)
    pos = np.asarray(starts, dtype=np.int64).copy()
    end = np.asarray(ends, dtype=np.int64)
    live = pos < end
    ids, pos, end = ids[live], pos[live], end[live]
    parts: list[tuple[np.ndarray, ...]] = []
    groups = depth is not None
    steps = 0
    while len(ids):
        if steps > _MANY_STEPS and len(ids) <= _FEW:
            parts.append(_scan_loop(buf, ids, pos, end, what, groups))
            break
        steps += 1
        field, wire, value, length, pos = _step(buf, pos, end, ids, what, groups)
        parts.append((ids, field, wire, value, length))
        live = pos < end
        ids, pos, end = ids[live], pos[live], end[live]
    batch = _batch(n, buf, parts)
    if depth is not None:
        return _skip_groups(batch, depth, what)
    return batch


def _skip_groups(b: Batch, depth: int, what: str) -> Batch:
    """The batch without its groups and what they hold, after checking that they nest.

    Per message, in record order, a start-group opens a level and an end-group closes it;
    at each (message, level) starts and ends alternate, and an end must name its start's
    field. ``depth`` + the open groups may not pass MAX_DEPTH."""
    is_start, is_end = b.wire == SGROUP, b.wire == EGROUP
    if not (is_start | is_end).any():
        return b
    order = np.argsort(b.msg, kind="stable")  # rows of a message are in record order
    m = b.msg[order]
    delta = is_start[order].astype(np.int64) - is_end[order]
    total = np.cumsum(delta)
    first = np.ones(len(m), dtype=bool)
    first[1:] = m[1:] != m[:-1]
    group_start = np.flatnonzero(first)
    before_msg = (total - delta)[group_start]
    level = total - np.repeat(before_msg, np.diff(np.append(group_start, len(m))))
    if (level < 0).any():
        raise WireError(f"{what}: end-group tag without a matching start-group")
    if depth + int(level.max()) > MAX_DEPTH:
        raise WireError(f"{what}: groups nested more than {MAX_DEPTH} deep")
    last = np.append(group_start[1:], len(m)) - 1
    if (level[last] != 0).any():
        raise WireError(f"{what}: truncated group (no end-group tag)")
    marks = np.flatnonzero(delta != 0)
    mark_level = level[marks] + (delta[marks] < 0)  # an end closes the level above it
    seq = marks[np.lexsort((marks, mark_level, m[marks]))]
    ends = np.flatnonzero(delta[seq] < 0)
    opener = seq[ends - 1]  # alternation: the item before an end is its start
    if (b.field[order[opener]] != b.field[order[seq[ends]]]).any():
        raise WireError(f"{what}: end-group tag without a matching start-group")
    inside = np.empty(len(m), dtype=bool)
    inside[order] = (level > 0) | (delta != 0)
    return b.subset(~inside)


def _batch(n: int, buf: np.ndarray, parts: list[tuple[np.ndarray, ...]]) -> Batch:
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return Batch(n, buf, z, z.astype(np.int32), z.astype(np.int8), z.astype(U64), z)
    msg, field, wire, value, length = (np.concatenate(c) for c in zip(*parts, strict=True))
    return Batch(n, buf, msg, field, wire, value, length)


def _step(
    buf: np.ndarray, pos: np.ndarray, end: np.ndarray, ids: np.ndarray, what: str, groups: bool
) -> tuple[np.ndarray, ...]:
    """Read one record from every live message."""
    tag, pos = read_varints(buf, pos, 5, what)
    if (tag > U64(0xFFFFFFFF)).any():
        raise WireError(
            f"{what} {_which(ids, tag > U64(0xFFFFFFFF))}: field tag wider than 32 bits"
        )
    field = (tag >> U64(3)).astype(np.int32)
    wire = (tag & U64(7)).astype(np.int8)
    if (field == 0).any():
        raise WireError(f"{what} {_which(ids, field == 0)}: field number 0")
    value = np.zeros(len(pos), dtype=U64)
    length = np.zeros(len(pos), dtype=np.int64)
    if (wire == VARINT).all():  # the common case: no subsetting
        value, pos = read_varints(buf, pos, 10, what)
    else:
        _read_values(buf, pos, wire, value, length, ids, what, groups)
    over = pos > end
    if over.any():
        raise WireError(f"{what} {_which(ids, over)}: truncated (a field runs past its end)")
    return field, wire, value, length, pos


def _read_values(
    buf: np.ndarray,
    pos: np.ndarray,
    wire: np.ndarray,
    value: np.ndarray,
    length: np.ndarray,
    ids: np.ndarray,
    what: str,
    groups: bool,
) -> None:
    """Read the values of mixed wire types in place (``pos`` advances past them; a group
    tag has no value)."""
    allowed = (VARINT, FIXED64, LEN, FIXED32, SGROUP, EGROUP) if groups else _NO_GROUPS
    bad = ~np.isin(wire, allowed)
    if bad.any():
        w = int(wire[bad][0])
        raise WireError(f"{what} {_which(ids, bad)}: unsupported wire type {w}")
    for kind in (VARINT, LEN):
        sel = np.flatnonzero(wire == kind)
        if len(sel):
            v, p = read_varints(buf, pos[sel], 10 if kind == VARINT else 5, what)
            if kind == VARINT:
                value[sel], pos[sel] = v, p
            else:
                if (v >= U64(_MAX_LENGTH)).any():
                    raise WireError(f"{what}: length of 2 GiB or more")
                value[sel] = p.astype(U64)
                length[sel] = v.astype(np.int64)
                pos[sel] = p + v.astype(np.int64)
    for kind, size in ((FIXED64, 8), (FIXED32, 4)):
        sel = np.flatnonzero(wire == kind)
        if len(sel):
            value[sel] = _fixed_at(buf, pos[sel], size)
            pos[sel] += size


_NO_GROUPS = (VARINT, FIXED64, LEN, FIXED32)
_MAX_LENGTH = 0x7FFFFFFF


def read_varints(
    buf: np.ndarray, pos: np.ndarray, max_len: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Decode one varint at each position; return (values, positions after them)."""
    b = buf[pos]
    value = (b & 0x7F).astype(U64)
    pos = pos + 1
    cont = np.flatnonzero(b & 0x80)
    k = 1
    while len(cont):
        if k >= max_len:
            raise WireError(f"{what}: malformed varint (more than {max_len} bytes)")
        if (pos[cont] >= len(buf)).any():
            raise WireError(f"{what}: truncated varint")
        b = buf[pos[cont]]
        value[cont] |= (b & 0x7F).astype(U64) << U64(7 * k)
        pos[cont] += 1
        cont = cont[(b & 0x80) != 0]
        k += 1
    return value, pos


def _fixed_at(buf: np.ndarray, pos: np.ndarray, size: int) -> np.ndarray:
    idx = pos[:, None] + np.arange(size, dtype=np.int64)[None, :]
    raw = np.ascontiguousarray(buf[idx])
    dtype = "<u8" if size == 8 else "<u4"
    return raw.view(dtype).reshape(len(pos)).astype(U64)


def _which(ids: np.ndarray, mask: np.ndarray) -> str:
    return f"#{int(ids[np.flatnonzero(mask)[0]])}"


def _scan_loop(
    buf: np.ndarray, ids: np.ndarray, pos: np.ndarray, end: np.ndarray, what: str, groups: bool
) -> tuple[np.ndarray, ...]:
    """The rest of a few long messages, one record at a time (same output as the steps)."""
    data = buf.tobytes()
    allowed = (VARINT, FIXED64, LEN, FIXED32, SGROUP, EGROUP) if groups else _NO_GROUPS
    out: list[tuple[int, int, int, int, int]] = []
    for m, p, e in zip(ids.tolist(), pos.tolist(), end.tolist(), strict=True):
        while p < e:
            tag, p = _varint(data, p, what, 5)
            field, wire = tag >> 3, tag & 7
            if tag > 0xFFFFFFFF:
                raise WireError(f"{what} #{m}: field tag wider than 32 bits")
            if field == 0:
                raise WireError(f"{what} #{m}: field number 0")
            if wire not in allowed:
                raise WireError(f"{what} #{m}: unsupported wire type {wire}")
            length = value = 0
            if wire == VARINT:
                value, p = _varint(data, p, what, 10)
            elif wire == LEN:
                length, p = _varint(data, p, what, 5)
                if length >= _MAX_LENGTH:
                    raise WireError(f"{what}: length of 2 GiB or more")
                value = p
                p += length
            elif wire in (FIXED64, FIXED32):
                size = 8 if wire == FIXED64 else 4
                value = int.from_bytes(data[p : p + size], "little")
                p += size
            if p > e:
                raise WireError(f"{what} #{m}: truncated (a field runs past its end)")
            out.append((m, field, wire, value, length))
    cols: list[Any] = list(zip(*out, strict=True)) if out else [[], [], [], [], []]
    return (
        np.array(cols[0], dtype=np.int64),
        np.array(cols[1], dtype=np.int32),
        np.array(cols[2], dtype=np.int8),
        np.array(cols[3], dtype=U64),
        np.array(cols[4], dtype=np.int64),
    )


def _varint(data: bytes, pos: int, what: str, max_len: int) -> tuple[int, int]:
    result = 0
    for k in range(max_len):
        if pos >= len(data):
            break
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << (7 * k)
        if not b & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
    raise WireError(f"{what}: malformed or truncated varint")


# ---- packed repeated scalars -----------------------------------------------------------------


def varints_in_regions(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Decode packed varints in each region; return (count per region, all values in order)."""
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    if _native is not None:  # in C when built (None: malformed, the steps below raise)
        got = _native.packed_varints(buf, starts, lengths)
        if got is not None:
            return np.frombuffer(got[0], dtype=np.int64), np.frombuffer(got[1], dtype=U64)
    if len(starts) and (lengths > 0).all():
        # Common case: one value per region (a sample's single value). Read one varint at each
        # start; if each ends exactly at its region's end, that was all of it.
        value, after = read_varints(buf, starts, 10, "packed field")
        if np.array_equal(after, starts + lengths):
            return np.ones(len(starts), dtype=np.int64), value
    b = gather(buf, starts, lengths)
    if len(b) == 0:
        return np.zeros(len(lengths), dtype=np.int64), np.zeros(0, dtype=U64)
    term = b < 0x80
    region_end = np.cumsum(lengths)
    nonempty = lengths > 0
    if not term[region_end[nonempty] - 1].all():
        raise WireError("packed field: truncated varint at the end of the field")
    ends = np.flatnonzero(term)  # the last byte of every varint
    before = np.searchsorted(ends, region_end - lengths)
    counts = np.searchsorted(ends, region_end) - before
    if len(ends) == len(b):  # every varint is one byte
        return counts, b.astype(U64)
    first = np.empty(len(ends), dtype=np.int64)
    first[0] = 0
    first[1:] = ends[:-1] + 1
    size = ends - first + 1
    if size.max() > 10:
        raise WireError("packed field: malformed varint (more than 10 bytes)")
    # Byte k of every varint at once; bytes past a varint's end read as 0 (masked).
    low = b & np.uint8(0x7F)
    values = low[first].astype(U64)
    last = len(b) - 1
    for k in range(1, int(size.max())):
        byte = low[np.minimum(first + k, last)] * (size > k)
        values |= byte.astype(U64) << U64(7 * k)
    return counts, values


def _fixed64_regions(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.asarray(lengths, dtype=np.int64)
    if (lengths % 8).any():
        raise WireError("packed fixed64 field: length is not a multiple of 8")
    b = np.ascontiguousarray(buf[ranges(np.asarray(starts, dtype=np.int64), lengths)])
    return lengths // 8, b.view("<u8").astype(U64)


def gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The bytes of every region concatenated (uint8)."""
    starts, lengths = np.asarray(starts, np.int64), np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if total > len(buf) // 4 and _in_order(starts, lengths):
        # Regions cover much of the buffer: mark them (one int8 pass) instead of building
        # an int64 index per byte.
        mark = np.zeros(len(buf) + 1, dtype=np.int8)
        some = lengths > 0
        mark[starts[some]] += 1
        mark[(starts + lengths)[some]] -= 1
        return buf[np.cumsum(mark[:-1], dtype=np.int8).view(bool)]
    return buf[ranges(starts, lengths)]


def _in_order(starts: np.ndarray, lengths: np.ndarray) -> bool:
    """Whether the non-empty regions follow each other without overlapping."""
    some = lengths > 0
    s, e = starts[some], (starts + lengths)[some]
    return bool((s[1:] >= e[:-1]).all())
