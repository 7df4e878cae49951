"""Granularity: which frames merge into one flame-graph node, and what the node is called.

Frames merge by the name they get at a granularity (pprof's ``-functions``,
``-filefunctions``, ``-lines``, ``-files``, ``-addresses``; the singular names are aliases,
see :func:`profilelab.core.granularity`):

* ``functions`` (default): the function name;
* ``filefunctions``: function and file base name (``main.run main.go``);
* ``lines``: function, file base name and line (``main.run main.go:42``);
* ``files``: the source file;
* ``addresses``: function and instruction address (``main.run 0x4a3f10``).

An unsymbolized frame is named by its address (``0x4a3f10``). Key ids are positions in the
alphabetically sorted name list, so siblings come out of the tree builder sorted by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from profilelab.core.vocabulary import GRANULARITIES
from profilelab.core.vocabulary import granularity as canonical
from profilelab.errors import QueryError
from profilelab.model.names import frame_function_names, hex_addresses

__all__ = ["GRANULARITIES", "KeyTable", "key_table"]


@dataclass(frozen=True)
class KeyTable:
    """Node names at one granularity: ``keys`` has columns name, file, line, package (row =
    key id); ``frame_key`` maps each frames-table row to its key id."""

    granularity: str
    keys: pl.DataFrame
    frame_key: np.ndarray

    def __len__(self) -> int:
        return self.keys.height

    def names(self) -> list[str]:
        return self.keys.get_column("name").to_list()

    def lookup(self, names: list[str] | tuple[str, ...]) -> list[int]:
        """Key ids of ``names``; QueryError names the first unknown one."""
        col = self.keys.get_column("name")
        found = col.search_sorted(pl.Series(names, dtype=pl.Utf8)).to_list()
        out = []
        for name, i in zip(names, found, strict=True):
            if i >= len(col) or col[i] != name:
                raise QueryError(f"no frame named {name!r} at {self.granularity} granularity")
            out.append(int(i))
        return out


def key_table(frames: pl.DataFrame, granularity: str) -> KeyTable:
    """Name every frame at ``granularity`` and number the distinct names alphabetically."""
    granularity = canonical(granularity)
    frames = frames.with_columns(frame_function_names(frames).alias("_fn"))
    if granularity == "addresses":
        frames = frames.with_columns(hex_addresses(frames.get_column("address")).alias("_hex"))
    fn = pl.col("_fn")
    file = pl.col("file").fill_null("")
    base = file.str.extract(r"([^/\\]*)$", 1)
    name = {
        "functions": fn,
        "filefunctions": pl.when(file == "").then(fn).otherwise(fn + pl.lit(" ") + base),
        "lines": pl.when(file == "")
        .then(fn + pl.lit(":") + pl.col("line").cast(pl.Utf8))
        .otherwise(fn + pl.lit(" ") + base + pl.lit(":") + pl.col("line").cast(pl.Utf8)),
        "files": pl.when(file == "").then(pl.lit("(unknown file)")).otherwise(file),
        "addresses": fn + pl.lit(" ") + pl.col("_hex") if granularity == "addresses" else fn,
    }[granularity]
    line = pl.col("start_line") if granularity in ("functions", "filefunctions") else pl.col("line")
    named = frames.select(
        name.alias("name"), file.alias("file"), line.fill_null(0).alias("line"), fn.alias("fn")
    )
    package = _directory(pl.col("file")) if granularity == "files" else _package(pl.col("fn"))
    keys = (
        named.group_by("name")
        .agg(
            # prefer a non-empty file for the tooltip
            pl.col("file").filter(pl.col("file") != "").first().fill_null(""),
            pl.col("line").min(),
            pl.col("fn").first(),
        )
        .sort("name")
        .with_columns(package.fill_null("").alias("package"))
        .drop("fn")
    )
    frame_key = keys.get_column("name").search_sorted(named.get_column("name")).to_numpy()
    return KeyTable(granularity, keys, frame_key.astype(np.int32))


def _package(fn: pl.Expr) -> pl.Expr:
    """A package guess from a function name, for colouring: C++ ``ns::``, Go import path up
    to the first dot after the last slash, Java ``a.b.Class.method`` -> ``a.b``, else the
    part before the first dot."""
    return (
        pl.when(fn.str.contains("::"))
        .then(fn.str.extract(r"^([^:]*)::", 1))
        .when(fn.str.contains("/"))
        .then(fn.str.extract(r"^(.*/[^./]*)", 1))
        .when(fn.str.count_matches(r"\.") >= 3)
        .then(fn.str.extract(r"^(.+)\.[^.]+\.[^.]+$", 1))
        .otherwise(fn.str.extract(r"^([^.(]+)\.", 1))
    )


def _directory(file: pl.Expr) -> pl.Expr:
    return file.str.extract(r"^(.*)[/\\][^/\\]*$", 1)
