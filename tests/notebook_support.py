"""Run the repository's notebooks in a real kernel (nbclient + ipykernel), with parameters.

Used by tests/test_notebooks.py (every notebook, both formats), the JupyterLab browser test
and the Binder test (start-here in a fresh virtual environment).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PARAMETERS_TAG = "parameters"


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def with_parameters(nb: Any, params: Mapping[str, object]) -> Any:
    """A copy of ``nb`` with a cell setting ``params`` right after its parameters cell (as
    papermill does); the notebook must have exactly one cell tagged ``parameters``."""
    import nbformat

    out = copy.deepcopy(nb)
    tagged = [
        i
        for i, c in enumerate(out.cells)
        if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])
    ]
    if len(tagged) != 1:
        raise AssertionError(f"expected one cell tagged {PARAMETERS_TAG!r}, found {len(tagged)}")
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    out.cells.insert(tagged[0] + 1, cell)
    return out


def kernel_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the kernel: this checkout's profilelab first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


def run_notebook(
    path: Path,
    params: Mapping[str, object],
    *,
    env: Mapping[str, str] | None = None,
    timeout: int = 180,
    kernel_name: str = "python3",
) -> Any:
    """Execute the notebook top to bottom in a fresh kernel; returns the executed notebook.

    A failing cell (for example the final assert) raises nbclient's CellExecutionError,
    whose message holds the cell and the traceback.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = with_parameters(nbformat.read(path, as_version=4), params)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=kernel_env(env))
    return nb


def stream_text(nb: Any) -> str:
    """Everything the executed notebook printed to stdout."""
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )
