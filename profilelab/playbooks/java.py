"""A Java service recorded with JFR: where its CPU goes, and what it keeps alive.

One recording answers both questions, because Java Flight Recorder samples several things
at once (see :mod:`profilelab.readers.jfr`):

1. **CPU**: :func:`~profilelab.playbooks.cpu.hot_path` follows the widest tower of the
   ``cpu`` flame graph while a child holds at least half of its parent; the hotspot is the
   deepest application frame on it (the JVM launcher and the request loop above it are
   the path every request takes).
2. **Leak**: live-object samples (``jdk.OldObjectSample``: objects still reachable after a
   GC, ``live/count``) and allocation samples (``alloc_sample_bytes``) are attributed to
   the allocating function (the leaf frame). The leak is the function with the largest
   share of the live samples; it is a leak rather than a busy allocator when its live share
   is far above its allocation share (it keeps what it allocates), while the biggest
   allocator's garbage dies young (a small live share).
"""

from __future__ import annotations

import polars as pl

from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.playbooks._finding import Finding, pct
from profilelab.playbooks.cpu import hot_path
from profilelab.views import Selection

QUESTION = "Where does the Java service spend its CPU, and what keeps its heap growing?"


def java_hotspot_and_leak(p: Profile, *, app: str) -> Finding:
    """The CPU hotspot and the leaking allocation site of a JFR-recorded service.

    ``app`` is the prefix of the application's frame names (its class or package, e.g.
    ``JavaService`` or ``com/example/``), which separates its code from the JDK's.
    """
    cpu = Selection(p, "cpu")
    path = hot_path(cpu, min_fraction=0.5)
    mine = [step for step in path if step.name.startswith(app)]
    if not mine:
        raise QueryError(f"no frame of {app!r} on the hot path of the CPU samples")
    hotspot = mine[-1]
    shares = _site_shares(p).filter(pl.col("name").str.starts_with(app))
    if shares.is_empty() or shares["live_share"].max() == 0:
        raise QueryError(f"no live-object samples in frames of {app!r}")
    leak = shares.sort("live_share", descending=True).row(0, named=True)
    allocator = shares.sort("alloc_share", descending=True).row(0, named=True)
    headline = (
        f"{hotspot.name} is on {pct(hotspot.share)} of the CPU samples; "
        f"{leak['name']} holds {pct(leak['live_share'])} of the live objects "
        f"but makes {pct(leak['alloc_share'])} of the allocated bytes"
    )
    details = (
        "hot path: " + " → ".join(f"{s.name} ({pct(s.share)})" for s in mine),
        f"the biggest allocator, {allocator['name']} ({pct(allocator['alloc_share'])} of the "
        f"bytes), holds {pct(allocator['live_share'])} of the live objects: garbage, not a leak",
    )
    facts = {
        "hotspot": hotspot.name,
        "hotspot_share": hotspot.share,
        "leak": leak["name"],
        "leak_live_share": leak["live_share"],
        "leak_alloc_share": leak["alloc_share"],
        "allocator": allocator["name"],
        "allocator_alloc_share": allocator["alloc_share"],
        "allocator_live_share": allocator["live_share"],
        "cpu_total": cpu.total,
    }
    return Finding("07-java-jfr", QUESTION, headline, facts, details, {"sites": shares})


def _site_shares(p: Profile) -> pl.DataFrame:
    """Per allocating function (leaf frame): share of live samples and of allocated bytes."""
    parts = []
    for sample_type, column in (("live", "live_share"), ("alloc_sample_bytes", "alloc_share")):
        sel = Selection(p, sample_type)
        top = sel.top().select("name", (pl.col("self") / max(sel.total, 1)).alias(column))
        parts.append(top.filter(pl.col(column) > 0))
    return (
        parts[0]
        .join(parts[1], on="name", how="full", coalesce=True)
        .fill_null(0.0)
        .sort("live_share", "alloc_share", descending=True)
    )
