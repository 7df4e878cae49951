"""Index arrays (NumPy only): ranges as one array (the builder's expansions, the readers'
record slices), distinct values."""

from __future__ import annotations

import numpy as np


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated index ranges [starts[i], starts[i] + lengths[i]).

    One output-sized array is written, then summed in place: steps of one, except at each
    range's first index, which steps from the last index of the range before (a repeat of
    the starts plus an arange made three output-sized arrays, and repeat copies item by item).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    if len(lengths) and not lengths.all():  # empty ranges add nothing
        keep = lengths != 0
        starts, lengths = starts[keep], lengths[keep]
    if len(lengths) == 0:
        return np.zeros(0, dtype=np.int64)
    if int(lengths.min()) < 0:
        raise ValueError("ranges: negative length")
    out = np.ones(int(lengths.sum()), dtype=np.int64)
    out[0] = starts[0]
    out[np.cumsum(lengths[:-1])] = starts[1:] - starts[:-1] - lengths[:-1] + 1
    return np.cumsum(out, out=out)


def distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``: the sorted distinct values of an integer array. np.unique
    without its index options asks whether the array is masked, which imports numpy.ma
    (0.01-0.02 s of a small report)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]
