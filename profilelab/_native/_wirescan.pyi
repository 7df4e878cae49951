"""Type stub of the compiled protobuf record scanner (source: _wirescan.c)."""

from typing import Any

def scan(buf: Any, starts: Any, ends: Any, /) -> tuple[bytearray, ...] | None:
    """The records of the messages buf[starts[i]:ends[i]] (byte buffers, numpy arrays
    included; native int64 bounds) as five columns: msg (int64), field (int32), wire
    (int8), value (uint64), length (int64), in the numpy scanner's order; None for
    anything but plain, well-formed records."""
