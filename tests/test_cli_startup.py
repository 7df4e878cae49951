"""The command line starts without the heavy libraries: commands import them when they run.

``profilelab --help`` builds the parser from every command module's ``register``; a module
that imports SciPy, Plotly, widgets or DuckDB at its top makes every command start slowly.
The tests run the real command in a subprocess and read its ``sys.modules``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pprof_build import PprofBuilder

from profilelab.readers import _pprof_native

ROOT = Path(__file__).resolve().parent.parent

#: Libraries no command may import before it runs (each costs 0.1-0.4 s to import).
HEAVY = ("scipy", "plotly", "ipywidgets", "anywidget", "IPython", "duckdb", "pandas")
#: Libraries no ``--help`` may import: a help text is printed before any data is read.
HELP_HEAVY = (*HEAVY, "polars", "numpy", "pyarrow")
#: Heavy submodules of libraries the start-up may use (Arrow's compute kernels, datasets).
HEAVY_SUBMODULES = ("pyarrow.compute", "pyarrow.dataset")


#: ``python -m profilelab ARGS``, then the names of every module it imported. A report
#: command ends its process with ``os._exit`` (``cli._end_process``): the probe reports there.
_RUN = """
import os, runpy, sys
def report(code):
    print("\\n".join(sorted(sys.modules)), file=sys.__stderr__)
    print(f"exit {code}", file=sys.__stderr__, flush=True)
end = os._exit
os._exit = lambda code: (report(code), end(code))
sys.argv = ["profilelab", *sys.argv[1:]]
try:
    runpy.run_module("profilelab", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    report(exc.code)
else:
    report(0)
"""


def _imported(*args: str) -> set[str]:
    """Every module ``python -m profilelab ARGS`` imports (``sys.modules`` at its exit)."""
    run = subprocess.run(
        [sys.executable, "-c", _RUN, *args], cwd=ROOT, capture_output=True, text=True
    )
    lines = run.stderr.splitlines()
    assert lines and lines[-1] in ("exit 0", "exit 2"), run.stderr[-2000:]
    names = set(lines)
    assert "profilelab.cli" in names, run.stderr[-2000:]
    return names


def _heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in HEAVY or n.startswith(HEAVY_SUBMODULES))


@pytest.mark.parametrize("args", [["--help"], ["top", "--help"], ["no-such-command"]])
def test_start_up_imports_no_heavy_library(args: list[str]) -> None:
    assert _heavy(_imported(*args)) == []


def test_top_level_help_imports_no_data_library() -> None:
    names = _imported("--help")
    assert sorted(n for n in names if n.split(".")[0] in HELP_HEAVY) == []


#: Every command's ``--help`` in one process, in turn; after each, the heavy modules
#: imported so far (a heavy import shows under the first command that made it).
_WALK = """
import contextlib, io, sys
from profilelab.cli import _subparsers, build_parser, main
heavy = tuple(sys.argv[1:])
for name in sorted(_subparsers(build_parser()).choices):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            main([name, "--help"])
        except SystemExit as exc:
            assert exc.code == 0, (name, exc.code)
    assert "usage:" in out.getvalue(), name
    found = sorted({m for m in sys.modules if m.split(".")[0] in heavy})
    print(name, *found)
"""


def test_every_command_help_imports_no_data_library() -> None:
    """``profilelab COMMAND --help`` for every command imports none of Polars, NumPy,
    Arrow, DuckDB or the other heavy libraries (argument modules stay light)."""
    run = subprocess.run(
        [sys.executable, "-c", _WALK, *HELP_HEAVY], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line.split() for line in run.stdout.splitlines()]
    assert len(lines) > 20 and {"top", "serve", "flame", "report"} <= {w[0] for w in lines}
    assert [w for w in lines if len(w) > 1] == []


def test_the_help_walk_sees_a_data_library() -> None:
    """The walk's check flags a ``--help`` once a data library is imported beside it."""
    run = subprocess.run(
        [sys.executable, "-c", "import polars\n" + _WALK, *HELP_HEAVY],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    first = run.stdout.splitlines()[0].split()
    assert "polars" in first[1:]


def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    """The same check flags a command that does use a heavy library when it runs."""
    b = PprofBuilder([("samples", "count")])
    b.sample([b.location(b.function("main"))], [1])
    path = tmp_path / "p.pb"
    path.write_bytes(b.bytes())
    assert "duckdb" in _heavy(_imported("sql", "select count(*) from samples", str(path)))


def test_running_one_command_imports_only_its_module() -> None:
    assert "profilelab.cli.flame" in _imported("--help")
    one = _imported("top", "--help")
    assert "profilelab.cli.top" in one
    # found by name: no scan of the package (pkgutil's scan also imports ``inspect``)
    assert {"pkgutil", "difflib"} & one == set()
    assert "profilelab.cli.list_" in _imported("list", "--help")
    assert not {n for n in one if n.startswith("profilelab.cli.") and n != "profilelab.cli.top"} - {
        "profilelab.cli._common",
        "profilelab.cli._report",
    }


#: The reader modules of the formats other than pprof.
OTHER_READERS = (
    "cpuprofile",
    "folded",
    "jfr",
    "legacy",
    "otlp",
    "perf_script",
    "pstats",
    "speedscope",
    "trace_event",
)


@pytest.mark.skipif(not _pprof_native.available(), reason="the numpy decoder uses Arrow compute")
def test_top_of_a_pprof_imports_only_the_pprof_reader(tmp_path: Path) -> None:
    """``profilelab top`` on a small pprof sniffs every format (readers/sniff.py) but imports
    only the pprof reader, and no heavy library: no DuckDB, no other format's reader, and
    not Arrow's compute kernels (0.06 s of CPU) nor ``numpy.ma`` (0.01-0.02 s), with labels
    and two sample types."""
    b = PprofBuilder([("samples", "count"), ("cpu", "nanoseconds")])
    b.sample([b.location(b.function("main.main"))], [3, 30], [("region", "eu"), ("n", 4, "")])
    path = tmp_path / "p.pb.gz"
    path.write_bytes(b.bytes(gzipped=True))
    names = _imported("top", str(path))
    assert "profilelab.readers.pprof" in names
    assert _heavy(names) == []
    # NumPy arrays reach Polars as Arrow buffers: Polars' own conversion imports numpy.ma
    assert "numpy.ma" not in names
    # without --labels or a time range there is no selector or time to parse
    parsers = ("profilelab.core.selector", "profilelab.core.timeparse")
    assert sorted(n for n in names if n in parsers) == []
    assert sorted(m for m in OTHER_READERS if f"profilelab.readers.{m}" in names) == []
    folded = tmp_path / "stacks.txt"
    folded.write_text("main;work 3\nmain;idle 2\n")
    assert "profilelab.readers.folded" in _imported("top", str(folded))


#: The report commands a small pprof is read by, with their arguments before the file.
SMALL_REPORTS = (
    ["top"],
    ["top", "--format", "json"],
    ["tags"],
    ["peek", "main"],
    ["list", "main"],
    ["traces"],
    ["graph", "--format", "dot"],
    ["graph", "--format", "tree"],
    ["flame", "-o", "FLAME"],
)


@pytest.mark.skipif(not _pprof_native.available(), reason="the numpy decoder uses Arrow compute")
@pytest.mark.parametrize("command", SMALL_REPORTS, ids=" ".join)
def test_a_report_of_a_small_pprof_loads_no_arrow_nor_numpy_ma(
    tmp_path: Path, command: list[str]
) -> None:
    """A small pprof's tables reach Polars through the Arrow C data interface over NumPy
    buffers (model/_arrow.py): no report loads pyarrow (Arrow's C++ library is a fifth of
    ``import polars``), with string and numeric labels and a span id label."""
    b = PprofBuilder([("samples", "count"), ("cpu", "nanoseconds")])
    main = b.function("main.main")
    b.sample([b.location(b.function("main.work")), b.location(main)], [3, 30], [("region", "eu")])
    b.sample([b.location(main)], [1, 10], [("n", 4, "bytes"), ("span_id", "00000000000000ab")])
    path = tmp_path / "p.pb.gz"
    path.write_bytes(b.bytes(gzipped=True))
    args = [str(tmp_path / "f.html") if a == "FLAME" else a for a in command]
    names = _imported(*args, str(path))
    assert sorted(n for n in names if n.split(".")[0] == "pyarrow") == []
    # nor numpy.ma (0.01-0.02 s), which Polars' conversion of a NumPy array and np.unique
    # without its index options import: flame and graph used them
    assert "numpy.ma" not in names


#: Small OTLP inputs: binary with links (trace and span ids), a capture with location
#: attributes (binary and JSON: hex ids read from text), the v1.8 layout of the capture.
SMALL_OTLP = (
    "datasets/traced-order-service/otlp/v2.3.5/order-euw1-0/cpu-00.otlp.pb.gz",
    "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile.pb.bin",
    "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile.pb.json",
    "grafana-pyroscope@85b4c078a/pkg/test/integration/testdata/otel-ebpf-profile.pb.bin",
)


@pytest.mark.parametrize("name", SMALL_OTLP)
@pytest.mark.parametrize("command", [["top"], ["tags"]], ids=" ".join)
def test_a_report_of_a_small_otlp_profile_loads_no_pandas(
    corpus: Path, name: str, command: list[str]
) -> None:
    """The OTLP readers' strings and ids are made from buffers and gathered with NumPy:
    ``pa.array`` of a list or an array imports pandas, Arrow's ``take`` its compute
    kernels, and ``np.unique`` numpy.ma (together more than a small report's own time)."""
    path = corpus / name
    names = _imported(*command, str(path))
    assert "profilelab.readers.otlp" in names
    assert _heavy(names) == []
    assert "numpy.ma" not in names


_BLAS = """
import os, runpy, sys
end = os._exit
def report(code):
    print(os.environ.get("OPENBLAS_NUM_THREADS"), "numpy" in sys.modules, file=sys.__stderr__)
    sys.__stderr__.flush()
    end(code)
os._exit = report
sys.argv = ["profilelab", *sys.argv[1:]]
runpy.run_module("profilelab", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("3", "3")])
def test_a_report_keeps_openblas_to_one_thread(
    tmp_path: Path, given: str | None, seen: str
) -> None:
    """``top`` imports NumPy with OpenBLAS limited to one thread (its thread pool is 0.03 s
    of start-up that no report uses), unless the caller set the thread count."""
    b = PprofBuilder([("samples", "count")])
    b.sample([b.location(b.function("main"))], [1])
    path = tmp_path / "p.pb"
    path.write_bytes(b.bytes())
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    run = subprocess.run(
        [sys.executable, "-c", _BLAS, "top", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.stderr.splitlines()[-1] == f"{seen} True", run.stderr[-2000:]


#: ``python -m profilelab ARGS`` with a handler that the interpreter's shutdown would run.
_SHUTDOWN = """
import atexit, runpy, sys
atexit.register(lambda: print("shutdown ran", file=sys.__stderr__, flush=True))
sys.argv = ["profilelab", *sys.argv[1:]]
runpy.run_module("profilelab", run_name="__main__", alter_sys=True)
"""


def _shutdown_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _SHUTDOWN, *args], cwd=ROOT, capture_output=True, text=True
    )


def test_a_report_ends_without_the_interpreters_shutdown(tmp_path: Path) -> None:
    """A report command (and ``flame``, which writes its page whole) ends its process once
    its output is flushed (no module teardown): the whole report is printed, its exit
    status and error line are kept, and the shutdown's handlers do not run; other commands
    and ``--help`` exit as usual."""
    from profilelab.cli import main

    b = PprofBuilder([("samples", "count")])
    b.sample([b.location(b.function("main.main")), b.location(b.function("runtime.main"))], [7])
    path = tmp_path / "p.pb.gz"
    path.write_bytes(b.bytes(gzipped=True))
    with contextlib.redirect_stdout(io.StringIO()) as expected:
        assert main(["top", str(path)]) == 0
    run = _shutdown_run("top", str(path))
    assert (run.returncode, run.stdout, run.stderr) == (0, expected.getvalue(), "")
    missing = _shutdown_run("top", str(tmp_path / "missing.pb"))
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"profilelab: error: {tmp_path / 'missing.pb'}: no such file"
    ]
    page, again = tmp_path / "f.html", tmp_path / "g.html"
    assert main(["flame", str(path), "-o", str(page)]) == 0
    flame = _shutdown_run("flame", str(path), "-o", str(again))
    assert (flame.returncode, flame.stderr) == (0, "")
    assert flame.stdout.startswith(f"wrote {again} ")
    assert again.read_bytes() == page.read_bytes()
    helped = _shutdown_run("top", "--help")
    assert helped.returncode == 0 and "usage:" in helped.stdout
    assert helped.stderr == "shutdown ran\n"


def test_a_report_into_a_closed_pipe_ends_quietly() -> None:
    """``profilelab traces FILE | head -c 10``: the reader leaves before the report is
    written; the command still ends with status 0 and nothing on stderr."""
    profile = ROOT / "datasets" / "checkout-api" / "before" / "cpu-00.pb.gz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "profilelab", "traces", str(profile)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)
    proc.stdout.close()  # the report (about 100 KB) is more than a pipe holds
    err = proc.stderr.read()
    assert (proc.wait(timeout=120), err) == (0, b"")
