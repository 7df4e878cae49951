"""How many worker processes an ingest uses by default: only CPUs that are free."""

from __future__ import annotations

import os

import pytest

from profilelab.store import ingest


@pytest.mark.parametrize(
    ("cpus", "load", "expected"),
    [
        (2, 0.1, 1),  # two CPUs and nearly idle: one free CPU besides the ingest's
        (4, 0.0, 4),
        (8, 0.5, 4),  # at most 4
        (4, 1.5, 2),
        (4, 2.5, 1),  # one CPU free: decoding in this process beats shipping tables
        (2, 9.0, 1),  # a busy machine
    ],
)
def test_default_jobs_counts_free_cpus(
    monkeypatch: pytest.MonkeyPatch, cpus: int, load: float, expected: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert ingest.default_jobs() == expected


def test_default_jobs_without_a_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert ingest.default_jobs() == 3
