"""Join coverage: how many samples found their span, and how many spans found samples.

Samples are counted once per input sample (in the input's default sample type, whose
values are summed in ``value``), whatever the number of sample types. Spans are counted
once each, by the first reason that applies:

* ``has_samples``: samples are attributed to the span itself;
* ``samples_in_children``: none to itself, some to its local descendants;
* ``no_profile_for_service``: the loaded profiles carry service labels and none is its;
* ``outside_profile_window``: no loaded profile's time window overlaps it;
* ``no_samples``: a profile covers it, yet no sample landed on it (the span waited, was
  shorter than the sampling period, or its samples are not labelled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from profilelab.model.profile import Profile
from profilelab.model.spans import Spans
from profilelab.model.spantree import subtree_sums
from profilelab.traces.join import profile_services

MATCHED = ("span_label", "local_root_label", "local_root_fallback", "time")


@dataclass(frozen=True)
class Coverage:
    """Join coverage tables and headline numbers."""

    samples: pl.DataFrame  # outcome, matched, samples, value
    spans: pl.DataFrame  # reason, spans
    labelled_samples: int
    matched_samples: int
    total_spans: int
    spans_with_samples: int  # itself or its local descendants
    time_outside_samples: int  # timed samples outside their labelled span (skew, stale label)

    @property
    def sample_ratio(self) -> float:
        """Matched labelled samples / labelled samples (1.0 when nothing is labelled)."""
        return self.matched_samples / self.labelled_samples if self.labelled_samples else 1.0

    def summary(self) -> str:
        """Two lines for people: samples matched, spans with samples, and the misses."""
        misses = ", ".join(
            f"{o} {n}"
            for o, m, n in self.samples.select("outcome", "matched", "samples").iter_rows()
            if not m and o != "unlabelled"
        )
        idle = ", ".join(f"{r} {n}" for r, n in self.spans.iter_rows() if r not in ("has_samples",))
        skew = (
            f"; {self.time_outside_samples} timed outside their labelled span"
            if self.time_outside_samples
            else ""
        )
        return (
            f"samples: {self.matched_samples}/{self.labelled_samples} labelled samples matched "
            f"a span ({100 * self.sample_ratio:.1f}%){'; missed: ' + misses if misses else ''}"
            f"{skew}\n"
            f"spans: {self.spans_with_samples}/{self.total_spans} have samples (self or local "
            f"children){'; ' + idle if idle else ''}"
        )


def coverage(
    profile: Profile, spans: Spans, attribution: pl.DataFrame, self_counts: np.ndarray
) -> Coverage:
    """Coverage of a join; ``self_counts[r]`` = samples attributed to span row ``r``."""
    default = profile.profiles.filter(pl.col("is_default")).select("profile_id")
    rows = attribution.join(default, on="profile_id").join(
        profile.samples.select("profile_id", "sample_index", "value"),
        on=["profile_id", "sample_index"],
    )
    outcome = pl.coalesce("method", "miss")
    samples = (
        rows.group_by(outcome.alias("outcome"))
        .agg(pl.len().alias("samples"), pl.col("value").sum().alias("value"))
        .with_columns(pl.col("outcome").is_in(list(MATCHED)).alias("matched"))
        .select("outcome", "matched", "samples", "value")
        .sort(["matched", "samples"], descending=True)
    )
    labelled = int(samples.filter(pl.col("outcome") != "unlabelled")["samples"].sum())
    matched = int(samples.filter(pl.col("matched"))["samples"].sum())
    reasons = _span_reasons(profile, spans, self_counts)
    span_table = (
        pl.DataFrame({"reason": reasons}).group_by("reason").agg(pl.len().alias("spans"))
    ).sort("spans", descending=True)
    with_samples = int(np.isin(reasons, ["has_samples", "samples_in_children"]).sum())
    outside = int(rows["time_outside"].sum())
    return Coverage(
        samples, span_table, labelled, matched, spans.spans.height, with_samples, outside
    )


def _span_reasons(profile: Profile, spans: Spans, self_counts: np.ndarray) -> np.ndarray:
    nodes = spans.nodes
    local = subtree_sums(self_counts, nodes["lpre"].to_numpy(), nodes["lpost"].to_numpy())
    services = profile_services(profile)["service"].drop_nulls().unique().to_list()
    other_service = (
        (~nodes["service"].is_in(services)).fill_null(True).to_numpy()
        if services
        else np.zeros(nodes.height, dtype=bool)
    )
    outside = ~_overlaps_a_profile(profile, nodes)
    return np.select(
        [self_counts > 0, local > 0, other_service, outside],
        ["has_samples", "samples_in_children", "no_profile_for_service", "outside_profile_window"],
        default="no_samples",
    )


def _overlaps_a_profile(profile: Profile, nodes: pl.DataFrame) -> np.ndarray:
    """Per span: does some profile's [time_ns, time_ns + duration_ns] overlap it?

    A profile without a time window is taken to cover every span.
    """
    windows = profile.profiles.select("time_ns", "duration_ns").unique()
    start = nodes["start_ns"].fill_null(0).to_numpy()
    end = nodes["end_ns"].fill_null(0).to_numpy()
    hit = np.zeros(nodes.height, dtype=bool)
    for t0, dur in windows.iter_rows():  # few profiles, vectorized over spans
        if t0 is None or dur is None:
            return np.ones(nodes.height, dtype=bool)
        hit |= (start <= t0 + dur) & (end >= t0)
    return hit
