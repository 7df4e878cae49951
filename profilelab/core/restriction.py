"""The sample-level part of a selection: time range, label matchers and transforms.

:func:`restrict` is the first step of every consumer: it returns the profile set with only
the samples in the time range whose labels match, with the selection's call-tree
transforms applied. Sample type, frame filters and granularity are then applied by the
consumer's own step (pprof reports, flame trees, analyses) from the same selection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from profilelab.core import transforms
from profilelab.core.selection import Selection
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.model.reporting import reporting

if TYPE_CHECKING:
    from profilelab.core.selector import Matcher


def restrict(profile: Profile, selection: Selection) -> Profile:
    """``profile`` narrowed to the selection's time range and labels, then transformed.

    Totals: samples outside the range or not matching are removed; the others keep their
    values (see :mod:`profilelab.core.transforms` for what each transform keeps)."""
    if not selection.narrows_samples():
        return profile
    keep = _time_mask(selection.start_ns, selection.end_ns) & _label_mask(profile, selection.labels)
    if selection.start_ns is not None or selection.end_ns is not None or selection.labels:
        profile = _filter_samples(profile, keep)
    return transforms.apply(profile, selection.transforms)


def _filter_samples(profile: Profile, keep: pl.Expr) -> Profile:
    samples = with_sample_times(profile).filter(keep).select(profile.samples.columns)
    return profile.replace(samples=samples)


#: the column :func:`with_sample_times` adds
SAMPLE_TIME = "_sample_time"


def with_sample_times(profile: Profile, samples: pl.DataFrame | None = None) -> pl.DataFrame:
    """``samples`` (default: the profile's) with :data:`SAMPLE_TIME`, the time a time range
    compares: the sample's own ``time_ns``, else its profile's start (null when neither)."""
    samples = profile.samples if samples is None else samples
    if samples.get_column("time_ns").null_count() == 0:  # every sample has its own time
        return samples.with_columns(pl.col("time_ns").alias(SAMPLE_TIME))
    times = profile.profiles.select("profile_id", pl.col("time_ns").alias("_profile_time"))
    return samples.join(times, on="profile_id", how="left", maintain_order="left").select(
        pl.exclude("_profile_time"),
        pl.coalesce("time_ns", "_profile_time").alias(SAMPLE_TIME),
    )


def _time_mask(start_ns: int | None, end_ns: int | None) -> pl.Expr:
    """A sample's time (:func:`with_sample_times`) within ``[start_ns, end_ns)``."""
    t = pl.col(SAMPLE_TIME)
    mask = pl.lit(True)
    if start_ns is not None:
        mask = mask & (t >= start_ns).fill_null(False)
    if end_ns is not None:
        mask = mask & (t < end_ns).fill_null(False)
    return mask


def matching_label_sets(profile: Profile, matchers: tuple[Matcher, ...]) -> pl.Series:
    """Ids of the label sets (0 = no labels included) that satisfy every matcher.

    Prometheus semantics: a missing label has the value ""; regexes match the whole value.
    Numeric labels compare as decimal text."""
    sets = pl.concat(
        [
            pl.DataFrame({"label_set_id": [0]}, schema={"label_set_id": pl.Int64}),
            profile.labels.select("label_set_id").unique(),
        ]
    ).unique()
    text = pl.coalesce(pl.col("str"), pl.col("num").cast(pl.Utf8))
    for m in matchers:
        values = (
            profile.labels.filter(pl.col("key") == m.label)
            .group_by("label_set_id")
            .agg(text.first().alias("_v"))
        )
        v = sets.join(values, on="label_set_id", how="left")["_v"].fill_null("")
        exact = m.op in ("=", "!=")
        hit = v == m.value if exact else v.str.contains(f"^(?s:{m.value})$")
        sets = sets.filter(hit if m.op in ("=", "=~") else ~hit)
    return sets.get_column("label_set_id")


def _label_mask(profile: Profile, matchers: tuple[Matcher, ...]) -> pl.Expr:
    if not matchers:
        return pl.lit(True)
    ok = matching_label_sets(profile, matchers)
    return pl.col("label_set_id").is_in(ok.implode())


#: Selection fields only pprof's report pipeline applies (location-exact semantics).
REPORT_ONLY = ("show", "show_from", "prune_from", "tagfocus", "tagignore")


def narrow(profile: Profile, selection: Selection, consumer: str = "this view") -> Profile:
    """:func:`restrict`, the profile's own drop_frames/keep_frames (with the selection's
    ``drop_frames``, as pprof prunes every profile it loads), then pprof's focus (keep
    samples with a matching frame), ignore (drop them) and hide (merge matching frames into
    their callers) as profile rewrites: the whole selection, in the report pipeline's order
    (:mod:`profilelab.ops.pipeline`), for consumers other than pprof's reports (views,
    analyses, SQL, writers).

    The filters with pprof's location-exact semantics (``show``, ``show_from``,
    ``prune_from``, ``tagfocus``, ``tagignore``) are report-only: QueryError names them."""
    unsupported = [name for name in REPORT_ONLY if getattr(selection, name)]
    if unsupported:
        raise QueryError(
            f"{consumer} cannot apply {', '.join(unsupported)} (pprof report filters only); "
            "use --labels or a transform"
        )
    profile = restrict(profile, selection)
    if selection.drop_frames:  # computed by ops, above this layer (the model's seam)
        profile = reporting().pruned(profile)
    if selection.focus:
        profile = transforms.keep_function(profile, selection.focus)
    if selection.ignore:
        profile = transforms.drop_function(profile, selection.ignore)
    if selection.hide:
        profile = transforms.merge_function(profile, selection.hide)
    return profile
