"""A store keeps the catalog file it has just committed instead of reading it back, and a
fresh process reads the catalog without the heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys
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
    real = catalog.CatalogReader._read

    def spy(self: catalog.CatalogReader, name: str):  # type: ignore[no-untyped-def]
        reads.append(name)
        return real(self, name)

    monkeypatch.setattr(catalog.CatalogReader, "_read", spy)
    for m in made[1:]:
        store.write([Item(profilelab.load(m.path), m.input_id)])
    mine = store.snapshot()
    assert reads == []
    assert mine.input_ids() == {m.input_id for m in made}

    fresh = profilelab.open_store(store.root, create=False).snapshot()
    assert len(reads) == len(fresh.segments) == 3
    assert mine.segments == fresh.segments
    assert mine.catalog.equals(fresh.catalog)


def test_reading_the_catalog_imports_neither_pandas_nor_pyarrow_dataset(tmp_path: Path) -> None:
    store = profilelab.open_store(tmp_path / "store")
    made = make_profiles(tmp_path / "in", 2)
    store.ingest([m.path for m in made])
    code = (
        "import sys, profilelab; "
        f"s = profilelab.open_store({str(store.root)!r}, create=False); "
        "assert s.snapshot().catalog.height == 4; "
        "print(sorted(m for m in ('pandas', 'pyarrow.dataset') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"
