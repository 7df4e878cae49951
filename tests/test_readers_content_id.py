"""A content id the caller already has (a store's ingest hashes every file it reads) is the
one the readers give their profiles, instead of hashing the bytes a second time."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_util import make_profiles

from profilelab.model.ids import digest_bytes
from profilelab.readers import read
from profilelab.store._decode import Pending, read_each

FOLDED = b"main;work;leaf 3\nmain;idle 1\n"


@pytest.fixture
def pprof_gz(tmp_path: Path) -> bytes:
    return make_profiles(tmp_path, 1)[0].path.read_bytes()


@pytest.mark.parametrize("kind", ["pprof", "folded"])
def test_a_given_content_id_is_the_source_id(kind: str, pprof_gz: bytes) -> None:
    data = pprof_gz if kind == "pprof" else FOLDED
    hashed = read(data, "in")
    assert [r.source_id for r in hashed] == [digest_bytes(data)]
    given = read(data, "in", raw_id=digest_bytes(data) ^ 1)  # a value only the caller knows
    assert [r.source_id for r in given] == [digest_bytes(data) ^ 1]


def test_ingest_reads_with_the_id_it_hashed(pprof_gz: bytes) -> None:
    (raws,) = read_each([Pending("in.pb.gz", pprof_gz, 12345, 0)])
    assert not isinstance(raws, str)
    assert [r.source_id for r in raws] == [12345]


@pytest.mark.parametrize("kind", ["pprof", "folded"])
def test_a_big_inputs_content_id_is_hashed_beside_its_decoding(
    kind: str, pprof_gz: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From HASH_BESIDE_BYTES on, the id is hashed on a thread of its own while the reader
    decodes (blake2b lets go of the GIL), once, and is the same id; an id the caller gives
    starts no thread."""
    import threading

    from profilelab.model import ids
    from profilelab.readers import _input

    data = pprof_gz if kind == "pprof" else FOLDED
    threads: list[str] = []

    def digest(raw):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return digest_bytes(raw)

    monkeypatch.setattr(ids, "digest_bytes", digest)
    monkeypatch.setattr(_input, "HASH_BESIDE_BYTES", len(data))
    assert [r.source_id for r in read(data, "in")] == [digest_bytes(data)]
    assert threads == ["content-id"]
    assert [r.source_id for r in read(data, "in", raw_id=7)] == [7]
    monkeypatch.setattr(_input, "HASH_BESIDE_BYTES", len(data) + 1)
    assert [r.source_id for r in read(data, "in")] == [digest_bytes(data)]
    assert threads == ["content-id", "MainThread"]


def test_a_failed_hash_beside_is_raised_where_the_id_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from profilelab.model import ids
    from profilelab.readers._input import Input

    def failing(raw):  # type: ignore[no-untyped-def]
        raise MemoryError("no room")

    monkeypatch.setattr(ids, "digest_bytes", failing)
    monkeypatch.setattr("profilelab.readers._input.HASH_BESIDE_BYTES", 1)
    inp = Input("in", b"data", b"data")
    inp.hash_beside()
    with pytest.raises(MemoryError, match="no room"):
        inp.content_id()
