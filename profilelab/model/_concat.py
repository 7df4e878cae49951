"""Concatenate RawProfiles into one, so that the builder makes its tables in one pass.

Building many small inputs one at a time costs a fixed few milliseconds each (dozens of
numpy, Arrow and Polars calls whatever the size). Concatenating their arrays first, with
every cross reference shifted by the size of the tables before it, lets the builder hash,
deduplicate and construct each table once for the whole batch.

Contract: every reference of the result points at the same content as in its input, so
content hashes (ids) are unchanged. References whose 0 means "none" keep 0: a label's
``label_str`` and ``label_unit`` (0 is a numeric label / no unit), then pointing at the
first input's ``""``. ``values``, ``sample_types`` and the other per-input metadata are
not merged (the builder reads them from the inputs); :class:`Offsets` says where each
input's samples start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from profilelab.model import _arrow
from profilelab.model.raw import RawProfile


@dataclass(frozen=True)
class Offsets:
    """Where each input's rows start in the concatenation (one entry per input, plus the end)."""

    strings: np.ndarray
    mappings: np.ndarray
    functions: np.ndarray
    locations: np.ndarray
    lines: np.ndarray
    stacks: np.ndarray
    stack_refs: np.ndarray
    samples: np.ndarray
    labels: np.ndarray


def _starts(raws: Sequence[RawProfile], size: Callable[[RawProfile], int]) -> np.ndarray:
    out = np.zeros(len(raws) + 1, dtype=np.int64)
    np.cumsum([size(r) for r in raws], out=out[1:])
    return out


def offsets(raws: Sequence[RawProfile]) -> Offsets:
    """The start of every input's strings, mappings, ..., labels in the concatenation."""
    return Offsets(
        strings=_starts(raws, lambda r: len(r.strings)),
        mappings=_starts(raws, lambda r: len(r.mapping_start)),
        functions=_starts(raws, lambda r: len(r.function_name)),
        locations=_starts(raws, lambda r: len(r.location_address)),
        lines=_starts(raws, lambda r: len(r.line_function)),
        stacks=_starts(raws, lambda r: len(r.stack_offsets) - 1),
        stack_refs=_starts(raws, lambda r: len(r.stack_locations)),
        samples=_starts(raws, lambda r: r.n_samples),
        labels=_starts(raws, lambda r: len(r.label_key)),
    )


def concat(raws: Sequence[RawProfile], at: Offsets) -> RawProfile:
    """One RawProfile holding every input's rows, references shifted (see the module doc)."""
    out = RawProfile(source="<batch>", format="batch")
    out.strings = _arrow.concat_strings([r.strings for r in raws])
    _concat_mappings(raws, at, out)
    _concat_functions(raws, at, out)
    _concat_locations(raws, at, out)
    _concat_samples(raws, at, out)
    return out


def concat_mappings(raws: Sequence[RawProfile]) -> RawProfile:
    """The mappings of :func:`concat` with only the strings they name (enough to hash
    mapping ids): a mapping has two strings, an input thousands."""
    out = RawProfile(source="<batch>", format="batch")
    texts = [
        _arrow.take_strings(r.strings, np.concatenate([r.mapping_file, r.mapping_build_id]))
        for r in raws
    ]
    out.strings = _arrow.concat_strings(texts)
    n = np.array([len(r.mapping_file) for r in raws], dtype=np.int64)
    start = np.zeros(len(raws) + 1, dtype=np.int64)
    np.cumsum(2 * n, out=start[1:])
    first = np.repeat(start[:-1], n)  # where each mapping's input's strings start
    at = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
    out.mapping_file = first + at
    out.mapping_build_id = first + np.repeat(n, n) + at
    for name in ("mapping_start", "mapping_limit", "mapping_offset"):
        setattr(out, name, _cat(raws, attrgetter(name)).astype(np.uint64, copy=False))
    return out


def _cat(raws: Sequence[RawProfile], get: Callable[[RawProfile], np.ndarray]) -> np.ndarray:
    return np.concatenate([get(r) for r in raws])


def _joined(parts: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The parts as one int64 array (each converted as ``np.asarray(part, dtype=np.int64)``
    converts it) and each part's length."""
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    joined = np.concatenate(parts, dtype=np.int64, casting="unsafe") if parts else _EMPTY
    return joined, lengths


_EMPTY = np.zeros(0, dtype=np.int64)


def _shifted(
    raws: Sequence[RawProfile],
    get: Callable[[RawProfile], np.ndarray],
    base: np.ndarray,
    keep: int | None = None,
) -> np.ndarray:
    """Each input's references plus its base; values <= ``keep`` (none / -1 / 0) unchanged.

    One pass over the joined references, not a NumPy call per input: a batch joins
    hundreds of small inputs, and the calls cost more than the additions
    (:func:`shifted_each` is the per-input reference)."""
    ref, lengths = _joined([get(r) for r in raws])
    shift = np.repeat(np.asarray(base[: len(raws)], dtype=np.int64), lengths)
    # in place: the joined array is new, and every extra array is a pass over memory
    np.add(ref, shift, out=ref, where=True if keep is None else ref > keep)
    return ref


def shifted_each(
    raws: Sequence[RawProfile],
    get: Callable[[RawProfile], np.ndarray],
    base: np.ndarray,
    keep: int | None = None,
) -> np.ndarray:
    """:func:`_shifted` input by input (the reference of its tests)."""
    parts = []
    for i, r in enumerate(raws):
        ref = np.asarray(get(r), dtype=np.int64)
        if keep is None:
            parts.append(ref + base[i])
        else:
            parts.append(np.where(ref > keep, ref + base[i], ref))
    return np.concatenate(parts)


def _csr(raws: Sequence[RawProfile], get: Callable[[RawProfile], np.ndarray]) -> np.ndarray:
    """Concatenated CSR offsets (each input's ``n + 1`` offsets, shifted), in one pass over
    the joined offsets (:func:`csr_each` is the per-input reference)."""
    offsets, lengths = _joined([get(r) for r in raws])
    if not len(lengths) or not lengths.all():  # an input without offsets: its IndexError
        return csr_each(raws, get)
    last = np.cumsum(lengths) - 1  # each input's final offset: its row count
    ends = offsets[last]
    base = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(ends, out=base[1:])
    shifted = offsets + np.repeat(base[:-1], lengths)
    keep = np.ones(len(offsets) + 1, dtype=bool)
    keep[last] = False  # an input's final offset is the next one's first
    return np.append(shifted, base[-1])[keep]


def csr_each(raws: Sequence[RawProfile], get: Callable[[RawProfile], np.ndarray]) -> np.ndarray:
    """:func:`_csr` input by input (the reference of its tests)."""
    parts, base = [], 0
    for r in raws:
        o = np.asarray(get(r), dtype=np.int64)
        parts.append(o[:-1] + base)
        base += int(o[-1])
    parts.append(np.array([base], dtype=np.int64))
    return np.concatenate(parts)


def _concat_mappings(raws: Sequence[RawProfile], at: Offsets, out: RawProfile) -> None:
    for name in ("mapping_start", "mapping_limit", "mapping_offset"):
        setattr(out, name, _cat(raws, attrgetter(name)).astype(np.uint64, copy=False))
    for name in ("has_functions", "has_filenames", "has_line_numbers", "has_inline_frames"):
        full = f"mapping_{name}"
        setattr(out, full, _cat(raws, attrgetter(full)).astype(bool, copy=False))
    out.mapping_file = _shifted(raws, lambda r: r.mapping_file, at.strings)
    out.mapping_build_id = _shifted(raws, lambda r: r.mapping_build_id, at.strings)


def _concat_functions(raws: Sequence[RawProfile], at: Offsets, out: RawProfile) -> None:
    out.function_name = _shifted(raws, lambda r: r.function_name, at.strings)
    out.function_system_name = _shifted(raws, lambda r: r.function_system_name, at.strings)
    out.function_file = _shifted(raws, lambda r: r.function_file, at.strings)
    out.function_start_line = _cat(raws, lambda r: r.function_start_line).astype(
        np.int64, copy=False
    )


def _concat_locations(raws: Sequence[RawProfile], at: Offsets, out: RawProfile) -> None:
    out.location_mapping = _shifted(raws, lambda r: r.location_mapping, at.mappings, keep=-1)
    out.location_address = _cat(raws, lambda r: r.location_address).astype(np.uint64, copy=False)
    out.location_folded = _cat(raws, lambda r: r.location_folded).astype(bool, copy=False)
    out.line_offsets = _csr(raws, lambda r: r.line_offsets)
    out.line_function = _shifted(raws, lambda r: r.line_function, at.functions, keep=-1)
    out.line_line = _cat(raws, lambda r: r.line_line).astype(np.int64, copy=False)
    out.line_column = _cat(raws, lambda r: r.line_column).astype(np.int64, copy=False)
    out.stack_offsets = _csr(raws, lambda r: r.stack_offsets)
    out.stack_locations = _shifted(raws, lambda r: r.stack_locations, at.locations)


def _concat_samples(raws: Sequence[RawProfile], at: Offsets, out: RawProfile) -> None:
    out.sample_stack = _shifted(raws, lambda r: r.sample_stack, at.stacks)
    out.label_offsets = _csr(raws, lambda r: r.label_offsets)
    out.label_key = _shifted(raws, lambda r: r.label_key, at.strings)
    out.label_str = _shifted(raws, lambda r: r.label_str, at.strings, keep=0)
    out.label_num = _cat(raws, lambda r: r.label_num).astype(np.int64, copy=False)
    out.label_unit = _shifted(raws, lambda r: r.label_unit, at.strings, keep=0)
    out.sample_trace_id = _optional_strings(raws, lambda r: r.sample_trace_id)
    out.sample_span_id = _optional_strings(raws, lambda r: r.sample_span_id)
    if any(r.sample_time_ns is not None for r in raws):
        out.sample_time_ns = np.concatenate([_times(r) for r in raws])
        out.sample_time_valid = np.concatenate([_time_valid(r) for r in raws])


def _optional_strings(
    raws: Sequence[RawProfile], get: Callable[[RawProfile], Any]
) -> _arrow.Array | None:
    """A per-sample string column over all inputs (null for inputs without it), or None."""
    if all(get(r) is None for r in raws):
        return None
    parts = [get(r) for r in raws]
    return _arrow.concat_strings(
        [_arrow.nulls(r.n_samples) if p is None else p for r, p in zip(raws, parts, strict=True)]
    )


def _times(raw: RawProfile) -> np.ndarray:
    if raw.sample_time_ns is None:
        return np.zeros(raw.n_samples, dtype=np.int64)
    return np.asarray(raw.sample_time_ns, dtype=np.int64)


def _time_valid(raw: RawProfile) -> np.ndarray:
    if raw.sample_time_ns is None:
        return np.zeros(raw.n_samples, dtype=bool)
    if raw.sample_time_valid is None:
        return np.ones(raw.n_samples, dtype=bool)
    return np.asarray(raw.sample_time_valid, dtype=bool)
