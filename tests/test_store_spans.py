"""Spans in the store: committed like profiles, read back for joins, kept and retained."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from store_util import MINUTE, T0, make_profiles

import profilelab
from profilelab.model import schema


def _spans(start_ns: int, n: int, service: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "trace_id": [f"{i + 1:032x}" for i in range(n)],
            "span_id": [f"{start_ns % 997 + i + 1:016x}" for i in range(n)],
            "name": ["GET /x"] * n,
            "service": [service] * n,
            "start_ns": [start_ns + i * 1000 for i in range(n)],
            "end_ns": [start_ns + i * 1000 + 500 for i in range(n)],
        }
    ).pipe(lambda df: schema.conform("spans", df))


def test_spans_commit_read_compact_and_retain(tmp_path: Path) -> None:
    st = profilelab.open_store(tmp_path / "s")
    made = make_profiles(tmp_path / "in", 4, step_ns=60 * MINUTE)  # one per hour from T0
    assert st.ingest([m.path for m in made], batch_size=1).stored == 4
    assert st.write_spans(_spans(T0, 5, "old")) is not None
    assert st.write_spans(_spans(T0 + 3 * 60 * MINUTE, 3, "new")) is not None
    assert st.write_spans(_spans(T0, 0, "none")) is None
    assert st.spans().spans.height == 8
    assert set(st.spans(start=T0 + 60 * MINUTE).spans["service"]) == {"new"}
    assert set(st.spans(end=T0 + 60 * MINUTE).spans["service"]) == {"old"}

    st.compact(full=True)  # span files survive a rewrite of every segment
    assert st.spans().spans.height == 8 and st.profiles().height == 8

    report = st.retain(before=T0 + 2 * 60 * MINUTE)
    assert report.span_files_dropped == 1 and report.profiles_dropped == 4
    assert set(st.spans().spans["service"]) == {"new"}
    assert st.profiles().height == 4  # two inputs x two sample types left
    again = profilelab.open_store(tmp_path / "s", create=False)
    assert again.spans().spans.height == 3
