"""The command line as a newcomer meets it: --version, "did you mean", values that start
with a dash, options that take several files."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

import profilelab
from profilelab.cli import build_parser, main


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"profilelab {profilelab.__version__}\n"


def test_mistyped_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["tpo", "cpu.pb.gz"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "profilelab: error: unknown command 'tpo' (did you mean 'top'?)"


def test_unrelated_command_gets_no_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["xyzzy"])
    assert capsys.readouterr().err.splitlines()[-1] == "profilelab: error: unknown command 'xyzzy'"


@pytest.mark.parametrize(
    "argv,line",
    [
        (
            ["top", "cpu.pb.gz", "--nodecunt", "3", "--cum"],
            "profilelab top: error: unrecognized arguments: --nodecunt 3"
            " (did you mean '--nodecount'?)",
        ),
        (
            ["query", "cpu", "--store", "s", "--form=-1h"],
            "profilelab query: error: unrecognized arguments: --form=-1h"
            " (did you mean '--format' or '--from'?)",
        ),
        (
            ["query", "cpu", "--store", "s", "--frm=-1h"],
            "profilelab query: error: unrecognized arguments: --frm=-1h (did you mean '--from'?)",
        ),
    ],
)
def test_mistyped_option_gets_a_suggestion(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == line


@pytest.mark.parametrize(
    "argv,start",
    [
        (["query", 'cpu{service="order"}', "--store", "profiles/", "--from", "-1h", "top"], "-1h"),
        (["query", "cpu", "--from", "-30m", "--store", "profiles/"], "-30m"),
    ],
)
def test_relative_times_are_values_not_options(argv: list[str], start: str) -> None:
    args = build_parser("query").parse_args(argv)
    assert (args.start, args.store) == (start, "profiles/")


def test_store_retain_takes_a_relative_time() -> None:
    args = build_parser("store").parse_args(["store", "retain", "--store", "s", "--before", "-7d"])
    assert args.before == "-7d"


def test_spans_profile_takes_several_files() -> None:
    args = build_parser("spans").parse_args(
        ["spans", "traces.json", "--profile", "a.pb.gz", "b.pb.gz", "--profile", "c.pb.gz"]
    )
    assert (args.trace, args.profile) == ("traces.json", ["a.pb.gz", "b.pb.gz", "c.pb.gz"])


FULL = Path("/dev/full")  # Linux: every write fails with ENOSPC
PROFILE = Path(__file__).resolve().parent.parent / "datasets/checkout-api/before/cpu-00.pb.gz"


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")
@pytest.mark.parametrize(
    "argv",
    [
        ["top", str(PROFILE)],
        ["info", str(PROFILE)],
        ["flame", str(PROFILE), "-o", str(FULL)],
        ["--version"],
        ["--help"],
        ["top", "--help"],
    ],
)
def test_output_on_a_full_disk_is_one_error_line(argv: list[str]) -> None:
    with FULL.open("wb") as out:
        run = _program(argv, stdout=out)
    assert run.returncode == 1
    assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr, run.stderr
    assert "No space left on device" in run.stderr


@pytest.mark.parametrize("argv", [["top", str(PROFILE)], ["--version"]])
def test_output_to_a_read_only_descriptor_is_one_error_line(argv: list[str]) -> None:
    with open(os.devnull, "rb") as read_only:  # `profilelab top F 1</dev/null`
        run = _program(argv, stdout=read_only)
    assert run.returncode == 1
    assert run.stderr == "profilelab: error: cannot write the output: Bad file descriptor\n"


def _program(argv: list[str], stdout: IO[bytes]) -> subprocess.CompletedProcess[str]:
    """The ``profilelab`` program run on ``argv`` with its output on ``stdout``."""
    return subprocess.run(
        [sys.executable, "-m", "profilelab", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("argv", [["top", str(PROFILE)], ["--version"], ["tags", "--help"]])
def test_main_says_a_failed_write_and_returns(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.redirect_stdout(_FullDisk()):
        assert main(argv) == 1
    assert capsys.readouterr().err == (
        "profilelab: error: cannot write the output: No space left on device\n"
    )
