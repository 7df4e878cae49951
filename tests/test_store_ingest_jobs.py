"""How many worker processes an ingest uses by default: only CPUs that are free."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from store_util import make_profiles

import profilelab
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


def test_in_process_ingest_builds_each_batch_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decoding in this process, the inputs of a batch are built into tables together:
    one build per commit, not one per small chunk."""
    from profilelab.model import builder

    made = make_profiles(tmp_path / "in", 9, samples=10)
    calls: list[int] = []
    real = builder.build

    def counting(raws, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(raws))
        return real(raws, *args, **kwargs)

    monkeypatch.setattr(builder, "build", counting)
    report = profilelab.open_store(tmp_path / "s").ingest(
        [m.path for m in made], jobs=1, batch_size=3
    )
    assert report.ok and report.stored == 9 and len(report.segments) == 3
    assert calls == [3, 3, 3]
