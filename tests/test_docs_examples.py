"""Every example of docs/reports.md and docs/api.md runs, and prints what the page shows.

``console`` blocks: each ``$ profilelab ...`` line runs in-process; the lines after it (up
to the next ``$``) are its exact output, or none when the page shows no output.
``python`` blocks of a page run in order in one namespace, from the repository root.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import utc_timezone

from profilelab.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"```(console|python)\n(.*?)```", re.S)


def blocks(page: str, kind: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return [body for k, body in _BLOCK.findall(text) if k == kind]


def commands(page: str) -> list[tuple[str, str | None]]:
    """(command, expected output or None) for every ``$`` line of the page."""
    out = []
    for body in blocks(page, "console"):
        parts = re.split(r"^\$ ", body, flags=re.M)[1:]
        for part in parts:
            cmd, _, rest = part.partition("\n")
            out.append((cmd, rest if rest else None))
    return out


@pytest.fixture(autouse=True)
def at_root(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(ROOT)
    with utc_timezone():
        yield


CONSOLE = [c for page in ("reports.md", "api.md") for c in commands(page)]


@pytest.mark.parametrize("cmd,expected", CONSOLE, ids=[c[0][:60] for c in CONSOLE])
def test_console_example(
    cmd: str, expected: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = shlex.split(cmd)
    assert argv[0] == "profilelab"
    assert main(argv[1:]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if expected is not None:
        assert out == expected


@pytest.mark.parametrize("page", ["api.md"])
def test_python_examples(page: str, tmp_path: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for body in blocks(page, "python"):
        exec(compile(body, f"docs/{page}", "exec"), namespace)
