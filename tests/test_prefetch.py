"""Inputs opened in the background (readers.prefetch): the command line starts reading and
gunzipping its files before it imports Polars, NumPy and Arrow, and loads them afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import profilelab
from profilelab.errors import FormatError
from profilelab.readers import prefetch

ROOT = Path(__file__).resolve().parent.parent
GOROUTINES = ROOT / "datasets" / "goroutine-leak" / "fixed"


def test_prefetched_inputs_load_as_the_files_do() -> None:
    files = [GOROUTINES / "goroutine-01.pb.gz", GOROUTINES / "goroutine-02.pb.gz"]
    direct = profilelab.load(files)
    fetched = profilelab.load(prefetch(files))
    for (name, want), (_, got) in zip(direct.tables(), fetched.tables(), strict=True):
        assert got.equals(want), name
    one = profilelab.load(prefetch([files[0]])[0])
    assert one.profiles["source"].to_list() == [str(files[0])]


def test_a_prefetch_error_is_raised_by_load(tmp_path: Path) -> None:
    (tmp_path / "empty.pb").write_bytes(b"")
    inputs = prefetch([tmp_path / "missing.pb.gz", tmp_path / "empty.pb"])
    with pytest.raises(FormatError, match=r"missing\.pb\.gz: no such file$"):
        profilelab.load(inputs[0])
    with pytest.raises(FormatError, match=r"empty\.pb: empty input$"):
        profilelab.load(inputs[1])


def test_the_readers_package_imports_no_numpy() -> None:
    # what lets the command line start a prefetch before the heavy imports
    code = "import sys, profilelab.readers; print('numpy' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.split() == ["False", "False"]


def test_report_commands_read_their_files_in_the_background(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from profilelab.cli import _report, main

    seen: list[list[str]] = []

    def spy(files: list[str]) -> list[object]:
        seen.append(list(files))
        return prefetch(files)  # type: ignore[return-value]

    monkeypatch.setattr(_report, "prefetch", spy)
    path = str(GOROUTINES / "goroutine-01.pb.gz")
    for argv in (
        ["top", path],
        ["peek", "main", path],
        ["tags", path],
        ["traces", path],
        ["graph", "--format", "tree", path],
    ):
        assert main(argv) == 0
    assert seen == [[path]] * 5
    assert "flat%" in capsys.readouterr().out


@pytest.mark.parametrize("threshold", [0, 1 << 40])
def test_content_id_is_the_same_whether_hashed_beside_the_decode_or_after(
    threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profilelab.model.ids import digest_bytes
    from profilelab.readers import pprof

    monkeypatch.setattr(pprof, "PARALLEL_DIGEST_BYTES", threshold)
    data = (GOROUTINES / "goroutine-01.pb.gz").read_bytes()
    p = profilelab.load(data)
    assert p.profiles["source_id"].unique().to_list() == [digest_bytes(data)]
