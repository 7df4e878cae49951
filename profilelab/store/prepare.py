"""Turn loaded profiles into catalog rows: labels, service, time, name and profile type.

Contract for each stored profile (one sample type of one input):

* **labels**: the profile's own labels (OTLP resource attributes, ...), then ``key=value``
  pprof comments for keys not already present, then the labels given by the caller, which
  win over both. When no ``service`` label exists, ``service.name`` (OTLP) or
  ``service_name`` (Pyroscope) is copied to ``service``.
* **time_ns**: the profile's start time; when the input has none, the caller's default
  (a file's modification time, or the time of receipt) — never null in the store.
* **name** and **profile_type**: see :mod:`profilelab.store.types`.
* **input_position** and **mapping_ids**: the row's place among its input's profiles and
  the input's mappings in order, so a query gives them back as loading the input does
  (which type comes first; the main binary of pprof's ``File:`` line).
* **service** and **date** partition values: the ``service`` label (else ``unknown``) and
  the UTC day of time_ns.

Values, stacks and samples are not touched: a stored profile reads back exactly as loaded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, SupportsIndex

import polars as pl

from profilelab.model import _arrow
from profilelab.model._profile_rows import int_lists, label_lists
from profilelab.model.profile import Profile
from profilelab.model.raw import RawProfile
from profilelab.store import catalog, layout, types
from profilelab.store._decode import build_each, read_bounded

_COMMENT_LABEL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)=(\S(?:.*\S)?)\s*")
_SERVICE_KEYS = ("service", "service.name", "service_name")


@dataclass
class Item:
    """One input to store: its tables and how to label it."""

    profile: Profile
    input_id: int  # digest of the input bytes; an input already in the store is skipped
    name: str | None = None  # profile name (cpu, heap, ...); None = inferred from the data
    labels: Mapping[str, str] | None = None  # labels that override the profile's own
    default_time_ns: int | None = None  # used when the profile carries no time
    source: str | None = None  # display name for progress and errors
    #: the input's mappings in its order; None: those of ``profile``
    mapping_ids: list[int] | None = None


@dataclass
class Unbuilt:
    """An input decoded into RawProfiles whose tables are built later, together with other
    inputs (:func:`built`); the other fields are :class:`Item`'s.

    An input received as bytes may keep them (:meth:`keep_body`): it is then pickled (into
    the receivers' journal) as those bytes, not as its arrays, and read again when
    unpickled: a twentieth of the bytes, and of the CPU, of pickling some thirty arrays.
    """

    raws: list[RawProfile]
    input_id: int
    labels: Mapping[str, str] | None = None
    default_time_ns: int | None = None
    source: str | None = None
    #: the received bytes that ``raws`` were read from (see :meth:`keep_body`)
    body: bytes | None = field(default=None, repr=False)
    #: the inflate limit they were read with
    limit: int = 0

    @property
    def rows(self) -> int:
        """The profile rows it makes (one per sample type)."""
        return sum(len(r.sample_types) for r in self.raws)

    def keep_body(self, body: bytes, limit: int) -> Unbuilt:
        """This input, marked as read from ``body`` by ``read_bounded(body, source,
        limit)`` (the profiles without sample types left out), which reading it again
        after unpickling repeats."""
        self.body, self.limit = body, limit
        return self

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        if self.body is None:
            return super().__reduce_ex__(protocol)
        kept = (self.body, self.limit, self.input_id, self.labels, self.default_time_ns)
        return _read_again, (*kept, self.source)


def _read_again(
    body: bytes,
    limit: int,
    input_id: int,
    labels: Mapping[str, str] | None,
    default_time_ns: int | None,
    source: str | None,
) -> Unbuilt:
    """An :class:`Unbuilt` pickled as its body (:meth:`Unbuilt.keep_body`), read again."""
    raws = [r for r in read_bounded(body, source or "<bytes>", limit) if r.sample_types]
    unbuilt = Unbuilt(raws, input_id, labels, default_time_ns, source)
    return unbuilt.keep_body(body, limit)


def built(items: Sequence[Item | Unbuilt]) -> list[Item]:
    """``items`` with every Unbuilt one built (all of them together) into an Item.

    Building the tables of a small profile costs tens of milliseconds alone and a fraction
    of a millisecond among hundreds: receivers decode each request on its own and leave
    the tables to the batch they are stored with.
    """
    unbuilt = [item for item in items if isinstance(item, Unbuilt)]
    profiles = iter(build_each([u.raws for u in unbuilt]) if unbuilt else [])
    return [
        item
        if isinstance(item, Item)
        else Item(
            next(profiles),
            item.input_id,
            labels=item.labels,
            default_time_ns=item.default_time_ns,
            source=item.source,
        )
        for item in items
    ]


def catalog_rows(items: Sequence[Item], ingested_ns: int | None = None) -> pl.DataFrame:
    """The catalog rows of ``items`` (without segment, samples_file, n_samples, total)."""
    now = time.time_ns() if ingested_ns is None else ingested_ns
    items = [item for item in items if item.profile.profiles.height]
    if not items:
        return catalog.empty()
    rows = pl.concat([item.profile.profiles for item in items], how="vertical")
    per_row = [(item, n) for item in items for n in range(item.profile.profiles.height)]
    mappings = {
        id(item): item.mapping_ids
        if item.mapping_ids is not None
        else item.profile.mappings["mapping_id"].to_list()
        for item in items
    }
    labels, service = [], []
    for (item, _), own, comments in zip(
        per_row, rows["labels"].to_list(), rows["comments"].to_list(), strict=True
    ):
        merged = merge_labels(own or [], comments or [], item.labels or {})
        labels.append(list(merged.items()))
        service.append(merged.get("service") or layout.UNKNOWN_SERVICE)
    default_time = [
        item.default_time_ns if item.default_time_ns is not None else now for item, _ in per_row
    ]
    rows = rows.with_columns(
        # through Arrow: a Series of Python dicts and lists costs 25 times more
        _arrow.series("labels", label_lists(labels)).cast(rows.schema["labels"]),
        pl.col("time_ns").fill_null(pl.Series(default_time, dtype=pl.Int64)),
        pl.Series("service", service, dtype=pl.Utf8),
        pl.Series("input_id", [item.input_id for item, _ in per_row], dtype=pl.Int64),
        pl.Series("name", [item.name for item, _ in per_row], dtype=pl.Utf8),
        pl.Series("input_position", [n for _, n in per_row], dtype=pl.Int32),
        _arrow.series("mapping_ids", int_lists([mappings[id(item)] for item, _ in per_row])),
        pl.lit(now, dtype=pl.Int64).alias("ingested_ns"),
    )
    rows = rows.with_columns(pl.coalesce(pl.col("name"), types.inferred_name()).alias("name"))
    rows = rows.with_columns(
        types.profile_type_expr().alias("profile_type"),
        pl.from_epoch("time_ns", time_unit="ns").dt.strftime("%Y-%m-%d").alias("date"),
    )
    return catalog.conform(rows)


def merge_labels(
    own: Sequence[Mapping[str, str]], comments: Sequence[str], given: Mapping[str, str]
) -> dict[str, str]:
    """Profile labels, then ``key=value`` comments, then the given labels (which win)."""
    merged = {str(kv["key"]): str(kv["value"]) for kv in own}
    for comment in comments:
        m = _COMMENT_LABEL.fullmatch(comment)
        if m and m.group(1) not in merged:
            merged[m.group(1)] = m.group(2)
    merged.update({k: str(v) for k, v in given.items()})
    if not merged.get("service"):
        for key in _SERVICE_KEYS[1:]:
            if merged.get(key):
                merged["service"] = merged[key]
                break
    return merged
