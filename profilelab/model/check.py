"""Invariants of the canonical model (pprof's CheckValid, for tables).

* every table has exactly the schema's columns and types;
* ids are unique in their own table and every reference resolves
  (samples -> profiles, stacks, label sets; stacks -> frames; frames -> mappings);
* stack depth equals the length of its frame list; the empty stack is id 0;
* one value column per sample: each profile's samples carry that profile's sample type;
* samples of one source have the same sample_index set in every sample type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from profilelab.errors import ValidationError
from profilelab.model import schema

if TYPE_CHECKING:
    from profilelab.model.profile import Profile


def check(p: Profile) -> None:
    for name, df in p.tables():
        expected = schema.TABLES[name]
        got = dict(df.schema)
        if list(got) != list(expected) or any(got[c] != t for c, t in expected.items()):
            raise ValidationError(f"table {name}: schema {got} differs from {expected}")
    _unique(p.profiles, "profile_id", "profiles")
    _unique(p.stacks, "stack_id", "stacks")
    _unique(p.frames, "frame_id", "frames")
    _unique(p.mappings, "mapping_id", "mappings")
    _resolves(p.samples, "profile_id", p.profiles, "samples", "profiles")
    _resolves(p.samples, "stack_id", p.stacks, "samples", "stacks")
    label_sets = p.labels.select("label_set_id").unique()
    missing = (
        p.samples.filter(pl.col("label_set_id") != 0)
        .select("label_set_id")
        .unique()
        .join(label_sets, on="label_set_id", how="anti")
    )
    if missing.height:
        raise ValidationError(f"samples: label_set_id {missing.item(0, 0)} has no labels")
    frame_refs = (
        p.stacks.select(pl.col("frame_ids").explode().alias("frame_id")).drop_nulls().unique()
    )
    _resolves(frame_refs, "frame_id", p.frames, "stacks", "frames")
    _resolves(p.frames.drop_nulls("mapping_id"), "mapping_id", p.mappings, "frames", "mappings")
    bad_depth = p.stacks.filter(pl.col("frame_ids").list.len() != pl.col("depth"))
    if bad_depth.height:
        raise ValidationError(f"stacks: stack {bad_depth.item(0, 'stack_id')} depth != frame count")
    empty = p.stacks.filter(pl.col("depth") == 0)
    if empty.height and (empty["stack_id"] != 0).any():
        raise ValidationError("stacks: the empty stack must have id 0")
    counts = (
        p.samples.group_by("profile_id")
        .agg(pl.len())
        .join(p.profiles.select("profile_id", "source_id"), on="profile_id")
    )
    per_source = counts.group_by("source_id").agg(pl.col("len").n_unique().alias("n"))
    if (per_source["n"] > 1).any():
        raise ValidationError("samples: sample types of one source have different sample counts")


def _unique(df: pl.DataFrame, key: str, table: str) -> None:
    if df[key].n_unique() != df.height:
        dup = df.filter(pl.col(key).is_duplicated())[key][0]
        raise ValidationError(f"{table}: {key} {dup} is not unique")
    if df[key].null_count():
        raise ValidationError(f"{table}: {key} has nulls")


def _resolves(df: pl.DataFrame, key: str, target: pl.DataFrame, src: str, dst: str) -> None:
    missing = df.select(key).unique().join(target.select(key), on=key, how="anti")
    if missing.height:
        raise ValidationError(f"{src}: {key} {missing.item(0, 0)} not found in {dst}")
