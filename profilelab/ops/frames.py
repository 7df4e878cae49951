"""The stack view pprof's filters work on: one row per (stack, frame) with its location.

pprof filters and aggregates *locations* (an address with its inlined lines, innermost
first); profilelab stores expanded frames, leaf first, where ``inlined`` marks a frame that
is inlined into the next one. :func:`explode` rebuilds the location structure per stack:

* ``pos``: frame position, 0 = leaf;
* ``loc``: location position in the stack, 0 = leaf location;
* ``li``: line index within the location, 0 = innermost (pprof's ``Location.Line[0]``).

Frame attributes live in a separate small frame (:func:`frame_attributes`, one row per
distinct frame) so regexes and names are computed once per frame, never per sample.
Mappings are "massaged" as pprof's parser does (adjacent pieces of one file merged, the
main binary first), which decides the ``[binary]`` names and the ``File:`` header.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import polars as pl

from profilelab.model.profile import Profile


@dataclass(frozen=True)
class MainMapping:
    file: str
    build_id: str


def explode(profile: Profile, stack_ids: pl.Series) -> pl.DataFrame:
    """stack_id, pos, frame_id, loc, li for the given stacks."""
    wanted = pl.DataFrame({"stack_id": stack_ids.unique()})
    stacks = profile.stacks.join(wanted, on="stack_id", how="semi")
    rows = (
        stacks.select(
            "stack_id",
            pl.col("frame_ids").alias("frame_id"),
            pl.int_ranges(0, pl.col("frame_ids").list.len(), dtype=pl.Int32).alias("pos"),
        )
        .explode("frame_id", "pos")
        .drop_nulls("frame_id")
    )
    inlined = profile.frames.select("frame_id", "inlined")
    rows = rows.join(inlined, on="frame_id", how="left").sort("stack_id", "pos")
    ends = (~pl.col("inlined").fill_null(False)).cast(pl.Int32)
    rows = rows.with_columns((ends.cum_sum().over("stack_id") - ends).alias("loc"))
    return rows.with_columns(
        (pl.col("pos") - pl.col("pos").min().over("stack_id", "loc")).alias("li")
    ).drop("inlined")


def massage_mappings(profile: Profile) -> tuple[pl.DataFrame, MainMapping | None]:
    """pprof's massageMappings: mapping_id -> effective (file, build id); the main mapping.

    A profile holding one input uses all its mappings in input order; several inputs use
    the mappings in table order (pprof would massage each input separately, then merge).
    """
    rows = profile.mappings.select(
        "mapping_id", "binary", "build_id", "memory_start", "memory_limit", "file_offset"
    ).rows()
    groups: list[list[tuple]] = []  # type: ignore[type-arg]
    for m in rows:
        if groups and _adjacent(_merged(groups[-1]), m):
            groups[-1].append(m)
        else:
            groups.append([m])
    merged = [_merged(g) for g in groups]
    mapping_file = []
    for g, (file, build_id, *_rest) in zip(groups, merged, strict=True):
        mapping_file.extend((m[0], file, build_id) for m in g)
    main = _main_binary(merged)
    df = pl.DataFrame(
        mapping_file,
        schema={"mapping_id": pl.Int64, "map_file": pl.Utf8, "map_build_id": pl.Utf8},
        orient="row",
    )
    return df, main


def _merged(group: list[tuple]) -> tuple[str, str, int, int, int]:  # type: ignore[type-arg]
    """(file, build id, start, limit, offset) of adjacent mappings merged into the first."""
    file, build_id = group[0][1] or "", group[0][2] or ""
    for m in group[1:]:
        file = m[1] or file
        build_id = m[2] or build_id
    return file, build_id, group[0][3], group[-1][4], group[0][5]


def _adjacent(last: tuple[str, str, int, int, int], m: tuple) -> bool:  # type: ignore[type-arg]
    file, build_id, start, limit, offset = last
    m_file, m_build, m_start, _m_limit, m_offset = m[1] or "", m[2] or "", m[3], m[4], m[5]
    if file and m_file and file != m_file:
        return False
    if build_id and m_build and build_id != m_build:
        return False
    if limit != m_start:
        return False
    return not (offset and m_offset and offset + (limit - start) != m_offset)


def _main_binary(merged: list[tuple[str, str, int, int, int]]) -> MainMapping | None:
    """The first mapping that looks like an executable (not a .so, not [vdso]); else the first."""
    import re

    lib = re.compile(r"([.]so$|[.]so[._][0-9]+)")
    if not merged:
        return None
    for file, build_id, *_ in merged:
        name = file.replace("(deleted)", "").strip()
        if name and not lib.search(name) and not name.startswith("["):
            return MainMapping(file, build_id)
    return MainMapping(merged[0][0], merged[0][1])


def frame_attributes(profile: Profile, frame_ids: pl.Series) -> pl.DataFrame:
    """Attributes of the given frames, with ``map_file`` (null without a mapping).

    When the profile has no mappings at all, pprof gives every location a fake mapping
    with an empty file name; ``map_file`` is then ``""``.
    """
    wanted = pl.DataFrame({"frame_id": frame_ids.unique()})
    frames = profile.frames.join(wanted, on="frame_id", how="semi")
    files, _ = massage_mappings(profile)
    frames = frames.join(files, on="mapping_id", how="left")
    if profile.mappings.height == 0:
        frames = frames.with_columns(pl.lit("").alias("map_file"))
    return frames.select(
        "frame_id",
        pl.col("function"),
        pl.col("file").fill_null(""),
        pl.col("start_line").fill_null(0),
        pl.col("line").fill_null(0),
        pl.col("address").fill_null(0),
        "map_file",
    )


def go_clean(path: str) -> str:
    """Go's filepath.Clean (unlike posixpath.normpath, a leading ``//`` becomes ``/``)."""
    if path == "":
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def go_base(path: str) -> str:
    """Go's filepath.Base."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path.rsplit("/", 1)[-1]


def trim_path(path: str) -> str:
    """pprof's default source path trimming (``/proc/self/cwd/`` prefixes)."""
    for prefix in ("/proc/self/cwd/./", "/proc/self/cwd/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path
