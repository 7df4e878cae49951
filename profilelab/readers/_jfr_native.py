"""The fast JFR scan: the compiled kernel's output wrapped into a :class:`Scan`.

:mod:`profilelab._native._jfr` interprets the record programs of
:mod:`profilelab.readers._jfr_format` over a chunk's events in C and returns flat arrays;
this module wraps them with ``np.frombuffer`` and Arrow (no copies). The kernel raises
``ScanError`` with the same words and byte offsets as :func:`_jfr_format.scan_reference`,
its oracle.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pyarrow as pa

from profilelab.readers._jfr_format import (
    HEADER_SIZE,
    ITEM_SLOTS,
    RECORD_WIDTH,
    Chunk,
    Programs,
    Scan,
    ScanError,
)

_kernel: ModuleType | None
try:
    from profilelab._native import _jfr as _kernel
except ImportError:  # not built (no C compiler at install time): the reference scan is used
    _kernel = None


def available() -> bool:
    """Whether the compiled scanner was built and imports."""
    return _kernel is not None


def scan(data: bytes, chunk: Chunk, programs: Programs) -> Scan:
    """Scan one chunk's events with the compiled kernel."""
    if _kernel is None:
        raise RuntimeError("profilelab._native._jfr is not built")
    try:
        out = _kernel.scan(
            data,
            chunk.start + HEADER_SIZE,
            chunk.end,
            np.ascontiguousarray(programs.type_ids, dtype=np.int64),
            np.ascontiguousarray(programs.starts, dtype=np.int64),
            np.ascontiguousarray(programs.lengths, dtype=np.int64),
            np.ascontiguousarray(programs.emit, dtype=np.uint8),
            np.ascontiguousarray(programs.ops, dtype=np.int64),
        )
    except _kernel.ScanError as exc:
        what, at = exc.args
        raise ScanError(what, at) from None
    records = np.frombuffer(out["records"], dtype=np.int64).reshape(-1, RECORD_WIDTH)
    items = np.frombuffer(out["items"], dtype=np.int64).reshape(-1, ITEM_SLOTS)
    offsets = pa.py_buffer(out["string_offsets"])
    n = len(out["string_offsets"]) // 8 - 1
    strings = pa.Array.from_buffers(
        pa.large_string(), n, [None, offsets, pa.py_buffer(out["string_data"])]
    )
    return Scan(records, items, strings)  # type: ignore[arg-type]
