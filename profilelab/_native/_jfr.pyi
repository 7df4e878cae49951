"""Type stub of the compiled JFR event scanner (source: _jfr.c)."""

from typing import Any

class ScanError(ValueError):
    """Bad JFR bytes: args are (what, byte offset)."""

def scan(
    data: bytes,
    start: int,
    end: int,
    type_ids: Any,
    starts: Any,
    lengths: Any,
    emit: Any,
    ops: Any,
    /,
) -> dict[str, bytes]:
    """Scan one chunk's events with compiled record programs (see _jfr_format)."""
