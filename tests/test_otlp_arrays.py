"""The OTLP readers' arrays made without pa.array and np.unique (which import pandas and
numpy.ma), each proven equal to what those calls give."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from profilelab.model import _arrow
from profilelab.model.ranges import distinct
from profilelab.readers import _otlp_binary, _otlp_json, _otlp_payload, _otlp_tables

# text with lone surrogates (a JSON escape can make one), which neither side can encode
_TEXT = st.text(st.characters(blacklist_categories=()), max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**62), 2**62), max_size=40), st.sampled_from([np.int64, np.int32]))
def test_distinct_is_np_unique(values: list[int], dtype: type) -> None:
    arr = np.array(values, dtype=np.int64).astype(dtype)
    got = distinct(arr)
    want = np.unique(arr)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def _outcome(make: Callable[[], object]) -> tuple[str, object]:
    try:
        return "ok", _arrow.to_pyarrow(_arrow.adopt(make())).to_pylist()
    except Exception as exc:  # the same error, type and text
        return type(exc).__name__, str(exc)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXT, max_size=5), st.lists(_TEXT, min_size=1, max_size=5))
def test_strings_with_extra_text_are_pa_arrays(table: list[str], extra: list[str]) -> None:
    """The dictionary's strings plus those made while reading, as pa.concat_arrays of
    pa.array gives them, or the same error for text that is not UTF-8."""
    base = [t for t in table if t.isprintable() or t == ""]
    strings = _otlp_tables._Strings(pa.array(base, type=pa.string()))
    for t in extra:
        strings.index(t)
    added = list(strings._extra)
    want = _outcome(
        lambda: pa.concat_arrays(
            [pa.array(base, type=pa.string()), pa.array(added, type=pa.string())]
        )
    )
    assert _outcome(strings.array) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=6), max_size=6))
def test_binary_string_table_is_pa_array(bodies: list[bytes]) -> None:
    """The NumPy walker's string table: pa.array of the bodies, repaired when not UTF-8."""

    def reference() -> pa.Array:
        if not bodies:
            return pa.array([""], type=pa.string())
        try:
            return pa.array(bodies, type=pa.string())
        except pa.ArrowInvalid:
            return pa.array([b.decode("utf-8", errors="replace") for b in bodies], pa.string())

    got = _otlp_binary._strings(bodies)
    assert got.type == pa.string() and got.equals(reference())


_ID_TEXT = st.one_of(
    st.none(),
    st.text("0123456789abcdefABCDEF", max_size=20),
    st.sampled_from(["0" * 16, "00000000000000ab", "zz", " 00ab", ""]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ID_TEXT, max_size=5))
def test_json_ids_are_pa_arrays(texts: list[str | None]) -> None:
    """Span ids read from text: what pa.array of each id (None for none) gives, or the
    same error."""

    def reference() -> pa.Array:
        return pa.array([_otlp_json._id(x, 8, "spanId") or None for x in texts], pa.string())

    want = _outcome(reference)
    got = _outcome(lambda: _otlp_json._ids(list(texts), 8, "spanId"))
    assert got == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=9), max_size=20))
def test_hex_strings_are_pa_arrays(ids: list[bytes]) -> None:
    """Ids as lower-case hex, null when empty or all zero: the validity bitmap made by
    NumPy is the one pa.array gives."""
    raw = np.frombuffer(b"".join(ids), dtype=np.uint8)
    lengths = np.array([len(b) for b in ids], dtype=np.int64)
    got = _otlp_payload.hex_strings(raw, lengths)
    got.validate(full=True)
    want = pa.array([b.hex() if any(b) else None for b in ids], pa.string())
    assert got.equals(want) and got.null_count == want.null_count
