"""Choosing profiles: by sample type, by profile labels, by time window."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import polars as pl

from profilelab.core import sampletypes
from profilelab.core.timeparse import parse_duration
from profilelab.errors import QueryError
from profilelab.model.profile import Profile

#: A pick of profiles (not to be confused with :class:`profilelab.core.Selection`, which
#: selects samples): label values (``{"version": "v2.3.6"}``; a value starting with
#: ``~`` is a regex), a Polars predicate over :func:`profile_table`, or explicit profile ids.
ProfilePick = Mapping[str, str] | pl.Expr | pl.Series | Callable[[pl.DataFrame], pl.Series]


def profile_table(p: Profile) -> pl.DataFrame:
    """One row per profile: id, sample type/unit, time, source, and one column per label key."""
    base = p.profiles.select(
        "profile_id", "sample_type", "sample_unit", "is_default", "time_ns", "duration_ns", "source"
    )
    labels = p.profiles.select("profile_id", "labels").explode("labels").drop_nulls("labels")
    if labels.is_empty():
        return base
    wide = (
        labels.select(
            "profile_id",
            pl.col("labels").struct.field("key").alias("key"),
            pl.col("labels").struct.field("value").alias("value"),
        )
        .unique(["profile_id", "key"], keep="last", maintain_order=True)
        .pivot(on="key", index="profile_id", values="value")
    )
    reserved = set(base.columns) - {"profile_id"}
    wide = wide.rename({c: f"label_{c}" for c in wide.columns if c in reserved})
    return base.join(wide, on="profile_id", how="left")


def default_sample_type(p: Profile, preferred: tuple[str, ...] = ()) -> str:
    """The first of ``preferred`` present, else pprof's default (see
    :func:`profilelab.core.sampletypes.default`)."""
    return sampletypes.default(p, preferred).type


def of_type(
    p: Profile, sample_type: str | int | None, preferred: tuple[str, ...] = ()
) -> pl.DataFrame:
    """The profile table restricted to one sample type (a name or position; default:
    :func:`default_sample_type`)."""
    ids = sampletypes.rows_of(p, sampletypes.resolve(p, sample_type, preferred))["profile_id"]
    return profile_table(p).filter(pl.col("profile_id").is_in(ids.implode()))


def select(table: pl.DataFrame, selection: ProfilePick | None) -> pl.DataFrame:
    """Rows of a profile table matching ``selection`` (None selects all)."""
    if selection is None:
        return table
    if isinstance(selection, pl.Series):
        return table.filter(pl.col("profile_id").is_in(selection.implode()))
    if isinstance(selection, pl.Expr):
        return table.filter(selection)
    if callable(selection):
        return table.filter(selection(table))
    preds = []
    for key, want in selection.items():
        if key not in table.columns:
            raise QueryError(f"no profile label {key!r} (present: {', '.join(table.columns)})")
        col = pl.col(key).cast(pl.Utf8)
        preds.append(col.str.contains(want[1:]) if want.startswith("~") else col == want)
    return table.filter(pl.all_horizontal(preds)) if preds else table


def window(table: pl.DataFrame, start_ns: int | None, end_ns: int | None) -> pl.DataFrame:
    """Profiles whose time_ns lies in [start_ns, end_ns)."""
    pred = pl.lit(True)
    if start_ns is not None:
        pred = pred & (pl.col("time_ns") >= start_ns)
    if end_ns is not None:
        pred = pred & (pl.col("time_ns") < end_ns)
    return table.filter(pred)


def parse_duration_ns(text: str | int) -> int:
    """``"90s"``, ``"1h30m"``, ``"2h"``, ``"1d"``, ``"500ms"`` or nanoseconds as an int
    (:func:`profilelab.core.timeparse.parse_duration`)."""
    if isinstance(text, int):
        return text
    return parse_duration(text)
