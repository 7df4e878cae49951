"""Timestamped synthetic profiles for the timeline tests (several threads, known times)."""

from __future__ import annotations

import numpy as np

from profilelab.model.profile import Profile
from profilelab.model.raw import RawProfile
from tests._synth import build, raw_from_stacks

T0 = 1_700_000_000_000_000_000
STEP = 10_000_000  # 10 ms between samples

#: (thread, stack root first) per sample, in time order; values grow with the position.
PATTERN = [
    ("main", ["main", "serve", "parse"]),
    ("main", ["main", "serve", "parse"]),
    ("worker-1", ["worker", "compress"]),
    ("main", ["main", "serve", "render"]),
    ("worker-2", ["worker", "hash"]),
    ("main", ["main", "idle"]),
    ("worker-1", ["worker", "compress"]),
    ("gc", ["gc", "mark"]),
]


def timed_profile(repeat: int = 5, timed: bool = True) -> Profile:
    """``len(PATTERN) * repeat`` samples, one every STEP ns, labelled ``thread.name``."""
    return build([timed_raw(repeat, timed)])


def timed_raw(repeat: int = 5, timed: bool = True) -> RawProfile:
    """The raw profile of :func:`timed_profile`."""
    rows = PATTERN * repeat
    raw = raw_from_stacks(
        [s for _, s in rows],
        [1 + (i % 7) for i in range(len(rows))],
        sample_labels=[{"thread.name": t} for t, _ in rows],
        time_ns=T0,
    )
    if timed:
        raw.sample_time_ns = T0 + STEP * np.arange(len(rows), dtype=np.int64)
        raw.sample_time_valid = np.ones(len(rows), dtype=bool)
    return raw
