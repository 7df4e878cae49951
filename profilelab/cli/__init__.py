"""The ``profilelab`` command line: a thin adapter over the library.

Each command is one module in this package that defines ``register(subparsers)``; the
module adds its sub-parser and sets ``func`` to a callable ``(args) -> int``. Commands
are found by scanning the package, so adding a command never touches this file; to start
quickly, running one command imports only its module (``profilelab top`` -> ``top.py``),
and a module imports heavy libraries inside the function that runs it.
Library errors (:class:`~profilelab.errors.ProfileLabError`) become one line on stderr
and exit status 1; usage errors exit 2 (argparse), with a "did you mean" for a mistyped
command or option.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib
import importlib.util
import os
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NoReturn

from profilelab import __version__
from profilelab.errors import ProfileLabError

if TYPE_CHECKING:
    from _typeshed import SupportsWrite


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone when a module of that name
    registers it (enough to run it, and much cheaper than importing every command)."""
    module = _command_module(command)
    if module is not None:
        parser = _parser([module])
        if command in _subparsers(parser).choices:
            return parser
    return _parser(_command_modules())


def _command_modules() -> list[str]:
    import pkgutil  # its scan imports ``inspect``: only a full parser needs it

    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _command_module(command: str | None) -> str | None:
    """The module of ``command``, looked up by name rather than by scanning the package.

    A command named like a builtin lives in ``<name>_.py`` (``list`` -> ``list_.py``) so
    that importing it does not shadow the builtin in this package.
    """
    if not command or command.startswith("_") or not command.isidentifier():
        return None
    for name in (command, f"{command}_"):
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return name
    return None


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that its messages (``--help``, ``--version``, usage
    errors) fail like any other output: argparse drops a failed write of them, so
    ``profilelab --version > /dev/full`` printed nothing and exited 0."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if file is None or file is sys.stderr:  # nowhere left to say that it failed
            super()._print_message(message, file)
        elif message:
            file.write(message)


def _parser(modules: Sequence[str]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="profilelab",
        allow_abbrev=False,
        description="Continuous-profiling analysis: pprof and OpenTelemetry profiles as tables.",
    )
    parser.add_argument("--version", action="version", version=f"profilelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in modules:
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command of ``argv`` (by default the program's arguments); the exit status."""
    return _run(argv)[0]


def program() -> NoReturn:
    """The ``profilelab`` program (its console script and ``python -m profilelab``):
    :func:`main` on the process's arguments, then the process ends. A report command ends
    it as soon as its output is flushed (:func:`_end_process`)."""
    status, ends_with_report = _run(None)
    if ends_with_report:
        _end_process(status)
    sys.exit(status)


def _run(argv: Sequence[str] | None) -> tuple[int, bool]:
    """The exit status of the command of ``argv``, and whether it ended with a report run
    as the program (``argv`` None)."""
    program = argv is None
    argv = [*(sys.argv[1:] if argv is None else argv)]  # (`list` is the list command here)
    ends_with_report = False
    try:
        try:
            args = _parse(argv)
        except SystemExit as exc:  # argparse has printed the help, the version or misuse
            if program and not exc.code:  # what it printed must reach the output
                sys.stdout.flush()
            raise
        ends_with_report = program and getattr(args, "freeze_at_exit", False)
        if ends_with_report:
            # Nor does it collect while it runs: importing Polars, NumPy and Arrow and
            # running a report set off about a hundred collections (0.02 s of CPU, a
            # twentieth of `top` on a small profile); the data lives in their buffers.
            gc.disable()
        status = int(args.func(args) or 0)
        if program:  # output that cannot be written is this command's error, said here
            sys.stdout.flush()
    except ProfileLabError as exc:
        print(f"profilelab: error: {one_line(str(exc))}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("profilelab: interrupted", file=sys.stderr)
        status = 130
    except BrokenPipeError:
        status = 0
    except OSError as exc:
        if exc.filename is not None or exc.errno not in _WRITE_ERRORS:
            raise
        # a full disk or a failing device under what the command writes (its standard
        # output, or a page or file it writes: errors of writes carry no file name)
        print(f"profilelab: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        if program:  # the interpreter's exit would try the unwritten output again
            sys.stderr.flush()
            os._exit(1)
        status = 1
    finally:
        if ends_with_report:
            # The interpreter's last collections would walk every object of Polars, NumPy
            # and Arrow (a tenth of a second after a big report) to free memory the process
            # is about to give back; a command that only prints its result skips them.
            gc.freeze()
    return status, ends_with_report


def _parse(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``argv``; a misspelt command or option is a usage error with the
    nearest right spelling."""
    parser = build_parser(argv[0] if argv else None)
    commands = _subparsers(parser).choices
    if argv and not argv[0].startswith("-") and argv[0] not in commands:
        parser.error(f"unknown command {argv[0]!r}{_did_you_mean(argv[0], commands)}")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = commands[args.command]
        options = [o for a in command._actions for o in a.option_strings]
        flag = next((u.partition("=")[0] for u in unknown if u.startswith("--")), "")
        hint = _did_you_mean(flag, options) if flag else ""
        command.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    return args


def _end_process(status: int) -> None:
    """End a command that has printed its report, once its output is flushed, without the
    interpreter's shutdown: tearing down the modules of Polars, NumPy and Arrow object by
    object is 0.01 s of every report's CPU and wall time (a small ``top`` is 0.35 s), and
    nothing of theirs needs it (a report writes its files whole and closes them). If the
    output cannot be flushed (a closed pipe), the interpreter's exit reports it as usual.
    Only :func:`program` calls it: :func:`main` returns to its caller."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(status)


def one_line(text: str) -> str:
    """``text`` with control, format and separator characters escaped (``\\n``, ``\\u202e``):
    an error names inputs as given, and a file name must not break the line or reorder it."""
    return "".join(
        ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(ch) in _UNPRINTABLE
        else ch
        for ch in text
    )


_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: errnos of a write that failed (disk full, quota, file too big, device error, an output
#: opened only for reading)
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF})


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'top'?)`` for the closest of ``choices`` (the two closest when both
    are near: ``--form`` could be ``--format`` or ``--from``), else ``""``."""
    import difflib

    close = difflib.get_close_matches(word, [*choices], n=2, cutoff=0.6)
    if len(close) == 2:
        first, second = (difflib.SequenceMatcher(None, word, c).ratio() for c in close)
        if second < first - 0.05:  # only the closest is plausible
            close = close[:1]
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


if __name__ == "__main__":  # pragma: no cover
    program()
