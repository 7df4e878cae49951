"""The store takes each input on its own: long labels, concurrent creation, relabelling."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from store_util import make_profiles

import profilelab
from profilelab.cli import main
from profilelab.store import layout
from profilelab.store.store import Store

LONG_VALUES = {
    "ascii": "s" * 10_000,
    "accents": "é" * 200,
    "emoji": "\U0001f525" * 70,
    "escapes": "/:" * 200,
}


@pytest.mark.parametrize("kind", sorted(LONG_VALUES))
def test_long_label_values_are_stored_faithfully(tmp_path: Path, kind: str) -> None:
    value = LONG_VALUES[kind]
    made = make_profiles(tmp_path / "in", 4)
    st = profilelab.open_store(tmp_path / "s")
    good = st.ingest([m.path for m in made[:3]], batch_size=10)
    assert good.ok and good.stored == 3
    report = st.ingest([made[3].path], labels={"service": value, "team": value})
    assert report.ok and report.stored == 1, report.failed
    rows = st.profiles(f'cpu{{service="{value}"}}')
    assert rows.height == 1
    labels = {kv["key"]: kv["value"] for kv in rows["labels"][0]}
    assert labels["team"] == value and rows["service"][0] == value
    # the directory name is bounded, distinct per value, and names no partial escape
    part = rows["samples_file"][0].split("/")[2]
    assert part.startswith("service=") and len(part.encode()) < 200
    assert "~" in part and not part.split("~")[0].endswith("%")
    assert st.query(f'cpu{{service="{value}"}}').samples["value"].sum() == made[3].cpu_total
    assert st.profiles().height == 8


def test_partition_names_keep_short_values_and_separate_long_ones() -> None:
    assert layout.escape_partition("order:v1") == "order%3Av1"
    a, b = layout.escape_partition("x" * 300), layout.escape_partition("x" * 299 + "y")
    assert a != b and a[:100] == b[:100]
    assert "\ud800" not in layout.escape_partition("bad\ud800value")


def test_a_batch_that_cannot_commit_is_stored_input_by_input(tmp_path: Path, monkeypatch) -> None:
    """One input the store refuses fails alone; the rest of its batch is stored."""
    made = make_profiles(tmp_path / "in", 5)
    st = profilelab.open_store(tmp_path / "s")
    real = Store.write
    bad = made[2].input_id

    def write(self, items):  # type: ignore[no-untyped-def]
        if any(i.input_id == bad for i in items):
            raise OSError(36, "File name too long")
        return real(self, items)

    monkeypatch.setattr(Store, "write", write)
    report = st.ingest([m.path for m in made], batch_size=10)
    assert report.stored == 4
    assert [(p, r) for p, r in report.failed] == [
        (str(made[2].path), "cannot store: [Errno 36] File name too long")
    ]


def test_two_processes_creating_one_store_both_succeed(tmp_path: Path) -> None:
    """Creation races (two ingests starting on a new store) end in one store, 100 of 100."""
    for round_ in range(100):
        path = tmp_path / f"s{round_}"
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def create(p: Path = path, b: threading.Barrier = barrier, out: list = errors) -> None:
            b.wait()
            try:
                Store(p)
            except BaseException as exc:
                out.append(exc)

        threads = [threading.Thread(target=create) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, f"round {round_}: {errors[0]}"
        assert (path / layout.MARKER).is_file()


def test_a_marker_renamed_in_by_another_creator_is_not_foreign(tmp_path: Path) -> None:
    """The window of the race above: this creator found no marker, the other then renamed
    its marker into place; the directory (lock + marker) is a store being created."""
    other = Store(tmp_path / "s")  # leaves the lock file and the marker
    assert {p.name for p in other.root.iterdir()} >= {layout.LOCK, layout.MARKER}
    late = Store.__new__(Store)
    late.root = other.root
    late._refuse_foreign()  # raised "exists and is not a profilelab store" before


def test_reingest_with_other_labels_says_what_it_kept(tmp_path: Path, capsys) -> None:
    made = make_profiles(tmp_path / "in", 2)
    store = str(tmp_path / "s")
    paths = [str(m.path) for m in made]
    assert main(["ingest", "-q", "--store", store, "--label", "env=prod", *paths]) == 0
    capsys.readouterr()
    assert main(["ingest", "--store", store, "--label", "env=dev", *paths]) == 0
    err = capsys.readouterr().err
    assert f"kept {paths[0]} as stored: env='prod' not 'dev'" in err
    assert "2 already present (2 of them under other labels, kept as stored)" in err
    assert "to relabel them, ingest them into a new store" in err
    # the same labels again: silently present, nothing to explain
    assert main(["ingest", "--store", store, "--label", "env=prod", *paths]) == 0
    err = capsys.readouterr().err
    assert "kept" not in err.replace("kept as stored", "") and "2 already present," in err
