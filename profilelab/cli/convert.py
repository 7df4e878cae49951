"""``profilelab convert IN [IN...] OUT``: read any supported inputs, write one output format."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import profilelab
from profilelab.cli._common import (
    add_command,
    add_selection_arguments,
    selection_from,
)
from profilelab.errors import QueryError

EXAMPLES = """\
  profilelab convert cpu.pb.gz cpu.folded
  profilelab convert heap.pb.gz heap.speedscope.json --sample-index inuse_space
  profilelab convert a.pb.gz b.pb.gz merged.pb.gz
  profilelab convert new.pb.gz diff.pb.gz --diff-base old.pb.gz
  profilelab convert legacy.heap - --to folded | flamegraph.pl > heap.svg
  profilelab convert perf.script out.folded --root pid --annotate kernel,jit --unknown binary
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "convert",
        "Convert profiles between formats (pprof, legacy pprof, folded, speedscope, "
        ".cpuprofile, OTLP) and merge several inputs into one output.",
        EXAMPLES,
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="input profiles (any readable format)")
    p.add_argument("output", metavar="OUT", help="output file, or - for standard output")
    p.add_argument(
        "--to",
        metavar="FORMAT",
        help="output format (pprof, otlp, otlp-json, folded, speedscope); "
        "default: from OUT's suffix",
    )
    p.add_argument(
        "--diff-base",
        metavar="BASE",
        action="append",
        help="pprof output only: subtract BASE as go tool pprof -diff_base does "
        "(negated samples labelled pprof::base)",
    )
    # --sample-index keeps one type (folded writes the default type without it, the others
    # write every type); the other selection flags rewrite what is written.
    add_selection_arguments(p, output=False, short_to=False)
    folded = p.add_argument_group(
        "folded output", "as stackcollapse-perf.pl writes perf script stacks (docs/formats.md)"
    )
    folded.add_argument(
        "--root",
        choices=["comm", "pid", "tid"],
        help="a root frame per process: comm, comm-pid or comm-pid/tid (from the labels)",
    )
    folded.add_argument(
        "--annotate",
        metavar="KINDS",
        help="comma-separated: kernel (_[k]), jit (_[j]), inline (_[i]), all (kernel,jit)",
    )
    folded.add_argument(
        "--unknown",
        choices=["address", "binary", "binary-address"],
        help="name frames without a symbol 0x<address> (default), [binary] or [binary <address>]",
    )
    p.set_defaults(func=run)


def folded_options(args: argparse.Namespace, fmt: str) -> dict[str, object]:
    """The folded writer's options from the flags; a QueryError for another format."""
    given = {
        "root": args.root,
        "annotate": args.annotate,
        "unknown": args.unknown,
    }
    given = {k: v for k, v in given.items() if v}
    if given and fmt != "folded":
        flags = ", ".join(f"--{k}" for k in given)
        raise QueryError(f"{flags}: options of the folded output, not of {fmt}")
    if "annotate" in given:
        kinds = {k.strip() for k in str(given["annotate"]).split(",") if k.strip()}
        if "all" in kinds:
            kinds = (kinds - {"all"}) | {"kernel", "jit"}
        given["annotate"] = frozenset(kinds)
    return given


def output_format(output: str, to: str | None) -> str:
    """The format to write: --to, else the one OUT's suffix names, else a QueryError."""
    from profilelab import writers

    if to:
        return to
    found = writers.format_for_path(output)
    if found is None:
        writers._load_builtin()
        known = ", ".join(sorted(writers.WRITERS))
        raise QueryError(
            f"cannot tell the output format from {output!r}; use --to FORMAT (known: {known})"
        )
    return found


def run(args: argparse.Namespace) -> int:
    from profilelab.core.restriction import narrow

    fmt = output_format(args.output, args.to)
    selection = selection_from(args, sample_index=None)
    profile = narrow(profilelab.load(args.inputs), selection, "convert")
    if args.diff_base:
        if fmt != "pprof":
            raise QueryError("--diff-base writes pprof only (the format that keeps diffs)")
        if args.sample_index is not None:
            raise QueryError("--diff-base writes every sample type; drop --sample-index")
        base = profilelab.load(args.diff_base)
        from profilelab.writers.pprof import write_diff

        _emit(args.output, lambda out: write_diff(profile, base, out), fmt)
        return 0
    from profilelab import writers

    options = folded_options(args, fmt)
    _emit(
        args.output,
        lambda out: writers.write(profile, out, fmt, sample_type=args.sample_index, **options),
        fmt,
    )
    return 0


def _emit(output: str, write: Callable[[BinaryIO], None], fmt: str) -> None:
    """Write to stdout, or to a temporary file renamed over OUT once complete (with the
    permissions a new file gets, 0666 minus the umask, not the temporary file's 0600);
    then say what was written."""
    if output == "-":
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise QueryError(f"{output}: directory {str(directory)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {output} ({fmt}, {target.stat().st_size:,} bytes)")
