"""Every notebook runs top to bottom in a real kernel, on the pprof and the OTLP datasets.

Each notebook ends with a cell that asserts its finding, so a broken dataset, reader or
analysis fails here. The OTLP variant reads the datasets' OpenTelemetry copies
(``datasets.load(name, format="otlp")``, written by the OTLP writer), so both readers are
checked end to end.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.notebook_support import ROOT, notebook_paths, run_notebook, stream_text

NOTEBOOKS = notebook_paths()
#: What each notebook prints as its finding (the assert cell checks the numbers).
FINDING_WORDS = {
    "00-start-here": "encoding/json went from",
    "01-cpu-hotspot": "encoding/json is on",
    "02-memory-leak": "main.(*SessionCache).Put holds",
    "03-goroutine-leak": "goroutines in main.startWatcher.func1 grew",
    "04-version-regression": "went from",
    "05-slow-span-to-profile": "slow",
    "06-fleet-trends-and-alerts": "alert at",
    "07-java-jfr": "JavaService$SessionStore.remember holds",
}
#: Notebooks whose dataset has no OTLP copy (JFR recordings are their own format).
PPROF_ONLY = {"07-java-jfr"}


def datasets_available() -> bool:
    try:
        from profilelab import datasets

        return bool(datasets.list())
    except Exception:
        return False


def test_there_is_a_notebook_per_playbook() -> None:
    assert [p.stem for p in NOTEBOOKS] == sorted(FINDING_WORDS)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pprof", "otlp"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_asserts_its_finding(path: Path, fmt: str) -> None:
    if not datasets_available():
        pytest.skip("the datasets are not available")
    if path.stem in PPROF_ONLY:
        if fmt == "otlp":
            pytest.skip("the Java dataset is JFR recordings only")
        nb = run_notebook(path, {})
    else:
        nb = run_notebook(path, {"FORMAT": fmt})
    printed = stream_text(nb) + "".join(html_outputs(nb))
    assert FINDING_WORDS[path.stem] in printed.replace("&quot;", '"'), printed
    assert_tables_show_units(path.stem, html_outputs(nb))
    last = nb.cells[-1]
    assert last.cell_type == "code" and "assert" in last.source
    assert last.execution_count is not None  # the assert cell ran (and passed)


def html_outputs(nb: object) -> list[str]:
    """The text/html of every displayed result (tables, findings)."""
    return [
        out["data"]["text/html"]
        for cell in nb.cells  # type: ignore[attr-defined]
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "text/html" in out.get("data", {})
    ]


#: A table cell: its raw value and what it shows.
CELL = re.compile(r'<td data-value="([^"]*)"[^>]*>([^<]*)</td>')


def raw_cells(table_html: str) -> list[str]:
    """Cells showing a long number as stored (185000000, 0.9630769...), not in units."""
    return [
        shown
        for raw, shown in CELL.findall(table_html)
        if raw == shown and re.fullmatch(r"-?[\d.e+-]+", shown) and len(shown) > 6
    ]


#: What a playbook's table shows somewhere when it carries units (time, bytes or shares).
UNIT_TEXT = re.compile(r"<td[^>]*>-?[\d.,]+ ?(ns|µs|ms|s|B|KiB|MiB|GiB|%|pp)(/h)?</td>")


def assert_tables_show_units(stem: str, outputs: list[str]) -> None:
    """Every printed playbook table is a ``profilelab.table``: numbers carry units."""
    tables = [h for h in outputs if "profilelab-table" in h]
    for h in tables:
        assert not raw_cells(h), raw_cells(h)
    if stem not in ("03-goroutine-leak", "06-fleet-trends-and-alerts"):
        # (03 counts goroutines, plain counts are right; 06 shows charts)
        assert any(UNIT_TEXT.search(h) for h in tables), f"{stem}: no table with units"
    frames = [h for h in outputs if "dataframe" in h and "<table" in h]
    assert not frames, f"{stem}: a Polars frame printed without units: {frames[0][:300]}"


def test_notebooks_are_committed_without_outputs() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "dev" / "strip-notebooks"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_strip_notebooks_removes_outputs(tmp_path: Path) -> None:
    src = NOTEBOOKS[0]
    nb = json.loads(src.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["secret\n"]}]
    code["execution_count"] = 7
    code["metadata"]["execution"] = {"iopub.status.idle": "2026-01-01"}
    dirty = tmp_path / "dirty.ipynb"
    dirty.write_text(json.dumps(nb))
    script = [sys.executable, str(ROOT / "dev" / "strip-notebooks")]
    check = subprocess.run([*script, "--check", str(dirty)], capture_output=True, text=True)
    assert check.returncode == 1 and "needs stripping" in check.stderr
    assert subprocess.run([*script, str(dirty)], capture_output=True).returncode == 0
    assert dirty.read_text() == src.read_text()  # back to exactly the committed text


def test_every_notebook_has_one_parameters_cell_and_ends_with_asserts() -> None:
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1, path
        assert "".join(tagged[0]["source"]).startswith('FORMAT = "pprof"'), path
        last = "".join(nb["cells"][-1]["source"])
        assert nb["cells"][-1]["cell_type"] == "code" and "assert " in last, path
