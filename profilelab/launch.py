"""Find the notebooks of a profilelab clone and build the command that opens JupyterLab on them.

The notebooks (``notebooks/00-start-here.ipynb`` and the playbooks) and the datasets they
read live in the repository, not in the installed package. :func:`find_notebooks` looks for
them, first match wins:

1. the directory given by the caller (``profilelab lab --dir DIR``);
2. the current directory and its parents (run from anywhere inside a clone);
3. the parents of the imported package (an editable install, ``pip install -e .``).

Anything else raises :class:`~profilelab.errors.ProfileLabError` saying how to get a clone.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from profilelab.errors import ProfileLabError

#: The notebook JupyterLab opens first, relative to the notebooks directory.
START_HERE = "00-start-here.ipynb"
NOTEBOOKS_DIR = "notebooks"
CLONE_HINT = (
    "profilelab lab opens the notebooks of a profilelab clone: "
    "git clone the repository and run `bash dev/lab` inside it (or pass --dir DIR)"
)


def find_notebooks(directory: str | Path | None = None, cwd: Path | None = None) -> Path:
    """The notebooks directory (the one holding ``00-start-here.ipynb``)."""
    if directory is not None:
        given = Path(directory).expanduser().resolve()
        for candidate in (given, given / NOTEBOOKS_DIR):
            if (candidate / START_HERE).is_file():
                return candidate
        raise ProfileLabError(f"{given}: no {START_HERE} there or in {given / NOTEBOOKS_DIR}")
    searched = []
    for base in _search_roots(cwd or Path.cwd()):
        searched.append(str(base))
        if (base / NOTEBOOKS_DIR / START_HERE).is_file():
            return base / NOTEBOOKS_DIR
    raise ProfileLabError(
        f"no {NOTEBOOKS_DIR}/{START_HERE} found in {searched[0]} or its parents, nor next to "
        f"the installed package ({Path(__file__).resolve().parent}); {CLONE_HINT}"
    )


def _search_roots(cwd: Path) -> Iterator[Path]:
    here = cwd.resolve()
    yield here
    yield from here.parents
    package = Path(__file__).resolve().parent
    yield from package.parents


def lab_command(
    notebooks: Path,
    *,
    port: int | None = None,
    no_browser: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """The ``jupyter lab`` command: served from the clone's root, opening the start-here
    notebook (``lab/tree/notebooks/00-start-here.ipynb``); ``extra`` is passed through.
    As root (a fresh Debian machine set up by dev/setup) it adds ``--allow-root``."""
    if importlib.util.find_spec("jupyterlab") is None:
        raise ProfileLabError(
            "JupyterLab is not installed in this Python; install it with "
            "`pip install -e '.[lab]'` (or run `bash dev/lab`, which does it for you)"
        )
    root = notebooks.parent
    # `python -m jupyterlab`, not `jupyter lab`: the latter runs the first jupyter-lab on
    # PATH, which need not be this interpreter's (a venv's lab started the machine's one).
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}"]
    if port is not None:
        cmd.append(f"--port={port}")
    if no_browser:
        cmd.append("--no-browser")
    if _is_root():
        # dev/setup runs as root on Debian (it installs apt packages); Jupyter refuses root
        # unless told, and `bash dev/lab` must work from the same shell.
        cmd.append("--allow-root")
    cmd.extend(extra)
    cmd.append(str(notebooks / START_HERE))
    return cmd


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0
