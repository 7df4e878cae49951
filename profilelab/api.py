"""The public entry points: load inputs into a Profile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from profilelab.errors import ProfileLabError
from profilelab.model import builder, schema
from profilelab.model.profile import Profile
from profilelab.readers import Prefetched, Source, read
from profilelab.readers._overflow import check_merged_sums


def load(
    source: Source | Prefetched | Iterable[Source | Prefetched],
    labels: Mapping[str, str] | None = None,
    *,
    name: str | None = None,
) -> Profile:
    """Load one input (path, bytes, file object) or several (merged, as ``go tool pprof a b``).

    ``labels`` are added to every loaded profile's labels (for example service and version).
    Errors are :class:`~profilelab.errors.FormatError` naming the input and the problem.
    """
    sources = _as_list(source)
    raws = []
    for src in sources:
        try:
            raws.extend(read(src, name if len(sources) == 1 else None))
        except ProfileLabError:
            raise
    if len(sources) > 1:
        check_merged_sums(raws)
    profile = builder.build(raws)
    if labels:
        profile = add_profile_labels(profile, labels)
    return profile


def _as_list(
    source: Source | Prefetched | Iterable[Source | Prefetched],
) -> list[Source | Prefetched]:
    if isinstance(source, str | bytes | bytearray | memoryview | Prefetched):
        return [source]
    if hasattr(source, "read"):
        return [source]  # type: ignore[list-item]
    if hasattr(source, "__fspath__"):
        return [source]  # type: ignore[list-item]
    return list(source)  # type: ignore[arg-type]


def add_profile_labels(profile: Profile, labels: Mapping[str, str]) -> Profile:
    """Set profile-level labels (replacing keys already present) on every profile."""
    extra = [{"key": k, "value": str(v)} for k, v in labels.items()]
    keys = set(labels)
    profiles = profile.profiles.with_columns(
        pl.col("labels")
        .list.eval(pl.element().filter(~pl.element().struct.field("key").is_in(list(keys))))
        .list.concat(pl.lit(extra, dtype=schema.PROFILE_LABELS))
        .alias("labels")
    )
    return profile.replace(profiles=profiles)
