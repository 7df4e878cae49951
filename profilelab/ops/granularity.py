"""Report nodes: which frames pprof counts as one entry, and the entry's printed name.

pprof aggregates locations to a granularity (``-functions`` default, ``-filefunctions``,
``-files``, ``-lines``, ``-addresses``) and makes one node per distinct NodeInfo:
(name, address, file, start line, line, binary). Fields the granularity does not keep are
cleared; a frame whose function has no name keeps the binary and start line (so distinct
nameless functions stay distinct); an unsymbolized location (no lines) is its address (at
``addresses`` granularity) and binary. Printed names join the kept fields the way pprof
does: ``0000000000401234 main.f file.go:12``; ``[binary]`` or ``<unknown>`` when nothing
else is known. File names are cleaned like Go's ``filepath.Clean`` and lose pprof's default
``/proc/self/cwd/`` prefix (and the ``-trim_path`` ones).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from profilelab.model import _arrow
from profilelab.model.profile import Profile
from profilelab.ops.frames import frame_rows, go_base, go_clean
from profilelab.ops.sources import trim_path

#: (function, file, line, address) kept by each granularity, as pprof's Aggregate.
_KEEPS = {
    "functions": (True, False, False, False),
    "filefunctions": (True, True, False, False),
    "files": (False, True, False, False),
    "lines": (True, True, True, False),
    "addresses": (True, True, True, True),
}
NODE_KEY = ("n_name", "n_address", "n_file", "n_start", "n_line", "n_obj")


def node_keys(f: pl.DataFrame, granularity: str, trim: str = "", search: str = "") -> pl.DataFrame:
    """F with the node key columns ``n_*`` and a dense ``node_id``; plus the node table.

    File names are trimmed as pprof's reports trim them (``-trim_path``, ``-source_path``:
    :func:`.sources.trim_path`), then cleaned.
    """
    function, filename, line, address = _KEEPS[granularity]
    has_fn = pl.col("function").is_not_null()
    name = pl.col("function") if function else pl.lit("")
    file = pl.lit("")
    if filename:  # each distinct file cleaned once (in Python), only when the nodes keep it
        files = f["file"].unique().to_list()
        cleaned = {p: go_clean(trim_path(p, trim, search)) if p else "" for p in files}
        file = pl.col("file").replace_strict(cleaned, return_dtype=pl.Utf8)
    nameless = ~has_fn | (name.fill_null("") == "")
    keyed = f.with_columns(
        pl.when(has_fn).then(name).otherwise(pl.lit("")).alias("n_name"),
        (pl.col("address") if address else pl.lit(0, dtype=pl.UInt64)).alias("n_address"),
        pl.when(has_fn).then(file).otherwise(pl.lit("")).alias("n_file"),
        pl.when(has_fn & nameless).then(pl.col("start_line")).otherwise(0).alias("n_start"),
        (pl.when(has_fn).then(pl.col("line")).otherwise(0) if line else pl.lit(0)).alias("n_line"),
        pl.when(nameless)
        .then(pl.col("map_file").fill_null(""))
        .otherwise(pl.lit(""))
        .alias("n_obj"),
    )
    ids = keyed.select(NODE_KEY).unique(maintain_order=True).with_row_index("node_id")
    ids = ids.with_columns(pl.col("node_id").cast(pl.Int64))
    return keyed.join(ids, on=list(NODE_KEY), how="left", nulls_equal=True)


def node_of_frame(profile: Profile, keyed: pl.DataFrame) -> np.ndarray:
    """The node id of each row of ``profile.frames`` (-1 for frames not in ``keyed``), so
    that the stack view's rows get theirs by their ``frame`` row."""
    out = np.full(profile.frames.height, -1, dtype=np.int64)
    out[frame_rows(profile, keyed.get_column("frame_id"))] = keyed.get_column("node_id").to_numpy()
    return out


def node_table(keyed: pl.DataFrame) -> pl.DataFrame:
    """One row per node: node_id, the key columns, ``name`` (printable) and ``info`` (tie-break)."""
    nodes = keyed.select("node_id", *NODE_KEY).unique("node_id").sort("node_id")
    # Go's fmt.Sprint(NodeInfo): pprof's last tie-breaker between equally named nodes.
    info = pl.concat_str(
        pl.lit("{"),
        pl.col("n_name"),
        pl.lit("  "),  # OrigName is always empty in these reports
        pl.col("n_address").cast(pl.Utf8),
        pl.lit(" "),
        pl.col("n_file"),
        pl.lit(" "),
        pl.col("n_start").cast(pl.Utf8),
        pl.lit(" "),
        pl.col("n_line").cast(pl.Utf8),
        pl.lit(" "),
        pl.col("n_obj"),
        pl.lit("}"),
    )
    return nodes.with_columns(printable_names(nodes), info.alias("info"))


def printable_names(nodes: pl.DataFrame) -> pl.Series:
    """:func:`printable_name` of every row of ``nodes`` (its ``n_*`` key columns, no nulls)
    as one Polars expression: a report has a node per function, 30,000 on a big profile."""
    address = nodes.get_column("n_address").to_numpy()
    hexed = (
        _arrow.series("", _arrow.hex16(address)) if len(address) else pl.Series([], dtype=pl.Utf8)
    )
    objs = nodes.get_column("n_obj").unique().to_list()
    bases = {obj: "[" + go_base(obj) + "]" for obj in objs if obj}
    name, file, line, obj = pl.col("n_name"), pl.col("n_file"), pl.col("n_line"), pl.col("n_obj")
    last = (
        pl.when(line != 0)
        .then(pl.concat_str(file, pl.lit(":"), line.cast(pl.Utf8)))
        .when(file != "")
        .then(file)
        .when(name != "")
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(obj != "")
        .then(obj.replace_strict(bases, default=None, return_dtype=pl.Utf8))
        .otherwise(pl.lit("<unknown>"))
    )
    return nodes.select(
        pl.concat_str(
            pl.when(pl.col("n_address") != 0).then(hexed),
            pl.when(name != "").then(name),
            last,
            separator=" ",
            ignore_nulls=True,
        ).alias("name")
    ).to_series()


def printable_name(address: int, name: str, line: int, file: str, obj: str) -> str:
    """pprof's NodeInfo.PrintableName of one node (the reference of :func:`printable_names`)."""
    return " ".join(name_components(address, name, line, file, obj))


def name_components(address: int, name: str, line: int, file: str, obj: str) -> list[str]:
    """pprof's NodeInfo.NameComponents (joined by spaces in text reports, by line breaks in
    DOT labels)."""
    parts = []
    if address:
        parts.append(f"{address:016x}")
    if name:
        parts.append(name)
    if line:
        parts.append(f"{file}:{line}")
    elif file:
        parts.append(file)
    elif name:
        pass
    elif obj:
        parts.append("[" + go_base(obj) + "]")
    else:
        parts.append("<unknown>")
    return parts
