"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse

#: Formatter that keeps the example blocks of each command's epilog as written.
HelpFormatter = argparse.RawDescriptionHelpFormatter


def add_command(
    sub: argparse._SubParsersAction, name: str, help: str, examples: str
) -> argparse.ArgumentParser:
    """Add a sub-command whose help ends with its examples (every command has some)."""
    return sub.add_parser(
        name,
        help=help,
        description=help,
        epilog="examples:\n" + examples,
        formatter_class=HelpFormatter,
    )
