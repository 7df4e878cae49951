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
