"""What a report command does with its process, which ends with the report: it keeps the
memory it frees for reuse (profilelab._malloc, as the ingest workers do; never a library
call in a user's program) and skips the interpreter's collections at exit."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOROUTINE = ROOT / "datasets" / "goroutine-leak" / "fixed" / "goroutine-01.pb.gz"

# Page faults of allocating, touching and freeing a 40 MiB array again and again (blocks of
# that size go straight back to the kernel by default, so each new one is faulted in).
FAULTS = """
import resource, sys
import numpy as np
from profilelab._malloc import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory(mmap_threshold=256 << 20, trim_threshold=1 << 30)
np.ones(5 << 20).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    np.ones(5 << 20).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") != "libc.so.6",
    reason="glibc only",
)
def test_kept_memory_is_reused_without_page_faults() -> None:
    default, kept = _faults("default"), _faults("keep")
    assert kept * 4 < default, (kept, default)


def test_report_commands_keep_freed_memory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from profilelab.cli import _report, main

    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(
        _report,
        "keep_freed_memory",
        lambda mmap_threshold, trim_threshold: (
            calls.append((mmap_threshold, trim_threshold)) or True
        ),
    )
    assert main(["top", str(GOROUTINE)]) == 0
    assert calls == [(_report.REUSED_BLOCK_BYTES, _report.KEPT_FREE_BYTES)]
    assert "flat" in capsys.readouterr().out


def test_a_report_run_as_the_program_skips_the_collections_at_exit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """... and while it runs (the collector is off from the command's start)."""
    import gc

    from profilelab.cli import main

    froze: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: froze.append("freeze"))
    monkeypatch.setattr(gc, "disable", lambda: froze.append("disable"))
    assert main(["top", str(GOROUTINE)]) == 0  # called as a library: nothing frozen
    assert main(["info", str(GOROUTINE)]) == 0
    assert froze == []
    monkeypatch.setattr(sys, "argv", ["profilelab", "info", str(GOROUTINE)])
    assert main() == 0  # the program, but a command that is not a report
    assert froze == []
    monkeypatch.setattr(sys, "argv", ["profilelab", "top", str(GOROUTINE)])
    assert main() == 0
    assert froze == ["disable", "freeze"]
    capsys.readouterr()


class _Ended(Exception):
    """What the test's stand-in for ``os._exit`` raises instead of ending pytest."""


def test_the_program_ends_a_report_without_the_interpreters_shutdown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``profilelab`` (``cli.program``) ends the process of a report once its output is
    flushed; other commands exit through ``sys.exit``, and ``main()`` always returns."""
    import gc
    import os

    from profilelab import cli

    def end(status: int) -> None:
        raise _Ended(status)

    monkeypatch.setattr(os, "_exit", end)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(gc, "disable", lambda: None)
    monkeypatch.setattr(sys, "argv", ["profilelab", "top", str(GOROUTINE)])
    with pytest.raises(_Ended) as ended:
        cli.program()
    assert ended.value.args == (0,)
    assert "flat%" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["profilelab", "top", str(GOROUTINE) + ".missing"])
    with pytest.raises(_Ended) as ended:
        cli.program()
    assert ended.value.args == (1,)
    assert capsys.readouterr().err.startswith("profilelab: error: ")
    monkeypatch.setattr(sys, "argv", ["profilelab", "info", str(GOROUTINE)])
    with pytest.raises(SystemExit) as exited:
        cli.program()
    assert exited.value.code == 0
    monkeypatch.setattr(sys, "argv", ["profilelab", "top", str(GOROUTINE)])
    assert cli.main() == 0  # the same command called as a function returns
    capsys.readouterr()
