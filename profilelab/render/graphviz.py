"""Drawing DOT text with Graphviz's ``dot`` program (Debian package ``graphviz``)."""

from __future__ import annotations

import shutil
import subprocess

from profilelab.errors import ProfileLabError

FORMATS = ("svg", "png")

#: How to get ``dot``, said wherever it is missing.
INSTALL_HINT = (
    "install Graphviz, e.g. apt-get install graphviz, brew install graphviz or "
    "conda install graphviz"
)


def render(dot_text: str, fmt: str) -> bytes:
    """``dot_text`` drawn as ``fmt`` (svg or png) by ``dot -T<fmt>``."""
    if fmt not in FORMATS:
        raise ProfileLabError(f"graph format {fmt!r} is not one of {', '.join(FORMATS)}")
    return run_dot(dot_text, fmt, f"drawing a graph as {fmt}", "; --format dot needs nothing")


def run_dot(dot_text: str, fmt: str, purpose: str, extra_hint: str = "") -> bytes:
    """The output of ``dot -T<fmt>`` for ``dot_text``; a missing ``dot`` or a failing run
    is one :class:`ProfileLabError` line saying ``purpose`` needs it and how to get it."""
    exe = shutil.which("dot")
    if exe is None:
        raise ProfileLabError(
            f"{purpose} needs Graphviz's 'dot' program, which was not found on PATH "
            f"({INSTALL_HINT}{extra_hint})"
        )
    proc = subprocess.run(
        [exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True, check=False
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise ProfileLabError(f"dot -T{fmt} failed: {detail[-1] if detail else proc.returncode}")
    return proc.stdout
