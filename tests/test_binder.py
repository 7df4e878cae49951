"""The Binder environment (binder/): pins that satisfy the package's requirements, the build
plan repo2docker makes from them (offline, no Docker), and, when enabled, a fresh virtual
environment built from the pins that runs the start-here notebook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.notebook_support import NOTEBOOKS, ROOT

BINDER = ROOT / "binder"
packaging = pytest.importorskip("packaging")
from packaging.requirements import Requirement  # noqa: E402
from packaging.specifiers import SpecifierSet  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

#: Set to 1 to run the slow test that installs the pins from PyPI into a fresh venv.
NETWORK_ENV = "PROFILELAB_BINDER_TEST"


def pins() -> dict[str, str]:
    """Package name -> pinned version from binder/requirements.txt (local lines skipped)."""
    out = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-e"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not pinned: {line}"
        out[canonicalize_name(req.name)] = specs[0].version
    return out


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_requirements_install_the_package_itself_editable_with_the_lab_extra() -> None:
    lines = [x.strip() for x in (BINDER / "requirements.txt").read_text().splitlines()]
    assert "-e .[lab]" in lines  # editable: profilelab.datasets finds the clone's datasets/


def test_every_dependency_is_pinned_within_the_package_requirements() -> None:
    pinned = pins()
    deps = [*project()["dependencies"], *project()["optional-dependencies"]["lab"]]
    for dep in map(Requirement, deps):
        name = canonicalize_name(dep.name)
        assert name in pinned, f"{name} has no pin in binder/requirements.txt"
        assert dep.specifier.contains(pinned[name]), f"{name}=={pinned[name]} breaks {dep}"


def test_runtime_is_a_python_the_package_supports() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    found = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert found, runtime
    assert SpecifierSet(project()["requires-python"]).contains(found.group(1) + ".0")


def test_readme_badge_and_docs_open_start_here() -> None:
    docs = (ROOT / "docs" / "notebooks.md").read_text()
    assert "urlpath=lab/tree/notebooks/00-start-here.ipynb" in docs
    assert (NOTEBOOKS / "00-start-here.ipynb").is_file()


def test_repo2docker_build_plan() -> None:
    exe = shutil.which("jupyter-repo2docker")
    if exe is None:
        pytest.skip("jupyter-repo2docker is not installed (pip install jupyter-repo2docker)")
    proc = subprocess.run(
        [exe, "--no-build", "--no-run", "--debug", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    plan = proc.stdout + proc.stderr
    assert proc.returncode == 0, plan[-3000:]
    assert "python=3.11" in plan  # binder/runtime.txt is honoured
    # the pins are installed once the repository is copied in (they reference it: -e .)
    copy = plan.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    install = plan.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    assert copy < install
    assert "binder/postBuild" not in plan  # nothing else runs at build time


@pytest.mark.slow
def test_pinned_environment_runs_start_here(tmp_path: Path) -> None:
    if os.environ.get(NETWORK_ENV) != "1":
        pytest.skip(f"installs from PyPI: set {NETWORK_ENV}=1 to run")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    clone = tmp_path / "clone"  # pip -e . must not write into the checkout under test
    shutil.copytree(
        ROOT, clone, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build")
    )
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_INPUT": "1"}
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        cwd=clone,
        env=env,
        check=True,
        timeout=1200,
    )
    script = (
        "import sys, nbformat, nbclient, profilelab\n"
        "assert profilelab.__file__.startswith(sys.argv[1]), profilelab.__file__\n"
        "nb = nbformat.read(sys.argv[2], as_version=4)\n"
        "nb.cells.append(nbformat.v4.new_code_cell('import sys; print(sys.prefix)'))\n"
        "nbclient.NotebookClient(nb, timeout=300, kernel_name='python3').execute()\n"
        "print('OK', nb.cells[-1].outputs[0]['text'].strip())\n"
    )
    start_here = clone / "notebooks" / "00-start-here.ipynb"
    proc = subprocess.run(
        [python, "-c", script, str(clone), str(start_here)],
        cwd=clone / "notebooks",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["OK", str(venv)]  # the kernel ran in the pinned venv
