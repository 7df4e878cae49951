"""Index ranges as one array (NumPy only): the builder's expansions, the readers' record slices."""

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
