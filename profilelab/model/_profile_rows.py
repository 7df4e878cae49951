"""The ``profiles`` table of a batch of RawProfiles: one row per input and sample type.

Built column by column from Arrow buffers: Polars' construction from Python lists of
lists and dicts (comments, labels) costs about a millisecond per call, more than the rest
of building a small profile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from profilelab.model import _arrow, ids, schema
from profilelab.model.raw import RawProfile


def profile_ids(raws: Sequence[RawProfile]) -> np.ndarray:
    """Per input and sample type (input order, then type order): hash(source_id, type index)."""
    n_types = [len(raw.sample_types) for raw in raws]
    source = np.repeat(np.array([raw.source_id for raw in raws], dtype=np.int64), n_types)
    index = np.concatenate([np.arange(n, dtype=np.int64) for n in n_types] or [_I64_0])
    return ids.as_id(ids.fold(ids.hash_ints(source), ids.hash_ints(index)))


_I64_0 = np.zeros(0, dtype=np.int64)


def profile_rows(raws: Sequence[RawProfile], profile_id: np.ndarray) -> pl.DataFrame:
    """The ``profiles`` table (before any deduplication of equal profile ids)."""
    n_types = np.array([len(raw.sample_types) for raw in raws], dtype=np.int64)
    rep = np.repeat(np.arange(len(raws), dtype=np.int64), n_types)
    rows = _arrow.series("", rep)  # the input of each row (one query gathers them all)
    types = [t for raw in raws for t in raw.sample_types]
    per_input: dict[str, _arrow.Array] = {
        "source_id": _arrow.int64(np.array([r.source_id for r in raws], dtype=np.int64)),
        "source": _arrow.text([r.source for r in raws]),
        "format": _arrow.text([r.format for r in raws]),
        "period_type": _arrow.text([r.period_type[0] for r in raws]),
        "period_unit": _arrow.text([r.period_type[1] for r in raws]),
        "period": _arrow.int64(np.array([r.period for r in raws], dtype=np.int64)),
        "time_ns": _optional_int([r.time_ns for r in raws]),
        "duration_ns": _optional_int([r.duration_ns for r in raws]),
        "drop_frames": _arrow.text([r.drop_frames for r in raws]),
        "keep_frames": _arrow.text([r.keep_frames for r in raws]),
        "comments": _lists([r.comments for r in raws]),
        "doc_url": _arrow.text([r.doc_url for r in raws]),
        "labels": label_lists([r.profile_labels for r in raws]),
    }
    columns = {
        "profile_id": _arrow.series("profile_id", profile_id),
        **_arrow.frame(per_input).select(pl.all().gather(rows)).to_dict(),
        "sample_type": _arrow.series("sample_type", _arrow.text([t for t, _ in types])),
        "sample_unit": _arrow.series("sample_unit", _arrow.text([u for _, u in types])),
        "sample_type_index": _arrow.series(
            "sample_type_index", np.concatenate([np.arange(n) for n in n_types] or [_I64_0])
        ),
        "is_default": _arrow.series("is_default", _default_flags(raws)),
    }
    return schema.conform("profiles", _arrow.frame(columns))


def _default_flags(raws: Sequence[RawProfile]) -> np.ndarray:
    """pprof: default_sample_type when it names a sample type, else the last type."""
    flags = []
    for raw in raws:
        names = [t for t, _ in raw.sample_types]
        default = len(names) - 1
        if raw.default_sample_type and raw.default_sample_type in names:
            default = names.index(raw.default_sample_type)
        flags.append(np.arange(len(names)) == default)
    return np.concatenate(flags) if flags else np.zeros(0, dtype=bool)


def _optional_int(values: Sequence[int | None]) -> _arrow.Array:
    valid = np.array([v is not None for v in values], dtype=bool)
    data = np.array([0 if v is None else v for v in values], dtype=np.int64)
    return _arrow.int64(data, valid)


def _offsets(lengths: Sequence[int]) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=out[1:])
    return out


def _lists(values: Sequence[Sequence[str]]) -> _arrow.Array:
    """A list<string> array, one list per input."""
    flat = [x for v in values for x in v]
    return _arrow.lists(_offsets([len(v) for v in values]), _arrow.text(flat))


def int_lists(values: Sequence[Sequence[int]]) -> _arrow.Array:
    """A list<int64> array, one list per row."""
    flat = np.fromiter((x for v in values for x in v), dtype=np.int64)
    return _arrow.lists(_offsets([len(v) for v in values]), _arrow.int64(flat))


def label_lists(values: Sequence[Sequence[tuple[str, str]]]) -> _arrow.Array:
    """A list<struct<key, value>> array, one list of labels (key, value) per row."""
    keys = _arrow.text([k for v in values for k, _ in v])
    vals = _arrow.text([x for v in values for _, x in v])
    pairs = _arrow.struct({"key": keys, "value": vals})
    return _arrow.lists(_offsets([len(v) for v in values]), pairs)
