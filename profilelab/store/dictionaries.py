"""Reading a store's dictionary tables (stacks, frames, labels) by key.

Shared by the query, the writers' directory and maintenance; it imports nothing of the store
but its layout, so each of them can call it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from profilelab.model import schema
from profilelab.store import layout


def read_dictionary(root: Path, files: list[str], table: str, keys: pl.Series) -> pl.DataFrame:
    """The rows of dictionary ``table`` (stacks, frames, labels) whose key is in ``keys``,
    read from these store files (paths relative to ``root``), each key once."""
    key = layout.DICTIONARIES[table]
    if not files or keys.len() == 0:
        return schema.empty(table)
    wanted = keys.unique().implode()
    df = pl.scan_parquet([str(root / f) for f in files]).filter(pl.col(key).is_in(wanted)).collect()
    if table != "labels":
        df = df.unique(key, keep="first", maintain_order=True)
    else:
        df = df.unique(maintain_order=True)
    return schema.conform(table, df)
