"""``profilelab lab``: finds the clone's notebooks, builds the jupyter command, clear errors
outside a clone, and really opens JupyterLab on notebooks/00-start-here.ipynb."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from profilelab.cli import main
from profilelab.errors import ProfileLabError
from profilelab.launch import find_notebooks, lab_command
from tests.lab_support import profilelab_lab
from tests.notebook_support import NOTEBOOKS, ROOT


def test_notebooks_are_found_from_inside_the_clone_and_from_the_package() -> None:
    assert find_notebooks(cwd=ROOT) == NOTEBOOKS
    assert find_notebooks(cwd=ROOT / "profilelab" / "cli") == NOTEBOOKS
    assert find_notebooks(cwd=Path("/")) == NOTEBOOKS  # via the package's location
    assert find_notebooks(ROOT) == NOTEBOOKS and find_notebooks(NOTEBOOKS) == NOTEBOOKS


def test_a_directory_without_notebooks_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileLabError, match=r"no 00-start-here\.ipynb there or in"):
        find_notebooks(tmp_path)


def test_print_command_passes_port_no_browser_and_extra_arguments(capsys) -> None:
    assert main(["lab", "--print-command", "--no-browser", "--port", "8899", "--", "--x=1"]) == 0
    cmd = shlex.split(capsys.readouterr().out)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]  # this Python's lab, not PATH's
    assert f"--ServerApp.root_dir={ROOT}" in cmd
    assert "--port=8899" in cmd and "--no-browser" in cmd and "--x=1" in cmd
    assert cmd[-1] == str(NOTEBOOKS / "00-start-here.ipynb")  # the file JupyterLab opens


def test_missing_jupyterlab_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jupyterlab" else real(name)
    )
    with pytest.raises(ProfileLabError, match=r"JupyterLab is not installed.*pip install"):
        lab_command(NOTEBOOKS)


def test_lab_command_without_options() -> None:
    cmd = lab_command(NOTEBOOKS)
    assert not any(c.startswith("--port") or c == "--no-browser" for c in cmd)


def test_outside_a_clone_the_command_says_how_to_get_one(tmp_path: Path) -> None:
    # an installed copy of the package (not in a clone), run from an unrelated directory
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "profilelab", site / "profilelab", ignore=shutil.ignore_patterns("__pycache__")
    )
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "profilelab", "lab", "--print-command"],
        cwd=work,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("profilelab: error: no notebooks/00-start-here.ipynb found")
    assert "git clone" in proc.stderr and "bash dev/lab" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_lab_serves_the_clone_and_opens_start_here(tmp_path: Path) -> None:
    with profilelab_lab(tmp_path) as lab:
        url = lab.opened_url()
        api = f"{lab.base}/api/contents/notebooks/00-start-here.ipynb?token={lab.token}"
        with urllib.request.urlopen(api, timeout=10) as resp:
            assert resp.status == 200
    assert url.startswith(f"{lab.base}/lab/tree/notebooks/00-start-here.ipynb")
