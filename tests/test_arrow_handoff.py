"""NumPy arrays handed to Polars as Arrow arrays over their memory (``model/_arrow.py``)
give the Series that Polars' own NumPy conversion gives: same dtype, same values, nulls
where asked; strided and empty arrays included."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from profilelab.model import _arrow

DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
DTYPES += [np.float32, np.float64, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_numpy_array_becomes_the_series_polars_makes(dtype: type, data: st.DataObject) -> None:
    arr = data.draw(hnp.arrays(dtype, st.integers(0, 40)))
    step = data.draw(st.integers(1, 3))
    view = arr[::step]  # a strided view is copied to contiguous memory first
    got = _arrow.series("x", view)
    want = pl.Series("x", view)
    assert got.dtype == want.dtype
    assert got.equals(want)


def test_nulls_where_not_valid() -> None:
    values = np.array([1, 2, 3, 4], dtype=np.int64)
    valid = np.array([True, False, True, False])
    assert _arrow.series("n", _arrow.int64(values, valid)).to_list() == [1, None, 3, None]
    flags = _arrow.numeric(np.array([True, False, True]), np.array([False, True, True]))
    assert _arrow.series("b", flags).to_list() == [None, False, True]


def test_a_frame_keeps_names_order_and_series() -> None:
    frame = _arrow.frame(
        {
            "a": np.arange(3, dtype=np.int64),
            "b": pl.Series("ignored", ["x", "y", "z"]),
            "c": np.array([True, False, True]),
            "d": _arrow.strings(["p", "q", "r"]),
        }
    )
    assert frame.columns == ["a", "b", "c", "d"]
    assert frame.dtypes == [pl.Int64, pl.String, pl.Boolean, pl.String]
    assert frame.row(1) == (1, "y", False, "q")


def test_the_buffers_outlive_the_numpy_array() -> None:
    """Polars holds Arrow's reference to the memory: the array may go away first."""
    arr = np.arange(1000, dtype=np.int64) * 3
    s = _arrow.series("x", arr)
    del arr
    assert s.sum() == 3 * 999 * 1000 // 2
