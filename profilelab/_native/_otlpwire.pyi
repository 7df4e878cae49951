"""Type stub of the compiled OTLP profiles walker (source: _otlpwire.c)."""

from typing import Any

def decode(data: bytes | bytearray | memoryview, /) -> tuple[Any, ...] | None:
    """A binary OTLP profiles request (v1development) as the parts of its Payload, assembled
    by profilelab.readers._otlp_native; None for anything left to the NumPy walker."""

def used(n: int, refs: Any, drop_zero: bool, /) -> tuple[bytearray, bytearray] | None:
    """The entries of a table of n that the int64 indices ``refs`` use: (kept positions, new
    index of each position) as int64, entry 0 left out when ``drop_zero`` (its new index is
    then -1); None when an index is outside [0, n) or there is no entry 0 to drop."""

def rows(offsets: Any, keep: Any, /) -> tuple[bytearray, bytearray] | None:
    """Of int64 CSR ``offsets``, the rows ``keep``: (their offsets from 0, the positions they
    cover) as int64; None when a row is outside the table or its offsets decrease."""
