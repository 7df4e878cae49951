"""``profilelab convert``: format from --to or the suffix, selection, stdout, diffs, errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import profilelab
from profilelab.cli import main
from tests._pprof_tools import ROOT, go_pprof, top

SAMPLE_CPU = "google-pprof/internal/report/testdata/sample.cpu"
HEAP = "grafana-pyroscope/pkg/og/convert/pprof/testdata/heap.pb.gz"


def test_format_follows_the_output_suffix(corpus: Path, tmp_path: Path) -> None:
    src = corpus / SAMPLE_CPU
    for name, fmt in [
        ("out.pb.gz", "pprof"),
        ("out.folded", "folded"),
        ("out.speedscope.json", "speedscope"),
    ]:
        assert main(["convert", str(src), str(tmp_path / name)]) == 0
        assert profilelab.load(tmp_path / name).profiles["format"][0] == fmt
    folded = profilelab.load(tmp_path / "out.folded")
    assert top(folded) == top(profilelab.load(src))


def test_to_overrides_the_suffix_and_sample_index_selects(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "heap.txt"
    assert (
        main(
            [
                "convert",
                str(corpus / HEAP),
                str(out),
                "--to",
                "folded",
                "--sample-index",
                "alloc_space",
            ]
        )
        == 0
    )
    heap = profilelab.load(corpus / HEAP)
    assert top(profilelab.load(out)) == top(heap, "alloc_space")
    out = tmp_path / "one.pb.gz"
    assert main(["convert", str(corpus / HEAP), str(out), "--sample-index", "1"]) == 0
    assert profilelab.load(out).profiles["sample_type"].to_list() == ["alloc_space"]


def test_legacy_input_to_stdout(corpus: Path) -> None:
    """A real subprocess: bytes on stdout, nothing on stderr."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "profilelab",
            "convert",
            str(corpus / "google-pprof/profile/testdata/java.heap"),
            "-",
            "--to",
            "folded",
        ],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == b""
    lines = result.stdout.decode().splitlines()
    assert lines and all(line.rsplit(" ", 1)[1].isdigit() for line in lines)


def test_merging_inputs(corpus: Path, tmp_path: Path) -> None:
    many = sorted((corpus / "parca-dev-parca/pkg/query/testdata/many").glob("*.pb.gz"))[:3]
    out = tmp_path / "merged.pb.gz"
    assert main(["convert", *map(str, many), str(out)]) == 0
    merged, parts = profilelab.load(out), profilelab.load(many)
    assert merged.samples["value"].sum() == parts.samples["value"].sum()


@pytest.mark.golang
def test_diff_base_option(corpus: Path, tmp_path: Path) -> None:
    new, base = (
        corpus / "parca-dev-parca/pkg/query/testdata/many/1644509299337903000.pb.gz",
        (corpus / "parca-dev-parca/pkg/query/testdata/many/1644509272337470000.pb.gz"),
    )
    out = tmp_path / "diff.pb.gz"
    assert main(["convert", str(new), str(out), "--diff-base", str(base)]) == 0
    assert go_pprof("-top", out) == go_pprof("-top", f"-diff_base={base}", new)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["OUT.unknown"], "cannot tell the output format from"),
        (["OUT.pb.gz", "--to", "nope"], "unknown output format 'nope'"),
        (["OUT.pb.gz", "--sample-index", "wall"], "sample_index 'wall' must be one of"),
        (["OUT.folded", "--diff-base", "IN"], "--diff-base writes pprof only"),
        (["missing/dir/OUT.pb.gz"], "does not exist"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    src = str(corpus / SAMPLE_CPU)
    args = [a.replace("OUT", str(tmp_path / "out")).replace("IN", src) for a in args]
    assert main(["convert", src, *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("profilelab: error: ") and message in err and err.count("\n") == 1
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # nothing half-written


def test_bad_input_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cut.pb.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00")
    assert main(["convert", str(bad), str(tmp_path / "x.folded")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: truncated gzip stream" in err
    assert not (tmp_path / "x.folded").exists()


def test_speedscope_output_is_json(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "cpu.speedscope.json"
    assert main(["convert", str(corpus / SAMPLE_CPU), str(out)]) == 0
    assert json.loads(out.read_text())["$schema"].endswith("file-format-schema.json")


def test_written_file_has_normal_permissions_and_is_reported(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cpu.folded"
    old = os.umask(0o027)
    try:
        assert main(["convert", str(corpus / SAMPLE_CPU), str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # 0666 minus the umask, not 0600
    size = out.stat().st_size
    assert capsys.readouterr().out == f"wrote {out} (folded, {size:,} bytes)\n"
