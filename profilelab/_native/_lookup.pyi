"""Type stub of the compiled id lookup (source: _lookup.c)."""

from typing import Any

def positions(keys: Any, ids: Any, out: Any, /) -> None:
    """``out[k]``: the position of ``keys[k]`` among the distinct ``ids`` (-1 when absent);
    ``keys`` and ``ids`` int64 buffers, ``out`` a writable int32 buffer, one per key."""
