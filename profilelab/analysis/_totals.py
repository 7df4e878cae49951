"""Per-profile totals by function (or file, package, frame, stack): the input of every analysis.

``key_totals`` gives, for each profile and key, ``flat`` (value of samples whose leaf frame has
that key) and ``cum`` (value of samples with the key anywhere on the stack, counted once per
sample even under recursion: pprof's cum). It works on distinct stacks, not on samples, so it
stays fast on fleet-sized profiles: samples are first summed per (profile, stack).
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from profilelab.core.aggregate import flat_cum, per_profile, stack_values
from profilelab.core.regex import check_regex
from profilelab.errors import QueryError
from profilelab.model.names import frame_function_names
from profilelab.model.profile import Profile

Key = Literal["function", "file", "package", "frame", "stack"]
KEYS: tuple[str, ...] = ("function", "file", "package", "frame", "stack")


def frame_keys(p: Profile, key: Key) -> pl.DataFrame:
    """(frame_id, key) for a granularity; unsymbolized frames are named by their address."""
    frames = p.frames.with_columns(frame_function_names(p.frames).alias("_fn"))
    function = pl.col("_fn")
    if key in ("function", "stack"):
        expr = function
    elif key == "file":
        expr = pl.when(pl.col("file").fill_null("") != "").then(pl.col("file")).otherwise(function)
    elif key == "package":
        expr = package_of(function)
    elif key == "frame":
        expr = pl.format("{} {}:{}", function, pl.col("file").fill_null(""), pl.col("line"))
    else:
        raise QueryError(f"unknown key {key!r} (expected one of {', '.join(KEYS)})")
    return frames.select("frame_id", expr.alias("key"))


def package_of(function: pl.Expr) -> pl.Expr:
    """Go/Java-style package of a qualified function name: path up to the last '/', then to '.'.

    ``github.com/acme/shop/db.(*DB).Query`` -> ``github.com/acme/shop/db``;
    ``encoding/json.Marshal`` -> ``encoding/json``; ``main.main`` -> ``main``.
    """
    head = function.str.extract(r"^(.*/)?", 1).fill_null("")
    tail = function.str.extract(r"^(?:.*/)?([^/]*)$", 1).fill_null("")
    return pl.concat_str(head, tail.str.split(".").list.first())


def stack_totals(p: Profile, profile_ids: pl.Series | None = None) -> pl.DataFrame:
    """(profile_id, stack_id, value) summed over samples."""
    samples = p.samples
    if profile_ids is not None:
        samples = samples.filter(pl.col("profile_id").is_in(profile_ids.implode()))
    return stack_values(samples, by=["profile_id"])


def key_totals(
    p: Profile,
    key: Key = "function",
    profile_ids: pl.Series | None = None,
    skip: str | None = None,
) -> pl.DataFrame:
    r"""(profile_id, key, flat, cum) with pprof's flat/cum semantics (recursion once in cum).

    With ``key="stack"`` the key is the whole stack rendered root->leaf with ``;`` and
    flat == cum == the stack's value. ``skip`` is a regex of keys that never take flat: the
    value goes to the first frame from the leaf that does not match (for goroutine profiles,
    ``^runtime\.`` attributes a blocked goroutine to the code that blocked, not to
    ``runtime.gopark``); a stack whose every frame matches keeps its leaf.
    """
    per_stack = stack_totals(p, profile_ids)
    if key == "stack":
        names = stack_names(p)
        out = (
            per_stack.join(names, on="stack_id")
            .group_by("profile_id", "key")
            .agg(pl.col("value").sum().alias("flat"))
        )
        return out.with_columns(pl.col("flat").alias("cum"))
    keys = frame_keys(p, key)
    positions = (
        p.stacks.join(per_stack.select("stack_id").unique(), on="stack_id", how="semi")
        .select("stack_id", "frame_ids", pl.int_ranges(0, pl.col("depth")).alias("pos"))
        .explode("frame_ids", "pos")
        .rename({"frame_ids": "frame_id"})
        .join(keys, on="frame_id")
    )
    leaf = _leaf_positions(positions, skip).with_columns(pl.lit(True).alias("leaf"))
    frames = positions.join(leaf, on=["stack_id", "pos"], how="left").with_columns(
        pl.col("leaf").fill_null(False)
    )
    out = flat_cum(frames, per_stack, by=["profile_id"])
    return out.select(
        "profile_id", "key", pl.col("flat_value").alias("flat"), pl.col("cum_value").alias("cum")
    )


def _leaf_positions(positions: pl.DataFrame, skip: str | None) -> pl.DataFrame:
    """(stack_id, pos) of the frame that takes a stack's flat value."""
    if skip is None:
        return positions.filter(pl.col("pos") == 0).select("stack_id", "pos")
    kept = positions.filter(~pl.col("key").str.contains(skip))
    first = kept.group_by("stack_id").agg(pl.col("pos").min())
    fallback = positions.filter(pl.col("pos") == 0).join(first, on="stack_id", how="anti")
    return pl.concat([first, fallback.select("stack_id", "pos")])


def stack_names(p: Profile) -> pl.DataFrame:
    """(stack_id, key): each stack as ``root;...;leaf`` of function names."""
    names = frame_keys(p, "function")
    return (
        p.stacks.select("stack_id", "frame_ids", pl.int_ranges(0, pl.col("depth")).alias("pos"))
        .explode("frame_ids", "pos")
        .rename({"frame_ids": "frame_id"})
        .join(names, on="frame_id", how="left")
        .sort("stack_id", "pos", descending=[False, True])
        .group_by("stack_id", maintain_order=True)
        .agg(pl.col("key").drop_nulls().str.join(";"))
    )


def profile_totals(p: Profile, profile_ids: pl.Series | None = None) -> pl.DataFrame:
    """(profile_id, total) summed over samples."""
    return per_profile(p, profile_ids)


def matching_stacks(p: Profile, pattern: str, key: Key = "function") -> pl.Series:
    """Ids of the stacks with at least one frame whose key matches the regex ``pattern``.

    A sample counts once towards a pattern however many of its frames match (cum semantics
    for a group of functions, as pprof's ``-focus`` does).
    """
    check_regex(pattern, "pattern")
    keys = frame_keys(p, key).filter(pl.col("key").str.contains(pattern))
    return (
        p.stacks.select("stack_id", pl.col("frame_ids").alias("frame_id"))
        .explode("frame_id")
        .join(keys.select("frame_id"), on="frame_id", how="semi")
        .get_column("stack_id")
        .unique()
    )
