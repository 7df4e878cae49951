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
