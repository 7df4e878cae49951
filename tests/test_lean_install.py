"""``pip install profilelab`` is the library and the CLI: no Jupyter, Spark or browser packages.

Measured once in a fresh virtual environment (README, "Installing"): plain ``pip install .``
installs none of them and ``profilelab top`` works there. These tests keep it so: the core
dependencies name none of them, and ``profilelab top`` runs with all of them unimportable.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRA_ONLY = {
    "jupyterlab": "jupyterlab",
    "notebook": "notebook",
    "ipywidgets": "ipywidgets",
    "anywidget": "anywidget",
    "ipykernel": "ipykernel",
    "IPython": "ipython",
    "plotly": "plotly",
    "pandas": "pandas",
    "pyspark": "pyspark",
    "playwright": "playwright",
    "repo2docker": "jupyter-repo2docker",
    "nbclient": "nbclient",
}


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_core_dependencies_name_no_notebook_spark_or_browser_package() -> None:
    core = {
        d.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        for d in _project()["dependencies"]
    }
    assert core.isdisjoint(EXTRA_ONLY.values())
    extras = _project()["optional-dependencies"]
    assert {"lab", "spark", "test", "dev"} <= set(extras)
    assert any(d.startswith("pyspark") for d in extras["spark"])


def test_top_works_without_any_extra(tmp_path: Path) -> None:
    src = ROOT / "datasets/checkout-api/before/cpu-00.pb.gz"
    blocked = ", ".join(repr(m) for m in EXTRA_ONLY)
    code = (
        "import sys\n"
        f"for name in ({blocked}):\n"
        "    sys.modules[name] = None  # unimportable, as in a plain install\n"
        "from profilelab.cli import main\n"
        f"sys.exit(main(['top', {str(src)!r}, '--nodecount', '3']))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Showing top 3 nodes" in run.stdout
