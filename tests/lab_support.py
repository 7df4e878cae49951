"""Start ``profilelab lab`` for a test: a real JupyterLab server on 127.0.0.1 with a token,
serving a temporary copy of the notebooks, whose "browser" is a script that records the
address JupyterLab asks it to open."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab_driver import LAB_ARGS
from tests.notebook_support import NOTEBOOKS, ROOT, kernel_env
from tests.test_flame_jupyterlab import free_port

RECORDER = "import pathlib, sys\npathlib.Path(sys.argv[1]).write_text(sys.argv[2])\n"


@dataclass(frozen=True)
class Lab:
    base: str  # http://127.0.0.1:PORT
    token: str
    clone: Path  # the served directory (a copy of the repository's notebooks)
    opened: Path  # where the recording browser writes the address it was given
    log: Path

    def opened_url(self, timeout: float = 60) -> str:
        """The http address JupyterLab opened (read through its redirect file)."""
        deadline = time.monotonic() + timeout
        while not self.opened.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"no browser was opened: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        target = self.opened.read_text().strip()
        if target.startswith("file:"):
            page = Path(urllib.request.url2pathname(target[len("file:") :])).read_text()
            found = re.search(r'url=([^"]+)"', page)
            assert found, page
            target = found.group(1)
        return target


@contextlib.contextmanager
def profilelab_lab(tmp_path: Path) -> Iterator[Lab]:
    """Run ``python -m profilelab lab`` on a copy of notebooks/ until the block ends."""
    if shutil.which("jupyter") is None and not _has("jupyterlab"):
        pytest.skip("jupyterlab is not installed")
    clone = tmp_path / "clone"
    shutil.copytree(NOTEBOOKS, clone / "notebooks")
    opened, recorder = tmp_path / "opened.txt", tmp_path / "browser.py"
    recorder.write_text(RECORDER)
    port, token = free_port(), secrets.token_hex(16)
    env = kernel_env()
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[var] = str(tmp_path / var.lower())
    cmd = [
        sys.executable, "-m", "profilelab", "lab", "--dir", str(clone), "--port", str(port),
        "--", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0", "--LabApp.news_url=",
        f"--ServerApp.browser={sys.executable} {recorder} {opened} %s",
        "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *LAB_ARGS,
    ]  # fmt: skip
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        lab = Lab(f"http://127.0.0.1:{port}", token, clone, opened, log)
        try:
            _wait_until_up(proc, lab)
            yield lab
        finally:
            # the server and its kernels share the process group we created for it
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)


def _wait_until_up(proc: subprocess.Popen[bytes], lab: Lab, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"profilelab lab exited: {lab.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{lab.base}/api/status?token={lab.token}", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not start within {timeout:.0f} s")
            time.sleep(0.3)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
