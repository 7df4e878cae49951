"""Display names of frames, shared by every layer that names frames for people."""

from __future__ import annotations

import numpy as np
import polars as pl


def hex_addresses(addresses: pl.Series) -> pl.Series:
    """``0x`` + lower-case hex of each address (Polars has no hex formatting; this runs
    once per distinct frame, never per sample)."""
    return pl.Series([f"0x{int(v or 0):x}" for v in addresses.to_list()], dtype=pl.Utf8)


def frame_function_names(frames: pl.DataFrame) -> pl.Series:
    """Function name of each frame; an unsymbolized frame is named by its address."""
    names = frames.get_column("function")
    missing = names.is_null()
    if not missing.any():
        return names.alias("name")
    hexed = hex_addresses(frames.get_column("address").filter(missing))
    return names.scatter(np.flatnonzero(missing.to_numpy()), hexed).alias("name")
