"""Fleet trends and alerts: watch every function's share over time and flag the ones that jump.

An alert rule as a continuous profiler runs it, on a trend (:func:`profilelab.analysis.trend`
with one row per time step and function):

* the *baseline* of a function is its mean share over the first ``baseline_steps`` steps;
* the alert *fires* at the first later step from which the share stays at least
  ``threshold`` (absolute share, 0.05 = 5 percentage points) **and** ``min_rel_rise``
  (0.5 = 50%) above the baseline for ``persist`` consecutive steps: one noisy step does not
  page anybody, and neither does a function that is always hot and wobbles by a few points
  (Go's ``runtime.asyncPreempt`` on a busy machine, for example).

:func:`fleet_alerts` runs the rule on a fleet's CPU profiles and explains the biggest alert
with the profile labels: which version was running when it fired, and whether every region
shows the rise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from profilelab.analysis import _select, key_totals, trend
from profilelab.analysis._totals import profile_totals
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.playbooks._finding import Finding, pct

QUESTION = "Did something in the fleet get more expensive, when, and where?"


def share_alerts(
    trend_frame: pl.DataFrame,
    *,
    baseline_steps: int = 3,
    threshold: float = 0.05,
    min_rel_rise: float = 0.5,
    persist: int = 2,
) -> pl.DataFrame:
    """Alerts from a trend frame (columns time, key, share): one row per key that fired.

    Columns: key, fired_at (time of the first step of the persistent rise; ``fired_ns`` the
    same in Unix nanoseconds), baseline, share (at that step), peak (highest share after
    it), rise (share - baseline). Sorted by rise, largest first.
    """
    times = trend_frame["time"].unique().sort()
    if times.len() < baseline_steps + persist:
        raise QueryError(
            f"alerts need at least {baseline_steps + persist} time steps, got {times.len()}"
        )
    wide = trend_frame.pivot(on="time", index="key", values="share", sort_columns=True).fill_null(0)
    keys = wide["key"].to_list()
    shares = wide.drop("key").to_numpy().astype(np.float64)
    base = shares[:, :baseline_steps].mean(axis=1)
    after = shares[:, baseline_steps:]
    above = (after - base[:, None] >= threshold) & (after >= (1 + min_rel_rise) * base[:, None])
    # a run of `persist` consecutive steps above: a sliding window sum over the boolean matrix
    windows = np.all(np.lib.stride_tricks.sliding_window_view(above, persist, axis=1), axis=2)
    fired = np.any(windows, axis=1)
    first = np.argmax(windows, axis=1) + baseline_steps
    rows = np.flatnonzero(fired)
    out = pl.DataFrame(
        {
            "key": [keys[i] for i in rows],
            "fired_at": [times[int(first[i])] for i in rows],
            "baseline": base[rows],
            "share": shares[rows, first[rows]],
            "peak": [shares[i, first[i] :].max() for i in rows],
        },
        schema_overrides={"fired_at": times.dtype},
    ).with_columns(
        (pl.col("share") - pl.col("baseline")).alias("rise"),
        pl.col("fired_at").dt.epoch("ns").alias("fired_ns"),
    )
    return out.sort(["rise", "key"], descending=[True, False])


def default_step_ns(p: Profile, sample_type: str | None = None) -> int:
    """A trend step for a fleet: the median profile duration (one profiling window)."""
    durations = _select.of_type(p, sample_type)["duration_ns"].drop_nulls()
    durations = durations.filter(durations > 0)
    if durations.len() == 0:
        raise QueryError("profiles carry no duration: pass an explicit step")
    return int(durations.median())  # type: ignore[arg-type]


def fleet_alerts(
    p: Profile,
    *,
    step: str | int | None = None,
    baseline_steps: int = 3,
    threshold: float = 0.05,
    min_rel_rise: float = 0.5,
    persist: int = 2,
    explain_by: tuple[str, ...] = ("version", "region"),
) -> Finding:
    """Run the alert rule on every function's cum share and explain the biggest alert."""
    step_ns = default_step_ns(p) if step is None else _select.parse_duration_ns(step)
    frame = trend(p, step=step_ns, top=None)
    alerts = share_alerts(
        frame,
        baseline_steps=baseline_steps,
        threshold=threshold,
        min_rel_rise=min_rel_rise,
        persist=persist,
    )
    if alerts.is_empty():
        headline = f"no alert: no function's share rose {pct(threshold)} above its baseline"
        return Finding("06-fleet-trends-and-alerts", QUESTION, headline, {"alerts": 0})
    top = alerts.row(0, named=True)
    fired = top["fired_at"]
    headline = (
        f"alert at {fired:%H:%M:%S}: {top['key']} rose from {pct(top['baseline'])} "
        f"(baseline) to {pct(top['share'])} of fleet CPU ({len(alerts)} functions fired)"
    )
    facts: dict[str, object] = {
        "alerts": alerts.height,
        "function": top["key"],
        "fired_at": fired,
        "fired_ns": top["fired_ns"],
        "baseline": top["baseline"],
        "share": top["share"],
        "step_ns": step_ns,
    }
    details = []
    labels = _select.profile_table(p).columns
    for label in explain_by:
        if label in labels:
            text, values = _explain(p, top["key"], label, top["fired_ns"])
            details.append(text)
            facts[f"by_{label}"] = values
    return Finding(
        "06-fleet-trends-and-alerts",
        QUESTION,
        headline,
        facts,
        tuple(details),
        {"alerts": alerts, "trend": frame},
    )


def _explain(p: Profile, key: str, label: str, fired_ns: int) -> tuple[str, dict[str, Any]]:
    """The key's share per value of ``label`` before and after the alert fired ("–": that
    value had no profiles in the period)."""
    table = _select.of_type(p, None).drop_nulls(label)
    ids = table["profile_id"]
    values = key_totals(p, "function", ids).filter(pl.col("key") == key).select("profile_id", "cum")
    per = (
        profile_totals(p, ids)
        .join(values, on="profile_id", how="left")
        .join(table.select("profile_id", label, "time_ns"), on="profile_id")
        .with_columns((pl.col("time_ns") >= fired_ns).alias("after"))
        .group_by(label, "after")
        .agg((pl.col("cum").fill_null(0).sum() / pl.col("total").sum()).alias("share"))
    )
    shares: dict[str, Any] = {}
    parts = []
    for value in sorted(per[label].unique().to_list()):
        rows = per.filter(pl.col(label) == value)
        pair = [rows.filter(pl.col("after") == a)["share"] for a in (False, True)]
        before, after = (float(s[0]) if s.len() else None for s in pair)
        shares[str(value)] = (before, after)
        parts.append(f"{value} {_opt_pct(before)} → {_opt_pct(after)}")
    return f"{key} by {label}, before → after the alert: " + ", ".join(parts), shares


def _opt_pct(share: float | None) -> str:
    return "–" if share is None else pct(share)
