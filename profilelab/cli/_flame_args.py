"""Arguments shared by the ``flame`` and ``diff`` commands (plus the shared selection flags)."""

from __future__ import annotations

import argparse

from profilelab.cli._common import add_selection_arguments
from profilelab.errors import QueryError


def add_view_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="OUT.html", help="HTML file to write")
    p.add_argument("--title", help="page title")
    p.add_argument(
        "--max-nodes",
        type=int,
        default=100_000,
        help="node budget of the precomputed tree (bounds the file size; default 100000)",
    )
    add_selection_arguments(p, output=False)


def parse_labels(items: list[str] | None) -> dict[str, list[str]]:
    """``KEY=VALUE`` items into a label filter (a key given twice accepts either value)."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise QueryError(f"label filter {item!r} is not KEY=VALUE")
        out.setdefault(key, []).append(value)
    return out
