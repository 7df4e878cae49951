"""Profile names and profile types: how ``cpu`` or ``heap:inuse_space`` find stored profiles.

Every stored profile (one sample type of one input) has

* a **name**: what kind of profile it is (``cpu``, ``heap``, ``goroutine``, ``mutex``,
  ``block``, ...). It is given by whoever ingests (the scrape endpoint, ``--name``) or else
  inferred from the data: the period type (Go: ``cpu``, ``goroutine``, ``threadcreate``,
  ``contentions``), with ``space`` called ``heap``; without a period type, the first sample
  type. Go's block and mutex profiles share their types, so only the scraper (which knows
  the endpoint) or ``--name`` can call them ``block`` or ``mutex``; a file ingested without
  a name is called ``contentions``. With neither a period type nor a sample type name, the
  name is ``unknown``.
* a **profile type** ``name:sample_type:sample_unit``, e.g. ``cpu:cpu:nanoseconds``,
  ``heap:inuse_space:bytes``, ``goroutine:goroutine:count``.

A selector's type matches as follows (:func:`type_filter`):

========================  ===========================================================
selector type             matches
========================  ===========================================================
``NAME``                  profiles called NAME, their default sample type
                          (``cpu`` -> cpu/nanoseconds, ``goroutine`` -> goroutine/count)
``NAME:TYPE``             profiles called NAME with sample type TYPE
``NAME:TYPE:UNIT``        the exact profile type
``heap``                  ``heap:inuse_space`` (also for /allocs scrapes, whose default
                          sample type is alloc_space)
``allocs``                ``heap:alloc_space``
========================  ===========================================================
"""

from __future__ import annotations

import polars as pl

#: Selector types that are not "a name and its default sample type".
ALIASES: dict[str, tuple[str, str]] = {
    "heap": ("heap", "inuse_space"),
    "allocs": ("heap", "alloc_space"),
    "memory": ("heap", "inuse_space"),
}

#: Period types renamed when inferring a profile's name.
_PERIOD_NAMES = {"space": "heap"}


def inferred_name() -> pl.Expr:
    """Polars expression (over ``profiles`` rows) for the inferred profile name.

    Needs columns period_type, sample_type, sample_type_index and source_id.
    """
    first_type = (
        pl.col("sample_type").sort_by("sample_type_index").first().over("source_id").fill_null("")
    )
    period = pl.col("period_type").fill_null("")
    return (
        pl.when(period != "")
        .then(period.replace(_PERIOD_NAMES))
        .when(first_type != "")
        .then(first_type)
        .otherwise(pl.lit("unknown"))
    )


def profile_type_expr() -> pl.Expr:
    """``name:sample_type:sample_unit`` from catalog columns."""
    return pl.concat_str(
        [pl.col("name"), pl.col("sample_type").fill_null(""), pl.col("sample_unit").fill_null("")],
        separator=":",
    )


def type_filter(selector_type: str) -> pl.Expr:
    """Polars predicate over catalog rows (name, sample_type, sample_unit, is_default)."""
    parts = selector_type.split(":")
    if len(parts) == 1 and parts[0] in ALIASES:
        parts = list(ALIASES[parts[0]])
    pred = pl.col("name") == parts[0]
    if len(parts) == 1:
        return pred & pl.col("is_default")
    pred = pred & (pl.col("sample_type") == parts[1])
    if len(parts) == 3:
        pred = pred & (pl.col("sample_unit") == parts[2])
    return pred
