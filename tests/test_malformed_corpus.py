"""Every malformed input ends in one line naming the file: no traceback, no hang, bounded memory.

The corpus (``tests/malformed_corpus.py``) is written to a temporary directory and each
input goes through ``profilelab.load`` (``load_traces`` for trace inputs) and the command
line (``top``, ``spans`` for traces), in a worker process that answers input by input: an
input that does not answer within the time limit is a hang (the worker is killed and a new
one takes the rest). Peak memory is the worker's VmHWM, reset before each input.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from profilelab.cli import one_line
from tests.malformed_corpus import ROOT, Case, write

HANG_SECONDS = 120  # far above any input's time, even on a busy machine: only a runaway input
MAX_PEAK_BYTES = 1 << 30
SMALL_INPUT = 10 << 20


class Worker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "malformed_corpus.py"), "--worker"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def check(self, kind: str, path: Path) -> dict[str, Any] | None:
        """The worker's answer, or None when it did not answer in time (it is then killed)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{kind} {json.dumps(str(path))}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], HANG_SECONDS)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            return None
        return dict(json.loads(line))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _outcomes(written: list[tuple[Path, Case]]) -> Iterator[tuple[Path, Case, Any]]:
    worker = Worker()
    try:
        for path, case in written:
            got = worker.check(case.kind, path)
            if got is None:
                worker = Worker()
            yield path, case, got
    finally:
        worker.close()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Case, Any]]:
    return list(_outcomes(write(tmp_path_factory.mktemp("corpus"))))


def _problems(path: Path, case: Case, got: dict[str, Any] | None) -> list[str]:
    """What is wrong with how one input ended (empty: fine)."""
    if got is None:
        return [f"no answer within {HANG_SECONDS} s (hang)"]
    out = []
    library: str = got["library"]
    if library.startswith("crash: "):
        out.append(f"library raised: {library.splitlines()[-1]}")
    elif library.startswith("error: "):
        message = library.removeprefix("error: ")
        if not message.startswith(f"{path}: "):
            out.append(f"library error does not name the file: {message[:200]!r}")
        elif "\n" in message[len(str(path)) :]:
            out.append(f"library error is not one line: {message[:300]!r}")
    lines = got["stderr"].splitlines()
    if "Traceback" in got["stderr"] or got["code"] not in (0, 1):
        out.append(f"command line crashed: {got['stderr'][-300:]!r}")
    elif got["code"] == 1 and (len(lines) != 1 or not lines[0].startswith("profilelab: error: ")):
        out.append(f"command line error is not one line: {got['stderr'][:300]!r}")
    elif got["code"] == 1 and one_line(str(path)) not in lines[0]:
        out.append(f"command line error does not name the file: {lines[0][:200]!r}")
    elif got["code"] == 0 and got["stderr"]:
        out.append(f"command line succeeded with messages: {got['stderr'][:300]!r}")
    size = path.stat().st_size if case.special is None else 0
    if size < SMALL_INPUT and got["peak_kib"] * 1024 > MAX_PEAK_BYTES:
        out.append(f"peak memory {got['peak_kib'] >> 10} MiB for a {size >> 10} KiB input")
    return out


def test_corpus_covers_every_reader_and_kind(outcomes: list[tuple[Path, Case, Any]]) -> None:
    names = " ".join(case.name for _, case, _ in outcomes)
    for fmt in ("pprof", "otlp", "otlp-json", "speedscope", "evented", "folded", "cpuprofile"):
        assert f"{fmt}.truncated" in names
    for fmt in ("legacy", "otlp-traces", "otlp-traces-json", "jaeger", "zipkin", "pstats"):
        assert f"{fmt}.damaged" in names
    for fmt in ("trace-event", "jfr", "perf-script"):
        assert f"{fmt}.damaged" in names
    for kind in ("nan", "inf", "huge-int", "surrogate", "list-of-int", "cycle", "chain", "bomb"):
        assert kind in names
    assert {case.special for _, case, _ in outcomes} >= {"fifo", "devzero", "directory"}


def test_every_input_ends_in_one_line_naming_it(outcomes: list[tuple[Path, Case, Any]]) -> None:
    bad = {
        path.name: problems
        for path, case, got in outcomes
        if (problems := _problems(path, case, got))
    }
    assert not bad, f"{len(bad)} of {len(outcomes)} inputs:\n" + "\n".join(
        f"{name}: {'; '.join(problems)}" for name, problems in bad.items()
    )


def test_the_checks_catch_a_traceback_and_a_hang(tmp_path: Path) -> None:
    """The judge itself: a crash, a multi-line error, a hang and a peak are all reported."""
    path = tmp_path / "x"
    path.write_bytes(b"x")
    case = Case("x", "profile", b"x")
    crash = {"library": "crash: Traceback\nKeyError: 1", "code": 0, "stderr": "", "peak_kib": 1}
    assert _problems(path, case, crash) == ["library raised: KeyError: 1"]
    two = {"library": "ok", "code": 1, "stderr": "a\nb\n", "peak_kib": 1}
    assert _problems(path, case, two)[0].startswith("command line error is not one line")
    assert _problems(path, case, None) == [f"no answer within {HANG_SECONDS} s (hang)"]
    heavy = {"library": "ok", "code": 0, "stderr": "", "peak_kib": 2 << 20}
    assert _problems(path, case, heavy) == ["peak memory 2048 MiB for a 0 KiB input"]
