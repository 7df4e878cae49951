"""The ``profilelab`` command line: a thin adapter over the library.

Each command is one module in this package that defines ``register(subparsers)``; the
module adds its sub-parser and sets ``func`` to a callable ``(args) -> int``. Commands
are found by scanning the package, so adding a command never touches this file.
Library errors (:class:`~profilelab.errors.ProfileLabError`) become one line on stderr
and exit status 1; usage errors exit 2 (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from profilelab.errors import ProfileLabError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="profilelab",
        description="Continuous-profiling analysis: pprof and OpenTelemetry profiles as tables.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ProfileLabError as exc:
        print(f"profilelab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("profilelab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
