"""Type stub of the compiled protobuf record scanner (source: _wirescan.c)."""

from typing import Any

def scan(buf: Any, starts: Any, ends: Any, /) -> tuple[bytearray, ...] | None:
    """The records of the messages buf[starts[i]:ends[i]] (byte buffers, numpy arrays
    included; native int64 bounds) as five columns: msg (int64), field (int32), wire
    (int8), value (uint64), length (int64), in the numpy scanner's order; None for
    anything but plain, well-formed records."""

def packed_varints(buf: Any, starts: Any, lengths: Any, /) -> tuple[bytearray, bytearray] | None:
    """The varints packed in each region buf[starts[i]:starts[i]+lengths[i]] (native int64
    bounds): (count per region as int64, every value as uint64); None when a region ends
    inside a varint or a varint has more than 10 bytes."""

def join(bodies: list[bytes], pad: int, /) -> tuple[bytes, bytearray, bytearray] | None:
    """The bodies concatenated, then ``pad`` zero bytes: (buffer, starts as int64, ends as
    int64); None when an item is not a bytes object."""

def field_scalar(
    n: int, msg: Any, field: Any, wire: Any, value: Any, length: Any, f: int, /
) -> bytearray:
    """Per message of a batch (the columns of _wire.Batch), the value of its last record of
    field f as uint64; 0 when it has none or the last one is length-delimited."""

def field_repeated(
    n: int,
    msg: Any,
    field: Any,
    wire: Any,
    value: Any,
    length: Any,
    f: int,
    fixed: bool,
    buf: Any,
    /,
) -> tuple[bytearray, bytearray] | None:
    """The repeated scalar field f of a batch, packed (varints, or fixed64 when ``fixed``)
    or not: (offsets as int64, n + 1; values as uint64) by message; None when a packed
    record is malformed."""

def field_bodies(
    n: int, msg: Any, field: Any, wire: Any, value: Any, length: Any, f: int, /
) -> tuple[bytearray, bytearray, bytearray]:
    """The length-delimited records of field f of a batch, by message (each message's in
    record order): owning message, body start and body end, as int64."""

def field_last_body(
    n: int, msg: Any, field: Any, wire: Any, value: Any, length: Any, f: int, /
) -> tuple[bytearray, bytearray]:
    """Per message of a batch, the start and length (int64) of its last length-delimited
    record of field f; start -1 and length 0 where it has none."""

def first_unexpected(
    n: int, msg: Any, field: Any, wire: Any, value: Any, length: Any, allowed: Any, /
) -> int:
    """The first row whose (field, wire type) ``allowed`` (8 flags per field number, the
    last row for every larger number) refuses, or -1."""
