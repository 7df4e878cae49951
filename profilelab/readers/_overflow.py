"""Sample values whose totals would not fit in 64 bits are refused, not wrapped.

pprof values are int64 and every report adds them up (flat, cum, totals, shares). Values
near 2^63 are legal one by one, but their sum wraps silently in numpy, Polars and DuckDB
alike (``top`` once printed a total of -2 and shares of 4.6e20%). A reader's output is
refused when, for any sample type, the sum of the magnitudes of its values reaches 2^63:
no sum or difference of a subset of them can then overflow.
"""

from __future__ import annotations

import numpy as np

from profilelab.errors import FormatError
from profilelab.model.raw import RawProfile

_LIMIT = 1 << 63


def magnitude_sums(values: np.ndarray) -> list[int]:
    """Exact sum of ``|v|`` per column of an int64 matrix, as Python ints (vectorized:
    each magnitude is split into 32-bit halves whose column sums cannot overflow)."""
    if values.size == 0:
        return [0] * (values.shape[1] if values.ndim == 2 else 0)
    mag = np.abs(values.astype(np.int64)).view(np.uint64)  # |-2^63| is 2^63 as uint64
    high = (mag >> np.uint64(32)).sum(axis=0, dtype=np.uint64)
    low = (mag & np.uint64(0xFFFFFFFF)).sum(axis=0, dtype=np.uint64)
    return [(int(h) << 32) + int(lo) for h, lo in zip(high.tolist(), low.tolist(), strict=True)]


def check_merged_sums(raws: list[RawProfile]) -> None:
    """The same check over inputs merged as ``go tool pprof a b`` (sample types by index)."""
    totals: dict[int, int] = {}
    for raw in raws:
        for index, total in enumerate(magnitude_sums(raw.values)):
            totals[index] = totals.get(index, 0) + total
    for index, total in totals.items():
        if total >= _LIMIT:
            names = ", ".join(dict.fromkeys(r.source for r in raws))
            raise FormatError(
                f"{names}: values of sample type {index} add up to {total} across the inputs, "
                "past 2^63: merged totals would overflow 64-bit integers"
            )


def surely_fits(values: np.ndarray) -> bool:
    """Whether no column of ``values`` can add up to 2^63: its largest magnitude times its
    rows stays below it (two reductions; most inputs need no exact sums)."""
    if values.size == 0:
        return True
    largest = max(-int(values.min()), int(values.max()))
    return largest * values.shape[0] < _LIMIT


def check_sums(raws: list[RawProfile], name: str) -> None:
    """FormatError naming the input and the sample type whose values add up past 2^63."""
    for raw in raws:
        if surely_fits(raw.values):
            continue
        for (kind, unit), total in zip(raw.sample_types, magnitude_sums(raw.values), strict=False):
            if total >= _LIMIT:
                raise FormatError(
                    f"{name}: values of sample type {kind}/{unit} add up to {total}, past "
                    "2^63: totals would overflow 64-bit integers"
                )
