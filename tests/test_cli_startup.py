"""The command line starts without the heavy libraries: commands import them when they run.

``profilelab --help`` builds the parser from every command module's ``register``; a module
that imports SciPy, Plotly, widgets or DuckDB at its top makes every command start slowly.
``python -X importtime`` lists every module the real command imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pprof_build import PprofBuilder

ROOT = Path(__file__).resolve().parent.parent

#: Libraries no command may import before it runs (each costs 0.1-0.4 s to import).
HEAVY = ("scipy", "plotly", "ipywidgets", "anywidget", "IPython", "duckdb", "pandas")
#: Heavy submodules of libraries the start-up may use (Arrow's compute kernels, datasets).
HEAVY_SUBMODULES = ("pyarrow.compute", "pyarrow.dataset")


def _imported(*args: str) -> set[str]:
    """Every module ``python -m profilelab ARGS`` imports (from ``-X importtime``)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "profilelab", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode in (0, 2), run.stderr[-2000:]
    names = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "profilelab.cli" in names, run.stderr[-2000:]
    return names


def _heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in HEAVY or n.startswith(HEAVY_SUBMODULES))


@pytest.mark.parametrize("args", [["--help"], ["top", "--help"], ["no-such-command"]])
def test_start_up_imports_no_heavy_library(args: list[str]) -> None:
    assert _heavy(_imported(*args)) == []


def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    """The same check flags a command that does use a heavy library when it runs."""
    b = PprofBuilder([("samples", "count")])
    b.sample([b.location(b.function("main"))], [1])
    path = tmp_path / "p.pb"
    path.write_bytes(b.bytes())
    assert "duckdb" in _heavy(_imported("sql", "select count(*) from samples", str(path)))
