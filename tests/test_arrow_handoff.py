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

from profilelab.model import _arrow, _cdata

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


# ---- strings, lists and structs: Arrow's layout without pyarrow (model/_cdata.py) ---------

TEXTS = st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(values=TEXTS)
def test_a_string_array_becomes_the_series_of_its_values(values: list[str | None]) -> None:
    got = _arrow.series("s", _arrow.text(values))
    assert got.dtype == pl.String
    assert got.to_list() == values
    assert _arrow.text(values).to_pylist() == values


@settings(max_examples=60, deadline=None)
@given(values=TEXTS, data=st.data())
def test_gathers_and_concatenations_keep_strings_and_nulls(
    values: list[str | None], data: st.DataObject
) -> None:
    index = data.draw(st.lists(st.integers(0, max(len(values) - 1, 0)), max_size=20))
    index = index if values else []
    taken = _arrow.take_strings(_arrow.text(values), np.array(index, dtype=np.int64))
    assert _arrow.series("t", taken).to_list() == [values[i] for i in index]
    other = data.draw(TEXTS)
    joined = _arrow.concat_strings([_arrow.text(values), _arrow.text(other), _arrow.nulls(2)])
    assert _arrow.series("j", joined).to_list() == [*values, *other, None, None]
    for i, v in enumerate(values):
        assert _arrow.string_at(_arrow.text(values), i) == v


@settings(max_examples=40, deadline=None)
@given(values=TEXTS, start=st.integers(0, 5))
def test_a_pyarrow_string_array_is_read_through_its_buffers(
    values: list[str | None], start: int
) -> None:
    """Other readers hand pyarrow arrays over; a slice has an offset into its buffers."""
    import pyarrow as pa

    for kind in (pa.string(), pa.large_string()):
        arr = pa.array(values, type=kind).slice(min(start, len(values)))
        want = arr.to_pylist()
        adopted = _arrow.adopt(arr)
        assert adopted.to_pylist() == want
        assert _arrow.series("p", adopted).to_list() == want
        assert _arrow.take_strings(arr, np.arange(len(want))).to_pylist() == want
        # one string read through two offsets and one validity bit, as a list index
        for i in range(-len(want), len(want)):
            assert _arrow.string_at(arr, i) == want[i]
        for i in (len(want), -len(want) - 1):
            with pytest.raises(IndexError):
                _arrow.string_at(arr, i)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.lists(st.tuples(st.text(max_size=3), st.text(max_size=3)), max_size=3)))
def test_lists_and_structs_become_polars_lists_and_structs(
    rows: list[list[tuple[str, str]]],
) -> None:
    from profilelab.model import _profile_rows

    got = _arrow.series("l", _profile_rows.label_lists(rows))
    assert got.to_list() == [[{"key": k, "value": v} for k, v in row] for row in rows]
    ints = [[len(k) for k, _ in row] for row in rows]
    assert _arrow.series("i", _profile_rows.int_lists(ints)).to_list() == ints
    offsets = np.cumsum([0, *map(len, ints)])
    flat = np.array([x for row in ints for x in row], dtype=np.int64)
    large = _arrow.series("L", _arrow.large_list(offsets, _arrow.int64(flat)))
    assert large.dtype == pl.List(pl.Int64) and large.to_list() == ints


def test_nulls_of_each_type() -> None:
    assert _arrow.series("s", _arrow.nulls(3)).dtype == pl.String
    assert _arrow.series("s", _arrow.nulls(3)).to_list() == [None] * 3
    assert _arrow.series("i", _arrow.nulls(2, "l")).dtype == pl.Int64
    assert _arrow.series("i", _arrow.nulls(0, "l")).to_list() == []


def test_every_exported_buffer_is_let_go() -> None:
    """Polars releases what it shares once its Series goes, what it copied (strings) at
    once; what a consumer left unconsumed is released after it: no buffer stays held."""
    import gc
    import sys

    from profilelab.model import _cdata

    values = np.arange(5, dtype=np.int64)
    data = np.frombuffer(b"abc", dtype=np.uint8)
    offsets = np.array([0, 1, 3], dtype=np.int32)
    base = sys.getrefcount(values), sys.getrefcount(data)
    shared = _arrow.series("x", values)
    assert sys.getrefcount(values) > base[0]
    text = _arrow.Array("u", 2, [None, offsets, data])
    assert _arrow.series("s", text).to_list() == ["a", "bc"]
    with _cdata.consuming():
        text.__arrow_c_array__()  # never imported
    frame = _arrow.frame({"n": values[:2], "labels": _profile_rows_labels()})
    del shared, frame, text
    gc.collect()
    assert (sys.getrefcount(values), sys.getrefcount(data)) == base


def _profile_rows_labels() -> _arrow.Array:
    from profilelab.model import _profile_rows

    return _profile_rows.label_lists([[("k", "v")], []])


def test_a_release_while_an_exception_is_raised_keeps_the_exception() -> None:
    """A Series whose buffers Polars shares may go while an exception leaves the frame that
    held it: the release (C) sets the exception aside and puts it back."""

    def boom() -> None:
        raise ValueError("kept")

    def both(*args: object) -> None:
        raise AssertionError("not reached")

    for _ in range(3):
        with pytest.raises(ValueError, match="kept"):
            both(_arrow.series("x", np.arange(1000, dtype=np.int64)), boom())


def _released_on_a_native_thread_while_the_gil_is_held(values: np.ndarray) -> int:
    """Export ``values`` and call its array's release on a new native thread (no Python
    thread state) while this thread holds the GIL and waits for it, at most 10 s: Polars'
    workers drop columns so while a Python thread waits for them holding the GIL
    (DataFrame.serialize). The join's result: 0, or ETIMEDOUT when the release waited."""
    import ctypes
    import time

    from profilelab._native import _arrowc

    struct = _cdata._array(_arrow.numeric(values))
    libc, held = ctypes.CDLL(None, use_errno=True), ctypes.PyDLL(None)  # PyDLL keeps the GIL
    thread = ctypes.c_ulong()
    start = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(_arrowc.releases()[1])
    at = ctypes.c_void_p(ctypes.addressof(struct))
    assert libc.pthread_create(ctypes.byref(thread), None, start, at) == 0

    class Timespec(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

    until = Timespec(int(time.time()) + 10, 0)
    joined = held.pthread_timedjoin_np(thread, None, ctypes.byref(until))
    if joined != 0:  # the release waits for the GIL: let it have it, then let it end
        libc.pthread_join(thread, None)
    assert not struct.release  # released, whatever the thread
    return int(joined)


@pytest.mark.skipif(_cdata._releases is None, reason="the C callbacks were not built")
def test_a_release_on_a_thread_without_the_gil_never_waits_for_it() -> None:
    """The release queues its reference instead of waiting for the GIL (the wait was a
    deadlock: a receiver's committer serializing a frame while its decoders' columns went),
    and the queue is drained: by the next export, or by the interpreter's main thread."""
    import threading
    import time
    import weakref

    from profilelab._native import _arrowc

    for drained_by in ("export", "main thread"):
        values = np.arange(1000, dtype=np.int64)
        alive = weakref.ref(values)
        assert _released_on_a_native_thread_while_the_gil_is_held(values) == 0
        del values  # now only the queued reference holds the buffer
        if drained_by == "export":
            _arrow.series("x", np.arange(3))
        elif threading.current_thread() is threading.main_thread():
            deadline = time.monotonic() + 10  # a pending call runs between two bytecodes
            while alive() is not None and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            _arrowc.drain()
        assert alive() is None, drained_by
        assert _arrowc.queued() == 0


def test_without_the_compiled_callbacks_pyarrow_makes_the_same_series(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An install without a C compiler exports through pyarrow, from the same buffers."""
    from profilelab.model import _cdata, _profile_rows

    columns = {
        "n": _arrow.int64(np.arange(3), np.array([True, False, True])),
        "b": np.array([True, False, True]),
        "u": np.arange(3, dtype=np.uint64),
        "s": _arrow.text(["a", None, "héllo"]),
        "l": _profile_rows.label_lists([[("k", "v")], [], [("a", "b"), ("c", "d")]]),
        "i": _arrow.large_list(np.array([0, 1, 1, 3]), _arrow.int64(np.arange(3))),
        "z": _arrow.nulls(3, "l"),
    }
    compiled = _arrow.frame(columns)
    monkeypatch.setattr(_cdata, "_releases", None)
    assert _arrow.frame(columns).equals(compiled)
    assert _arrow.frame(columns).schema == compiled.schema
