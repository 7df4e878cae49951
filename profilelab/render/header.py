"""The header lines of pprof's text reports (File, Build ID, comments, Type, Time, Duration).

Times print in the local time zone as Go does (``Jan 2, 2006 at 3:04pm (MST)``); run with
``TZ=UTC`` to compare with pprof byte for byte.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from profilelab.core import measurement
from profilelab.ops import samples as samples_mod
from profilelab.ops.frames import go_base
from profilelab.ops.pipeline import Prepared

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ValueFormatter:
    """pprof's rpt.formatValue: a sample value in the output unit (``minimum`` = auto)."""

    def __init__(self, sample_unit: str, output_unit: str) -> None:
        self.sample_unit = sample_unit
        self.output_unit = output_unit

    def __call__(self, value: int) -> str:
        return measurement.scaled_label(value, self.sample_unit, self.output_unit)

    def select_unit(
        self, values: list[tuple[int, int]], total: int, *, scale_min: bool = True
    ) -> None:
        """pprof's selectOutputUnit for ``minimum``: from the shown (flat, cum) values.

        ``scale_min=False`` (callgrind, integers only) never lets the smallest value drop
        below 1 in the chosen unit."""
        if self.output_unit != "minimum" or not values:
            return
        min_value = 0
        for flat, cum in values:
            v = abs(flat) or abs(cum)
            if v > 0 and (min_value == 0 or v < min_value):
                min_value = v
        max_value = total
        if min_value == 0:
            min_value = max_value
        _, min_unit = measurement.scale(min_value, self.sample_unit, "minimum")
        _, max_unit = measurement.scale(max_value, self.sample_unit, "minimum")
        unit = min_unit
        if min_unit != max_unit and min_value * 100 < max_value and scale_min:
            _, unit = measurement.scale(100 * min_value, self.sample_unit, "minimum")
        self.output_unit = unit or self.sample_unit


def go_time(ns: int) -> str:
    """Go's ``Jan 2, 2006 at 3:04pm (MST)`` in the local time zone."""
    t = dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC).astimezone()
    hour = t.hour % 12 or 12
    ampm = "pm" if t.hour >= 12 else "am"
    return f"{_MONTHS[t.month - 1]} {t.day}, {t.year} at {hour}:{t.minute:02d}{ampm} ({t.tzname()})"


def profile_labels(prepared: Prepared, fmt: Callable[[int], str]) -> list[str]:
    """pprof's ProfileLabels for the report."""
    out: list[str] = []
    main = prepared.main
    if main is not None:
        if main.file:
            out.append("File: " + go_base(main.file))
        if main.build_id:
            out.append("Build ID: " + main.build_id)
    srcs = samples_mod.sources(prepared.profile)
    base = prepared.options.base
    if base is not None:
        srcs = pl.concat([srcs, samples_mod.sources(base)], how="vertical_relaxed")
    per_input = srcs.unique("source_id", keep="first", maintain_order=True)
    comments: list[str] = []
    for cs in per_input["comments"].to_list():
        comments.extend(c for c in cs or [] if c not in comments)
    out.extend(c for c in comments if not c.startswith("#"))
    stype = prepared.sample_type.type
    if prepared.options.mean:
        stype = "mean_" + stype
    if stype:
        out.append("Type: " + stype)
    times = [t for t in per_input["time_ns"].to_list() if t]
    if times:
        out.append("Time: " + go_time(min(times)))
    duration = sum(d or 0 for d in per_input["duration_ns"].to_list())
    if duration:
        total = prepared.total
        nanos, unit = measurement.scale(total, prepared.sample_type.unit, "nanoseconds")
        ratio = ""
        if unit == "ns" and nanos != 0:
            ratio = "(" + measurement.percentage(int(nanos), duration) + ")"
        out.append(
            f"Duration: {measurement.label(duration, 'nanoseconds')}, "
            f"Total samples = {fmt(total)} {ratio}"
        )
    return out


def legend(
    prepared: Prepared,
    fmt: Callable[[int], str],
    shown_flat: int,
    *,
    orig_count: int,
    shown_count: int,
    dropped: int,
    nodefraction: float,
    dropped_edges: int = 0,
    edgefraction: float = 0.0,
    full: bool = False,
) -> list[str]:
    """pprof's reportLabels: profile labels, active filters and the "Showing ..." lines.

    ``full`` (pprof's fullHeaders, for drawings) always shows the profile lines.
    """
    compact = prepared.options.compact_labels and not full
    out = [] if compact else profile_labels(prepared, fmt)
    filters = prepared.options.active_filters()
    if filters:
        out.append("Active filters:")
        out.extend("   " + (f[:80] + "…" if len(f) > 80 else f) for f in filters)
    total = prepared.total
    pct = measurement.percentage(shown_flat, total).strip()
    out.append(f"Showing nodes accounting for {fmt(shown_flat)}, {pct} of {fmt(total)} total")
    if total != 0:
        if dropped > 0:
            s = "s" if dropped > 1 else ""
            cut = abs(int(float(total) * nodefraction))
            out.append(f"Dropped {dropped} node{s} (cum <= {fmt(cut)})")
        if dropped_edges > 0:
            s = "s" if dropped_edges > 1 else ""
            cut = abs(int(float(total) * edgefraction))
            out.append(f"Dropped {dropped_edges} edge{s} (freq <= {fmt(cut)})")
        if 0 < shown_count < orig_count:
            out.append(f"Showing top {shown_count} nodes out of {orig_count}")
    return out
