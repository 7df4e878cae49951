"""Small profile helpers the span analyses need: restrict to samples, per-function values.

``restrict`` keeps the chosen samples and the stacks, frames, mappings and label sets they
use (totals are those of the kept samples; profile rows are unchanged). ``function_values``
is the core's flat/cum per function name (``self``/``total`` here).
"""

from __future__ import annotations

import polars as pl

from profilelab.core import sampletypes
from profilelab.core.aggregate import per_function
from profilelab.errors import QueryError
from profilelab.model.profile import Profile

_TIME_UNITS = {"nanoseconds": 1, "microseconds": 1_000, "milliseconds": 1_000_000, "seconds": 10**9}


def restrict(profile: Profile, keys: pl.DataFrame) -> Profile:
    """The samples of ``profile`` whose (profile_id, sample_index) is in ``keys``."""
    samples = profile.samples.join(
        keys.select("profile_id", "sample_index").unique(),
        on=["profile_id", "sample_index"],
        how="semi",
    )
    stacks = profile.stacks.join(samples.select("stack_id").unique(), on="stack_id", how="semi")
    frame_ids = stacks.select(pl.col("frame_ids").explode().alias("frame_id")).unique()
    frames = profile.frames.join(frame_ids, on="frame_id", how="semi")
    mappings = profile.mappings.join(
        frames.select("mapping_id").drop_nulls().unique(), on="mapping_id", how="semi"
    )
    labels = profile.labels.join(
        samples.select("label_set_id").unique(), on="label_set_id", how="semi"
    )
    return profile.replace(
        samples=samples, stacks=stacks, frames=frames, mappings=mappings, labels=labels
    )


def pick_profiles(profile: Profile, sample_type: str | None = None) -> tuple[list[int], str, str]:
    """The profile ids of one sample type: ``sample_type``, else ``cpu``, else the default.

    Returns (profile ids, sample type, unit); QueryError names the types available.
    """
    stype = sampletypes.resolve(profile, sample_type, preferred=("cpu",))
    rows = sampletypes.rows_of(profile, stype)
    units = rows["sample_unit"].unique().to_list()
    if len(units) > 1:
        raise QueryError(f"sample type {stype.type} has several units: {', '.join(units)}")
    return rows["profile_id"].to_list(), stype.type, stype.unit


def to_nanoseconds(unit: str) -> int:
    """Factor from a time unit to nanoseconds; QueryError for a unit that is not a time."""
    if unit not in _TIME_UNITS:
        raise QueryError(f"unit {unit!r} is not a time unit (expected one of {list(_TIME_UNITS)})")
    return _TIME_UNITS[unit]


def function_values(profile: Profile, profile_ids: list[int]) -> pl.DataFrame:
    """Per function: ``self`` and ``total`` summed over the samples of ``profile_ids``
    (the core's flat and cum; unsymbolized frames are named by their ``0x...`` address)."""
    return (
        per_function(profile, profile_ids)
        .select(
            pl.col("key").alias("function"),
            pl.col("flat").alias("self"),
            pl.col("cum").alias("total"),
        )
        .sort(["total", "function"], descending=[True, False])
    )
