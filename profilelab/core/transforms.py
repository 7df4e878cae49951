"""Call-tree transforms: pure ``Profile -> Profile`` rewrites of stacks, as profilers offer them.

A transform list is a sequence of ``(name, argument)`` pairs, applied in order (JSON: a list
of two-element lists, e.g. ``[["merge_function", "^runtime\\."], ["left_heavy", null]]``).
Functions are matched by name (an unsymbolized frame by its ``0x...`` address) with an
unanchored RE2 regex unless said otherwise; a *path* is root-first function names joined
with ``;`` (``main;run;work``), each matched exactly.

=========================  ======================================================  ========
name (argument)            effect (Firefox Profiler / pprof)                       totals
=========================  ======================================================  ========
merge_function (regex)     matching frames leave every stack; their time goes to   kept
                           their callers (pprof ``-hide``)
merge_call_node (path)     the frame at the end of ``path`` leaves the stacks      kept
                           starting with ``path``; its time goes to its caller
focus_function (regex)     samples without a match are dropped; each stack starts  dropped
                           at its root-most match (the function becomes the root,
                           all its calls merged)
focus_subtree (path)       samples whose stack does not start with ``path`` are    dropped
                           dropped; the others start at the path's last frame
drop_function (regex)      samples with a matching frame are dropped (``-ignore``)  dropped
collapse_recursion         for each matching function, the frames between its      kept
  (regex)                  root-most and leaf-most call leave the stack (direct
                           and indirect recursion become one call)
collapse_direct_recursion  a matching frame called directly by the same function   kept
  (regex)                  leaves the stack
collapse_package (regex)   consecutive frames matching become one frame named by   kept
                           the text the regex matched (e.g. ``^net/http``)
tagroot (keys)             pprof ``-tagroot``: per key (comma-separated), a frame  kept
                           named by the sample's values of that label at the root
tagleaf (keys)             pprof ``-tagleaf``: the same frames at the leaf         kept
left_heavy                 flame graphs order siblings by value, heaviest first    kept
                           (no stack changes)
=========================  ======================================================  ========

"kept": every sample stays and keeps its value; "dropped": samples are removed, the others
keep their value. Stacks are rewritten per distinct stack (per stack and label set for
``tagroot``/``tagleaf``), never per sample; rewritten stacks get content-hashed ids with
the builder's formula, so an untouched stack keeps its id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from profilelab.core.regex import check_regex
from profilelab.core.vocabulary import TRANSFORMS
from profilelab.errors import QueryError

if TYPE_CHECKING:
    from profilelab.model.profile import Profile

Spec = tuple[str, str | None]

#: Transforms that only change how trees are drawn.
DISPLAY_ONLY = frozenset({"left_heavy"})


def specs(items: Iterable[Sequence[str | None] | str] | None) -> tuple[Spec, ...]:
    """Validated transform specs from pairs (or bare names for argument-free transforms)."""
    out: list[Spec] = []
    for item in items or ():
        if isinstance(item, str):
            name, arg = item, None
        else:
            parts = list(item)
            if len(parts) not in (1, 2):
                raise QueryError(f"transform {parts!r} is not a (name, argument) pair")
            name, arg = str(parts[0]), (None if len(parts) == 1 else parts[1])
        out.append(_checked(name, arg))
    return tuple(out)


def _checked(name: str, arg: str | None) -> Spec:
    if name not in TRANSFORMS:
        raise QueryError(f"unknown transform {name!r} (expected one of {', '.join(TRANSFORMS)})")
    kind = TRANSFORMS[name]
    if kind is None:
        return (name, None)
    if arg is None or str(arg).strip() == "":
        raise QueryError(f"transform {name} needs a {kind} argument")
    arg = str(arg)
    if kind == "regex":
        check_regex(arg, name)
    return (name, arg)


def rewrites(items: Sequence[Spec]) -> bool:
    """Whether ``items`` change stacks (more than display order)."""
    return any(name not in DISPLAY_ONLY for name, _ in items)


def left_heavy(items: Sequence[Spec]) -> bool:
    return any(name == "left_heavy" for name, _ in items)


def apply(profile: Profile, items: Sequence[Spec]) -> Profile:
    """``profile`` with every transform of ``items`` applied in order (pure)."""
    for name, arg in items:
        if name in DISPLAY_ONLY:
            continue
        profile = _APPLY[name](profile, arg or "")
    return profile


# ---- the stack view the transforms work on ----------------------------------------------------
def _rows(profile: Profile, stack_ids: pl.Series | None = None) -> pl.DataFrame:
    """stack_id, rf (root-first position), frame_id, name: one row per frame of each stack."""
    from profilelab.model.names import frame_function_names

    stacks = profile.stacks
    if stack_ids is not None:
        stacks = stacks.join(pl.DataFrame({"stack_id": stack_ids.unique()}), on="stack_id")
    rows = (
        stacks.select(
            "stack_id",
            pl.col("frame_ids").list.reverse().alias("frame_id"),
            pl.int_ranges(0, pl.col("frame_ids").list.len()).alias("rf"),
        )
        .explode("frame_id", "rf")
        .drop_nulls("frame_id")
    )
    names = profile.frames.select("frame_id", frame_function_names(profile.frames))
    return rows.join(names, on="frame_id", how="left", maintain_order="left").with_columns(
        pl.col("rf").cast(pl.Int64), pl.col("name").fill_null("")
    )


def _used_stacks(profile: Profile) -> pl.Series:
    return profile.samples.get_column("stack_id").unique()


def rebuild(
    profile: Profile,
    rows: pl.DataFrame,
    *,
    key: str = "stack_id",
    frames: pl.DataFrame | None = None,
) -> Profile:
    """Stacks from ``rows`` (key, rf, frame_id; rf orders frames root first) and samples
    remapped to them; samples whose key has no rows get the empty stack."""
    from profilelab.model import ids, schema

    keys = profile.samples.select(key).unique()
    rows = rows.sort(key, "rf")
    grouped = keys.join(
        rows.group_by(key, maintain_order=True).agg(pl.col("frame_id").reverse()),
        on=key,
        how="left",
    ).with_columns(pl.col("frame_id").fill_null(pl.lit([], dtype=pl.List(pl.Int64))))
    lists = grouped.get_column("frame_id")
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(lists.list.len().to_numpy(), out=offsets[1:])
    items = lists.explode().drop_nulls().to_numpy().astype(np.int64)
    new_ids = ids.as_id(ids.hash_sequences(items.view(np.uint64), offsets))
    mapping = grouped.select(key).with_columns(pl.Series("_new", new_ids, dtype=pl.Int64))
    stacks = (
        grouped.select(
            pl.Series("stack_id", new_ids, dtype=pl.Int64),
            pl.col("frame_id").alias("frame_ids"),
            pl.col("frame_id").list.len().alias("depth"),
        )
        .unique("stack_id", maintain_order=True)
        .pipe(lambda df: schema.conform("stacks", df))
    )
    samples = (
        profile.samples.join(mapping, on=key, how="left", maintain_order="left")
        .with_columns(pl.col("_new").alias("stack_id"))
        .drop("_new")
    )
    columns = [c for c in profile.samples.columns if c == "stack_id" or c != key]
    all_frames = profile.frames if frames is None else frames
    return profile.replace(samples=samples.select(columns), stacks=stacks, frames=all_frames)


def _keep_samples(profile: Profile, stack_ids: pl.Series) -> Profile:
    samples = profile.samples.filter(pl.col("stack_id").is_in(stack_ids.implode()))
    return profile.replace(samples=samples)


def _matching(rows: pl.DataFrame, regex: str) -> pl.Expr:
    return pl.col("name").str.contains(regex).fill_null(False)


def _path(arg: str) -> list[str]:
    parts = [p for p in arg.split(";") if p != ""]
    if not parts:
        raise QueryError(f"call path {arg!r} is empty (expected names joined by ';')")
    return parts


# ---- the transforms ---------------------------------------------------------------------------
def merge_function(profile: Profile, regex: str) -> Profile:
    rows = _rows(profile, _used_stacks(profile))
    return rebuild(profile, rows.filter(~_matching(rows, regex)))


def _prefix_stacks(rows: pl.DataFrame, path: list[str]) -> pl.Series:
    """Stacks whose first ``len(path)`` frames (root first) are named ``path``."""
    want = pl.DataFrame({"rf": list(range(len(path))), "name": path}).with_columns(
        pl.col("rf").cast(pl.Int64)
    )
    hits = rows.join(want, on=["rf", "name"], how="semi")
    counts = hits.group_by("stack_id").len()
    return counts.filter(pl.col("len") == len(path)).get_column("stack_id")


def merge_call_node(profile: Profile, path: str) -> Profile:
    names = _path(path)
    rows = _rows(profile, _used_stacks(profile))
    hit = _prefix_stacks(rows, names)
    drop = pl.col("stack_id").is_in(hit.implode()) & (pl.col("rf") == len(names) - 1)
    return rebuild(profile, rows.filter(~drop))


def focus_subtree(profile: Profile, path: str) -> Profile:
    names = _path(path)
    rows = _rows(profile, _used_stacks(profile))
    hit = _prefix_stacks(rows, names)
    kept = rows.filter(pl.col("stack_id").is_in(hit.implode()) & (pl.col("rf") >= len(names) - 1))
    return rebuild(_keep_samples(profile, hit), kept)


def focus_function(profile: Profile, regex: str) -> Profile:
    rows = _rows(profile, _used_stacks(profile))
    first = (
        rows.filter(_matching(rows, regex))
        .group_by("stack_id")
        .agg(pl.col("rf").min().alias("_from"))
    )
    kept = rows.join(first, on="stack_id").filter(pl.col("rf") >= pl.col("_from"))
    return rebuild(_keep_samples(profile, first.get_column("stack_id")), kept.drop("_from"))


def drop_function(profile: Profile, regex: str) -> Profile:
    rows = _rows(profile, _used_stacks(profile))
    hit = rows.filter(_matching(rows, regex)).get_column("stack_id").unique()
    return profile.replace(samples=profile.samples.filter(~pl.col("stack_id").is_in(hit.implode())))


def keep_function(profile: Profile, regex: str) -> Profile:
    """Only the samples with a frame matching ``regex`` (pprof's ``-focus``; stacks kept)."""
    rows = _rows(profile, _used_stacks(profile))
    return _keep_samples(
        profile, rows.filter(_matching(rows, regex)).get_column("stack_id").unique()
    )


def collapse_recursion(profile: Profile, regex: str) -> Profile:
    rows = _rows(profile, _used_stacks(profile))
    spans = (
        rows.filter(_matching(rows, regex))
        .group_by("stack_id", "name")
        .agg(pl.col("rf").min().alias("_lo"), pl.col("rf").max().alias("_hi"))
        .filter(pl.col("_hi") > pl.col("_lo"))
        .drop("name")
    )
    inside = (
        rows.select("stack_id", "rf")
        .join(spans, on="stack_id")
        .filter((pl.col("rf") > pl.col("_lo")) & (pl.col("rf") <= pl.col("_hi")))
        .select("stack_id", "rf")
        .unique()
    )
    return rebuild(profile, rows.join(inside, on=["stack_id", "rf"], how="anti"))


def collapse_direct_recursion(profile: Profile, regex: str) -> Profile:
    rows = _rows(profile, _used_stacks(profile)).sort("stack_id", "rf")
    caller_same = (pl.col("name") == pl.col("name").shift(1)) & (
        pl.col("stack_id") == pl.col("stack_id").shift(1)
    )
    drop = caller_same.fill_null(False) & _matching(rows, regex)
    return rebuild(profile, rows.filter(~drop))


def collapse_package(profile: Profile, regex: str) -> Profile:
    rows = _rows(profile, _used_stacks(profile)).sort("stack_id", "rf")
    rows = rows.with_columns(pl.col("name").str.extract(f"({regex})", 1).alias("_pkg"))
    same_run = (
        pl.col("_pkg").is_not_null()
        & (pl.col("_pkg") == pl.col("_pkg").shift(1))
        & (pl.col("stack_id") == pl.col("stack_id").shift(1))
    ).fill_null(False)
    rows = rows.filter(~same_run)
    packages = rows.get_column("_pkg").drop_nulls().unique().sort()
    new_frames = _pseudo_frames(packages, pl.Series([None] * len(packages), dtype=pl.Utf8))
    rows = rows.join(
        new_frames.select(pl.col("function").alias("_pkg"), pl.col("frame_id").alias("_fid")),
        on="_pkg",
        how="left",
    ).with_columns(pl.coalesce("_fid", "frame_id").alias("frame_id"))
    frames = pl.concat([profile.frames, new_frames], how="vertical").unique(
        "frame_id", keep="first", maintain_order=True
    )
    return rebuild(profile, rows.select("stack_id", "rf", "frame_id"), frames=frames)


def _pseudo_frames(functions: pl.Series, files: pl.Series) -> pl.DataFrame:
    """Frames that name a group (a package, a label value): content-hashed like real ones."""
    from profilelab.model import ids, schema

    h = ids.fold(
        ids.hash_strings(functions.to_arrow()),
        ids.hash_strings(files.to_arrow()),
        ids.hash_strings(["profilelab:pseudo-frame"] * len(functions)),
    )
    df = pl.DataFrame(
        {
            "frame_id": pl.Series(ids.as_id(h), dtype=pl.Int64),
            "function": functions,
            "system_name": functions,
            "file": files,
        }
    ).with_columns(
        pl.lit(0).alias("start_line"),
        pl.lit(0).alias("line"),
        pl.lit(0).alias("column"),
        pl.lit(0).alias("address"),
        pl.lit(False).alias("inlined"),
        pl.lit(False).alias("folded"),
    )
    return schema.conform("frames", df)


def _label_texts(profile: Profile, keys: list[str], unit: str = "minimum") -> pl.DataFrame:
    """label_set_id, key, text: pprof's formatLabelValues joined with ',' per key."""
    from profilelab.core import measurement

    labels = profile.labels.filter(pl.col("key").is_in(keys)).with_row_index("_order")
    nums = labels.filter(pl.col("str").is_null())
    texts = [
        measurement.scaled_label(int(n), u or "", unit if u else "")
        for n, u in nums.select("num", "unit").iter_rows()
    ]
    nums = nums.with_columns(pl.Series("text", texts, dtype=pl.Utf8))
    strs = labels.filter(pl.col("str").is_not_null()).with_columns(pl.col("str").alias("text"))
    # pprof: string values first, then numeric ones, each in label order.
    both = pl.concat(
        [strs.with_columns(pl.lit(0).alias("_kind")), nums.with_columns(pl.lit(1).alias("_kind"))]
    )
    return (
        both.sort("label_set_id", "key", "_kind", "_order")
        .group_by("label_set_id", "key", maintain_order=True)
        .agg(pl.col("text").str.join(","))
    )


def _tag_frames(profile: Profile, keys_arg: str, *, root: bool) -> Profile:
    keys = [k.strip() for k in keys_arg.split(",") if k.strip()]
    if not keys:
        raise QueryError(f"{'tagroot' if root else 'tagleaf'} needs label keys, got {keys_arg!r}")
    pairs = profile.samples.select("stack_id", "label_set_id").unique()
    pairs = pairs.with_row_index("_pair").with_columns(pl.col("_pair").cast(pl.Int64))
    texts = _label_texts(profile, keys)
    grid = pairs.select("_pair", "label_set_id").join(
        pl.DataFrame({"key": keys, "_k": list(range(len(keys)))}), how="cross"
    )
    grid = grid.join(texts, on=["label_set_id", "key"], how="left").with_columns(
        pl.col("text").fill_null("")
    )
    distinct = grid.select("text", "key").unique(maintain_order=True)
    frames = _pseudo_frames(distinct["text"], distinct["key"])
    fid = distinct.with_columns(frames["frame_id"].alias("frame_id"))
    grid = grid.join(fid, on=["text", "key"], how="left")
    old = _rows(profile, pairs.get_column("stack_id"))
    body = (
        pairs.select("_pair", "stack_id").join(old, on="stack_id").select("_pair", "rf", "frame_id")
    )
    depth = old.group_by("stack_id").len().rename({"len": "_depth"})
    n = len(keys)
    if root:  # the first key is the new root
        body = body.with_columns(pl.col("rf") + n)
        added = grid.select("_pair", pl.col("_k").cast(pl.Int64).alias("rf"), "frame_id")
    else:  # the last key is the new leaf
        offset = pairs.join(depth, on="stack_id", how="left").select(
            "_pair", pl.col("_depth").fill_null(0).cast(pl.Int64)
        )
        added = grid.join(offset, on="_pair").select(
            "_pair", (pl.col("_depth") + pl.col("_k")).alias("rf"), "frame_id"
        )
    rows = pl.concat([body.select("_pair", "rf", "frame_id"), added], how="vertical")
    all_frames = pl.concat([profile.frames, frames], how="vertical").unique(
        "frame_id", keep="first", maintain_order=True
    )
    keyed = profile.replace(
        samples=profile.samples.join(
            pairs.select("stack_id", "label_set_id", "_pair"),
            on=["stack_id", "label_set_id"],
            how="left",
            maintain_order="left",
        )
    )
    out = rebuild(keyed, rows, key="_pair", frames=all_frames)
    return out.replace(samples=out.samples.select(profile.samples.columns))


def tagroot(profile: Profile, keys: str) -> Profile:
    return _tag_frames(profile, keys, root=True)


def tagleaf(profile: Profile, keys: str) -> Profile:
    return _tag_frames(profile, keys, root=False)


_APPLY: dict[str, Callable[[Profile, str], Profile]] = {
    "merge_function": merge_function,
    "merge_call_node": merge_call_node,
    "focus_function": focus_function,
    "focus_subtree": focus_subtree,
    "drop_function": drop_function,
    "collapse_recursion": collapse_recursion,
    "collapse_direct_recursion": collapse_direct_recursion,
    "collapse_package": collapse_package,
    "tagroot": tagroot,
    "tagleaf": tagleaf,
}
