"""Helpers shared by the writers: choosing sample types and naming frames for text formats."""

from __future__ import annotations

import numpy as np
import polars as pl

from profilelab.core import sampletypes
from profilelab.errors import QueryError
from profilelab.model.profile import Profile


def available_types(profile: Profile) -> str:
    """``type/unit`` of every distinct sample type, for error messages."""
    rows = profile.profiles.select("sample_type_index", "sample_type", "sample_unit").unique(
        maintain_order=True
    )
    return ", ".join(f"{i}={t}/{u}" for i, t, u in rows.iter_rows()) or "none"


def select_sample_type(profile: Profile, which: str | int) -> Profile:
    """Keep only the profiles of one sample type, named (``cpu``) or by position (``1``,
    pprof's ``-sample_index=1``), as :func:`profilelab.core.sampletypes.resolve` chooses.

    Samples, stacks and the other tables are kept as they are (unreferenced rows are
    harmless). Raises QueryError when nothing matches.
    """
    return sampletypes.only(profile, which)


def default_profile_rows(profile: Profile) -> pl.DataFrame:
    """The profile rows a single-type writer uses: all rows of one sample type, the
    default every command uses (:func:`profilelab.core.sampletypes.default`; of an OTLP
    capture with CPU and off-CPU profiles, the first profile's type). Inputs of different
    kinds (a CPU and a heap profile) must be told apart, as in the reports: QueryError
    asking for ``--sample-index``."""
    rows = profile.profiles
    if rows.select("sample_type", "sample_unit").unique().height <= 1:
        return rows
    chosen = sampletypes.default(profile)
    if sampletypes.lacking(profile, chosen).height:
        raise QueryError(
            "the profiles hold several sample types and no single default "
            f"({available_types(profile)}); choose one with --sample-index"
        )
    return sampletypes.rows_of(profile, chosen).select(rows.columns)


def hex_addresses(address: np.ndarray) -> np.ndarray:
    """``0x``-prefixed lower-case hex of each uint64, vectorized (no per-frame Python)."""
    a = np.asarray(address, dtype=np.uint64)
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = ((a[:, None] >> shifts[None, :]) & np.uint64(0xF)).astype(np.uint8)
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    fixed = chars.view("S16").ravel()
    stripped = np.char.lstrip(fixed, b"0")
    stripped[stripped == b""] = b"0"
    return np.char.add(b"0x", stripped).astype(str)


def frame_names(frames: pl.DataFrame) -> pl.Series:
    """A display name per frame: the function, else ``0x<address>``, else ``[unknown]``."""
    address = frames["address"].fill_null(0).to_numpy()
    hexed = pl.Series(hex_addresses(address), dtype=pl.Utf8)
    names = (
        pl.DataFrame({"function": frames["function"], "address": address, "hex": hexed})
        .select(
            pl.when(pl.col("function").is_not_null())
            .then(pl.col("function"))
            .when(pl.col("address") > 0)
            .then(pl.col("hex"))
            .otherwise(pl.lit("[unknown]"))
        )
        .to_series()
    )
    return names.alias("name")
