"""Span labels into the per-sample ``trace_id`` / ``span_id`` / ``local_root_span_id`` columns.

pprof has no span fields: profilers put span identity in labels, under the spellings of
:data:`profilelab.model.schema.SPAN_LABEL_KEYS`. Values become lower-case text; numbers
(numeric labels, and decimal strings under Datadog's keys with spaces) become 16 hex digits,
negative numbers by their two's complement. When a sample has several labels for one
column the last one wins, and an empty value gives null. A column a reader already filled
(OTLP links) keeps its value on samples without such a label. Everything is vectorized.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from profilelab.model import _arrow, schema
from profilelab.model.raw import RawProfile

SPAN_COLUMNS = ("trace_id", "span_id", "local_root_span_id")
# Datadog writes decimal span ids under keys with spaces; they are converted to hex.
DECIMAL_SPAN_KEYS = frozenset({"span id", "local root span id", "trace id"})
_MAX_FAST_DIGITS = 19  # every 19-digit decimal fits in uint64


def classify_keys(raw: RawProfile) -> tuple[np.ndarray, np.ndarray]:
    """Per label: its span column (position in SPAN_COLUMNS, -1 = an ordinary label) and
    whether its key is one of the decimal keys."""
    n_labels = len(raw.label_key)
    kind = np.full(n_labels, -1, dtype=np.int64)
    decimal = np.zeros(n_labels, dtype=bool)
    if n_labels == 0:
        return kind, decimal
    keys = np.flatnonzero(np.bincount(raw.label_key))  # the distinct keys: few
    names = _arrow.take_strings(raw.strings, keys).to_pylist()
    key_kind = np.full(int(keys[-1]) + 1, -1, dtype=np.int64)
    key_decimal = np.zeros(int(keys[-1]) + 1, dtype=bool)
    for key, name in zip(keys.tolist(), names, strict=True):
        if name in schema.SPAN_LABEL_KEYS:
            key_kind[key] = SPAN_COLUMNS.index(schema.SPAN_LABEL_KEYS[name])
            key_decimal[key] = name in DECIMAL_SPAN_KEYS
    return key_kind[raw.label_key], key_decimal[raw.label_key]


def span_columns(
    raw: RawProfile,
    kind: np.ndarray,
    decimal: np.ndarray,
    is_str: np.ndarray,
    sample_of: np.ndarray,
) -> dict[str, Any]:
    """The three span columns, one value per sample (see the module docstring)."""
    n = raw.n_samples
    out: dict[str, Any] = {}
    for k, col in enumerate(SPAN_COLUMNS):
        given = {"trace_id": raw.sample_trace_id, "span_id": raw.sample_span_id}.get(col)
        rows = np.flatnonzero(kind == k)
        if len(rows) == 0:
            out[col] = given if given is not None else _arrow.nulls(n)
            continue
        rows = rows[_last_of_each(sample_of[rows])]  # the last label wins: only it is read
        values = _label_values(raw, rows, is_str[rows], decimal[rows])
        out[col] = _per_sample(values, sample_of[rows], n, given)
    return out


def _label_values(
    raw: RawProfile, rows: np.ndarray, is_str: np.ndarray, decimal: np.ndarray
) -> _arrow.Array:
    """The text of each span label in ``rows``."""
    m = len(rows)
    text = _lower(_arrow.take_strings(raw.strings, raw.label_str[rows]))
    num_rows = np.flatnonzero(~is_str)
    dec_rows = np.flatnonzero(is_str & decimal)
    if len(num_rows) == 0 and len(dec_rows) == 0:  # text only (span ids, as a rule)
        return text
    parts = [text, _arrow.hex16(raw.label_num[rows[num_rows]].view(np.uint64))]
    choice = np.arange(m, dtype=np.int64)
    choice[num_rows] = m + np.arange(len(num_rows))  # numeric labels: hex of the number
    if len(dec_rows):
        parts.append(_decimal_to_hex(_arrow.take_strings(text, dec_rows)))
        choice[dec_rows] = m + len(num_rows) + np.arange(len(dec_rows))
    return _pick(parts, choice)


def _lower(texts: _arrow.Array) -> _arrow.Array:
    """Arrow's ``utf8_lower`` of each text: ASCII texts (span ids, as a rule) by a table of
    their bytes, without importing ``pyarrow.compute`` (0.06 s)."""
    offsets, data = _arrow.string_buffers(texts)
    used = data[offsets[0] : offsets[-1]] if len(texts) else data[:0]
    if (used >= 128).any():
        import pyarrow.compute as pc  # non-ASCII text: Unicode's lower case

        return _arrow.adopt(pc.utf8_lower(_arrow.to_pyarrow(texts)))
    lowered = _ASCII_LOWER[used]
    valid = _arrow.valid(texts) if texts.null_count else None
    return _arrow.string_array(offsets - offsets[0], lowered, valid)


_ASCII_LOWER = np.arange(256, dtype=np.uint8)
_ASCII_LOWER[65:91] += 32


def _decimal_to_hex(texts: _arrow.Array) -> _arrow.Array:
    """``f"{int(t):016x}" if t and t.isdigit() else t`` for each text.

    Vectorized for ASCII decimal numbers up to 19 digits; longer or non-ASCII texts (rare)
    go through Python, where Unicode digits that ``int`` refuses stay as they are.
    """
    n = len(texts)
    offsets, data = _arrow.string_buffers(texts)
    data = data[: offsets[-1]]
    lengths = np.diff(offsets)
    nondigit = _count_per_string((data < 48) | (data > 57), offsets)
    nonascii = _count_per_string(data >= 128, offsets)
    fast = np.flatnonzero((nondigit == 0) & (lengths > 0) & (lengths <= _MAX_FAST_DIGITS))
    slow = np.flatnonzero((nonascii > 0) | ((nondigit == 0) & (lengths > _MAX_FAST_DIGITS)))
    starts, lens = offsets[:-1][fast], lengths[fast]
    value = np.zeros(len(fast), dtype=np.uint64)
    for j in range(int(lens.max()) if len(fast) else 0):
        more = lens > j
        digit = (data[starts[more] + j] - 48).astype(np.uint64)
        value[more] = value[more] * np.uint64(10) + digit
    # (non-empty texts, so never null)
    slow_texts = [_decimal_text(t or "") for t in _arrow.take_strings(texts, slow).to_pylist()]
    choice = np.arange(n, dtype=np.int64)
    choice[fast] = n + np.arange(len(fast))
    choice[slow] = n + len(fast) + np.arange(len(slow))
    return _pick([texts, _arrow.hex16(value), _arrow.strings(slow_texts)], choice)


def _decimal_text(text: str) -> str:
    if text and text.isdigit():
        try:
            return f"{int(text):016x}"
        except ValueError:  # a Unicode digit int() does not take (superscripts, ...)
            return text
    return text


def _count_per_string(flags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """How many bytes of each string have ``flags`` set."""
    counts = np.zeros(len(offsets) - 1, dtype=np.int64)
    lengths = np.diff(offsets)
    nonempty = lengths > 0
    if nonempty.any():
        counts[nonempty] = np.add.reduceat(flags.astype(np.int64), offsets[:-1][nonempty])
    return counts


def _pick(parts: list[_arrow.Array], choice: np.ndarray) -> _arrow.Array:
    """Element ``choice[i]`` of the concatenation of ``parts`` (string arrays without
    nulls), gathered with :func:`profilelab.model._arrow.take_strings`."""
    return _arrow.take_strings(_arrow.concat_strings(parts), choice)


def _last_of_each(samples: np.ndarray) -> np.ndarray:
    """The positions of the last of each run of equal ``samples`` (non-decreasing)."""
    last = np.ones(len(samples), dtype=bool)
    last[:-1] = samples[1:] != samples[:-1]
    return np.flatnonzero(last)


def _per_sample(values: _arrow.Array, samples: np.ndarray, n: int, given: Any) -> _arrow.Array:
    """A column of ``n`` samples: ``values[i]`` at sample ``samples[i]`` (increasing), null
    elsewhere and for empty text. Only the values' offsets are spread over the samples:
    their text stays as it is."""
    offsets, data = _arrow.string_buffers(values)
    lengths = np.zeros(n, dtype=np.int64)
    lengths[samples] = np.diff(offsets)
    spread = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=spread[1:])
    has = np.zeros(n, dtype=bool)
    has[samples] = True
    # empty text -> null (from the lengths: pc.equal(x, 0) would import pandas)
    column = _arrow.string_array(spread, data[offsets[0] : offsets[-1]], has & (lengths > 0))
    if given is not None:
        keep = _arrow.concat_strings([column, given])  # a reader's own column (OTLP links)
        column = _arrow.take_strings(keep, np.where(has, np.arange(n), n + np.arange(n)))
    return column
