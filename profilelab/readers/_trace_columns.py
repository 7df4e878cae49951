"""Columns of Chrome trace event objects, converted by Arrow in C (trace events and samples)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def convert(events: list[Any], kind: pa.DataType) -> pa.StructArray | None:
    """The events as a struct array of ``kind``; None when some event does not fit it."""
    try:  # Arrow converts the list of objects in C
        return pa.array(events, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return None


def lane_column(events: list[Any], key: str) -> pa.Array:
    """pid or tid as text (numbers, as written, or strings)."""
    for kind in (pa.int64(), pa.string()):
        arr = convert(events, pa.struct([(key, kind)]))
        if arr is not None:
            return arr.field(key).cast(pa.string()).fill_null("")
    return pa.array([_text(e.get(key)) for e in events], pa.string())  # mixed types


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)
