"""Small profile helpers the span analyses need: restrict to samples, per-function values.

``restrict`` keeps the chosen samples and the stacks, frames, mappings and label sets they
use (totals are those of the kept samples; profile rows are unchanged). ``function_values``
is a pprof-style flat/cum per function name (``self``/``total`` here): self is the value of
samples whose leaf frame is the function, total of samples with the function anywhere on
the stack, counted once per sample even under recursion.
"""

from __future__ import annotations

import polars as pl

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
    p = profile.profiles
    if sample_type is None:
        sample_type = "cpu" if (p["sample_type"] == "cpu").any() else None
    chosen = (
        p.filter(pl.col("is_default"))
        if sample_type is None
        else p.filter(pl.col("sample_type") == sample_type)
    )
    if chosen.height == 0:
        have = ", ".join(sorted(set(p["sample_type"].to_list()))) or "none"
        raise QueryError(f"no {sample_type or 'default'} sample type (have: {have})")
    units = chosen["sample_unit"].unique().to_list()
    if len(units) > 1:
        raise QueryError(f"sample type {sample_type} has several units: {', '.join(units)}")
    return chosen["profile_id"].to_list(), str(chosen["sample_type"][0]), str(units[0])


def to_nanoseconds(unit: str) -> int:
    """Factor from a time unit to nanoseconds; QueryError for a unit that is not a time."""
    if unit not in _TIME_UNITS:
        raise QueryError(f"unit {unit!r} is not a time unit (expected one of {list(_TIME_UNITS)})")
    return _TIME_UNITS[unit]


def function_values(profile: Profile, profile_ids: list[int]) -> pl.DataFrame:
    """Per function: ``self`` and ``total`` summed over the samples of ``profile_ids``."""
    per_stack = (
        profile.samples.filter(pl.col("profile_id").is_in(profile_ids))
        .group_by("stack_id")
        .agg(pl.col("value").sum())
    )
    frames = profile.stacks.join(per_stack, on="stack_id").select(
        "stack_id", "value", pl.col("frame_ids").list.first().alias("leaf"), "frame_ids"
    )
    names = profile.frames.select(
        "frame_id",
        pl.coalesce("function", pl.format("addr {}", pl.col("address")), pl.lit("?")).alias(
            "function"
        ),
    )
    self_ = (
        frames.join(names, left_on="leaf", right_on="frame_id")
        .group_by("function")
        .agg(pl.col("value").sum().alias("self"))
    )
    total = (
        frames.explode("frame_ids")
        .join(names, left_on="frame_ids", right_on="frame_id")
        .unique(["stack_id", "function"])
        .group_by("function")
        .agg(pl.col("value").sum().alias("total"))
    )
    return (
        total.join(self_, on="function", how="left")
        .with_columns(pl.col("self").fill_null(0))
        .select("function", "self", "total")
        .sort(["total", "function"], descending=[True, False])
    )
