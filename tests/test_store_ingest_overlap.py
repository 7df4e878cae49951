"""An ingest commits one batch on a thread of its own while it decodes the next."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from store_util import make_profiles

import profilelab
from profilelab.store import ingest
from profilelab.store.store import Store


def test_a_batch_commits_while_the_next_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch's commit waits until the second chunk is being decoded: with the
    commit on the ingesting thread this could not happen (it would time out)."""
    made = make_profiles(tmp_path / "in", 6, samples=10)
    second_decoding = threading.Event()
    decodes: list[int] = []
    commits: list[tuple[str, bool]] = []
    real_decode, real_write = ingest.decode_inputs, Store.write

    def decode(todo, *args, **kwargs):  # type: ignore[no-untyped-def]
        decodes.append(len(todo))
        if len(decodes) == 2:
            second_decoding.set()
        return real_decode(todo, *args, **kwargs)

    def write(self, items):  # type: ignore[no-untyped-def]
        overlapped = second_decoding.wait(timeout=30) if not commits else True
        commits.append((threading.current_thread().name, overlapped))
        return real_write(self, items)

    monkeypatch.setattr(ingest, "decode_inputs", decode)
    monkeypatch.setattr(Store, "write", write)
    st = profilelab.open_store(tmp_path / "s")
    report = st.ingest([m.path for m in made], jobs=1, batch_size=3)
    assert decodes == [3, 3]
    assert [overlapped for _, overlapped in commits] == [True, True]
    assert all(name.startswith("ingest-commit") for name, _ in commits)
    assert report.ok and report.stored == 6 and len(report.segments) == 2
    assert report.samples == 2 * sum(m.samples for m in made)  # two sample types each
    stored = st.profiles()
    assert stored.height == 12 and stored["segment"].unique().sort().to_list() == sorted(
        report.segments
    )


def test_failures_are_reported_in_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit's failure becomes known after the next inputs' decoding failures; the
    report lists them in the order of the inputs all the same."""
    made = make_profiles(tmp_path / "in", 4, samples=10)
    garbage = tmp_path / "in" / "garbage.pb.gz"
    garbage.write_bytes(b"\x1f\x8b\x08\x00garbage")
    refused = made[1].input_id
    real = Store.write

    def write(self, items):  # type: ignore[no-untyped-def]
        if any(i.input_id == refused for i in items):
            raise OSError(28, "No space left on device")
        return real(self, items)

    monkeypatch.setattr(Store, "write", write)
    paths = [made[0].path, made[1].path, garbage, made[2].path, made[3].path]
    report = profilelab.open_store(tmp_path / "s").ingest(paths, jobs=1, batch_size=2)
    assert [source for source, _ in report.failed] == [str(made[1].path), str(garbage)]
    assert report.failed[0][1] == "cannot store: [Errno 28] No space left on device"
    assert report.stored == 3


def test_an_interrupted_ingest_finishes_the_commit_under_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the second chunk decodes: the first batch's commit, under way on its
    thread, completes before the interrupt leaves ``ingest``."""
    made = make_profiles(tmp_path / "in", 6, samples=10)
    interrupted = threading.Event()
    real_decode, real_write = ingest.decode_inputs, Store.write
    decodes: list[int] = []

    def decode(todo, *args, **kwargs):  # type: ignore[no-untyped-def]
        decodes.append(len(todo))
        if len(decodes) == 2:
            interrupted.set()
            raise KeyboardInterrupt
        return real_decode(todo, *args, **kwargs)

    def write(self, items):  # type: ignore[no-untyped-def]
        interrupted.wait(timeout=30)
        time.sleep(0.2)  # still committing when the interrupt reaches ingest's exit
        return real_write(self, items)

    monkeypatch.setattr(ingest, "decode_inputs", decode)
    monkeypatch.setattr(Store, "write", write)
    st = profilelab.open_store(tmp_path / "s")
    with pytest.raises(KeyboardInterrupt):
        st.ingest([m.path for m in made], jobs=1, batch_size=3)
    monkeypatch.setattr(Store, "write", real_write)
    assert sorted(st.profiles()["input_id"].unique().to_list()) == sorted(
        m.input_id for m in made[:3]
    )
    again = st.ingest([m.path for m in made], jobs=1, batch_size=3)
    assert again.stored == 3 and again.skipped == 3


@pytest.mark.parametrize(
    ("inputs", "size"), [(1, 256), (500, 256), (1024, 256), (2000, 500), (10_000, 1024)]
)
def test_a_large_ingest_commits_fewer_larger_batches(inputs: int, size: int) -> None:
    """256 inputs a batch, or a quarter of a large ingest's, up to 1024: fewer commits (a
    commit's fixed costs), and still a batch decoding while one commits."""
    assert ingest.default_batch_size(inputs) == size


def test_a_batch_is_committed_once_it_holds_enough_sample_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However few its inputs, a batch is committed once its tables hold BATCH_SAMPLE_ROWS
    sample rows (they stay in memory until the commit)."""
    made = make_profiles(tmp_path / "in", 7, samples=10)  # 20 sample rows each: two types
    monkeypatch.setattr(ingest, "BATCH_SAMPLE_ROWS", 50)
    report = profilelab.open_store(tmp_path / "s").ingest([m.path for m in made], jobs=1)
    assert report.ok and report.stored == 7
    assert len(report.segments) == 3  # 3 + 3 + 1 inputs
