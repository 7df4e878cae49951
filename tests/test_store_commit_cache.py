"""A store keeps the catalog file it has just committed instead of reading it back."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_util import make_profiles

import profilelab
from profilelab.store import catalog
from profilelab.store.prepare import Item


def test_own_commit_is_not_read_back_and_matches_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = profilelab.open_store(tmp_path / "store")
    made = make_profiles(tmp_path / "in", 3)
    store.write([Item(profilelab.load(made[0].path), made[0].input_id)])
    store.snapshot()

    reads: list[str] = []
    real = catalog.pq.read_table
    monkeypatch.setattr(catalog.pq, "read_table", lambda p, *a, **k: reads.append(p) or real(p))
    for m in made[1:]:
        store.write([Item(profilelab.load(m.path), m.input_id)])
    mine = store.snapshot()
    assert reads == []
    assert mine.input_ids() == {m.input_id for m in made}

    fresh = profilelab.open_store(store.root, create=False).snapshot()
    assert len(reads) == len(fresh.segments) == 3
    assert mine.segments == fresh.segments
    assert mine.catalog.equals(fresh.catalog)
