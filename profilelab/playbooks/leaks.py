"""Leaks: what keeps growing across a series of heap or goroutine snapshots.

Both findings rest on :func:`profilelab.analysis.growth` (a Theil-Sen slope per key with the
Spearman correlation as the fit quality; see ``docs/analysis.md``). A memory leak is found
per function at the allocation site (``flat`` in-use bytes); a goroutine leak per stack,
named by its innermost frame outside the Go runtime (where the goroutine's own code waits).
"""

from __future__ import annotations

import polars as pl

from profilelab.analysis import _select, growth, key_totals, name_stacks
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.playbooks._finding import Finding, amount

MEMORY_QUESTION = "Is the service leaking memory, and which code holds on to it?"
GOROUTINE_QUESTION = "Are goroutines leaking, and where are they stuck?"


def memory_leak(p: Profile, *, sample_type: str = "inuse_space") -> Finding:
    """The function whose in-use memory grows fastest, against the biggest allocator."""
    result = growth(p, key="function", sample_type=sample_type)
    unit = _unit(p, sample_type)
    span_s = _span_seconds(p, sample_type)
    growing = result.filter(pl.col("growing"))
    if growing.is_empty():
        headline = f"nothing grows: no function's {sample_type} rises steadily over {span_s:.0f} s"
        return Finding("02-memory-leak", MEMORY_QUESTION, headline, {"leak": None}, (), {})
    top = growing.row(0, named=True)
    headline = (
        f"{top['key']} holds {amount(top['last'], unit)} of {sample_type} in the last snapshot, "
        f"up from {amount(top['first'], unit)} {span_s:.1f} s earlier "
        f"(+{amount(top['slope_per_hour'], unit)}/hour, Spearman {top['corr']:.2f})"
    )
    details = [
        f"also growing: {row['key']} (+{amount(row['slope_per_hour'], unit)}/hour)"
        for row in growing.slice(1, 3).iter_rows(named=True)
    ]
    facts = {
        "leak": top["key"],
        "first": top["first"],
        "last": top["last"],
        "slope_per_hour": top["slope_per_hour"],
        "corr": top["corr"],
        "seconds": span_s,
        "growing": growing["key"].to_list(),
    }
    control = _biggest_allocator(p)
    if control is not None:
        name, allocated = control
        row = result.filter(pl.col("key") == name)
        grows = bool(row["growing"][0]) if row.height else False
        details.append(
            f"the biggest allocator, {name}, allocated {amount(allocated, 'bytes')} "
            + ("and its in-use memory grows too" if grows else "but its in-use memory stays flat")
        )
        facts.update(biggest_allocator=name, allocator_grows=grows)
    return Finding(
        "02-memory-leak", MEMORY_QUESTION, headline, facts, tuple(details), {"growth": result}
    )


def goroutine_leak(p: Profile, *, sample_type: str = "goroutine") -> Finding:
    """The stack whose goroutine count grows fastest, named by its innermost own frame."""
    result = name_stacks(p, growth(p, key="stack", sample_type=sample_type))
    span_s = _span_seconds(p, sample_type)
    growing = result.filter(pl.col("growing"))
    if growing.is_empty():
        headline = f"no leak: no goroutine stack grows steadily over {span_s:.0f} s"
        return Finding("03-goroutine-leak", GOROUTINE_QUESTION, headline, {"leak": None})
    top = growing.row(0, named=True)
    frames = str(top["stack"]).split(";")
    own, waiting = _split_runtime_tail(frames)
    headline = (
        f"goroutines in {own} grew from {top['first']:.0f} to {top['last']:.0f} "
        f"in {span_s:.1f} s (+{top['slope_per_hour']:,.0f}/hour, Spearman {top['corr']:.2f})"
    )
    details = (
        f"they wait in {' → '.join(waiting) or own}",
        f"stack (root first): {' → '.join(frames)}",
    )
    facts = {
        "leak": own,
        "first": top["first"],
        "last": top["last"],
        "slope_per_hour": top["slope_per_hour"],
        "corr": top["corr"],
        "seconds": span_s,
        "stack": frames,
    }
    return Finding(
        "03-goroutine-leak", GOROUTINE_QUESTION, headline, facts, details, {"growth": result}
    )


def _split_runtime_tail(frames: list[str]) -> tuple[str, list[str]]:
    """(innermost frame outside the runtime, the runtime frames below it)."""
    for i in range(len(frames) - 1, -1, -1):
        if not frames[i].startswith("runtime."):
            return frames[i], frames[i + 1 :]
    return frames[-1], []


def _biggest_allocator(p: Profile) -> tuple[str, float] | None:
    """The function with the most ``alloc_space`` (flat) in the last snapshot, if present."""
    try:
        table = _select.of_type(p, "alloc_space")
    except QueryError:
        return None
    last = table.sort("time_ns").tail(1)["profile_id"]
    totals = key_totals(p, "function", last).sort(["flat", "key"], descending=[True, False])
    if totals.is_empty():
        return None
    return str(totals["key"][0]), float(totals["flat"][0])


def _unit(p: Profile, sample_type: str) -> str:
    units = p.profiles.filter(pl.col("sample_type") == sample_type)["sample_unit"]
    return str(units[0]) if units.len() else ""


def _span_seconds(p: Profile, sample_type: str) -> float:
    times = _select.of_type(p, sample_type)["time_ns"].drop_nulls().to_numpy()
    return float(times.max() - times.min()) / 1e9 if times.size else 0.0
