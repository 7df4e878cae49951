"""Options shared by the report commands (top, peek, tags, traces), named as pprof's flags."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

import profilelab
from profilelab._malloc import keep_freed_memory
from profilelab.cli._common import add_selection_arguments, selection_kwargs
from profilelab.errors import QueryError
from profilelab.readers import prefetch

if TYPE_CHECKING:
    from collections.abc import Sequence

    from profilelab.model.profile import Profile
    from profilelab.ops.options import ReportOptions


def add_report_options(
    p: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "csv", "json")
) -> None:
    """The shared selection flags plus pprof's report options (trimming options only change
    ``top``, as in pprof). A report only prints (or writes one file at once), so the
    program skips the interpreter's collections at exit (see ``cli.main``)."""
    p.set_defaults(freeze_at_exit=True)
    p.add_argument("files", nargs="+", metavar="FILE", help="profiles (merged, as pprof does)")
    add_selection_arguments(p, formats=formats)
    g = p.add_argument_group("pprof report options (pprof's names and defaults)")
    g.add_argument("--mean", action="store_true", help="divide values by the first sample value")
    g.add_argument("--base", metavar="FILE", action="append", help="subtract this profile")
    g.add_argument(
        "--diff-base",
        "--diff_base",
        metavar="FILE",
        action="append",
        help="compare against this profile (percentages of the base)",
    )
    g.add_argument("--normalize", action="store_true", help="scale to the base's total first")
    g.add_argument(
        "--nodefraction",
        type=float,
        help="top: hide nodes below this fraction of the total "
        "(default 0.005 for text, 0 for csv/json)",
    )
    g.add_argument(
        "--edgefraction",
        type=float,
        help="top: edges below this fraction do not make a node '(inline)' (default 0.001)",
    )
    g.add_argument("--cum", action="store_true", help="sort by cumulative value")
    g.add_argument("--unit", default="minimum", help="output unit, e.g. ms, MB (default: auto)")
    g.add_argument(
        "--compact-labels",
        "--compact_labels",
        action="store_true",
        help="omit the profile lines of the text header",
    )
    g.add_argument(
        "--names",
        choices=("pprof", "full"),
        help="function names as pprof prints them (C++/Rust/generic names simplified) or "
        "as stored (default: pprof for text, full for csv/json)",
    )


def add_source_options(p: argparse.ArgumentParser) -> None:
    """``--source-path`` and ``--trim-path``: where source files are (pprof's flags)."""
    g = p.add_argument_group("source files (pprof's -source_path and -trim_path)")
    g.add_argument(
        "--source-path",
        "--source_path",
        metavar="DIRS",
        help="':'-separated directories searched, with their parents, for source files "
        "(default: the current directory)",
    )
    g.add_argument(
        "--trim-path",
        "--trim_path",
        metavar="PREFIX",
        help="':'-separated prefixes removed from the profile's file names first",
    )


def options_from(args: argparse.Namespace) -> ReportOptions:
    """ReportOptions from parsed arguments (loads --base / --diff-base files)."""
    from profilelab.ops.options import ReportOptions

    base_files = args.base or []
    diff_files = args.diff_base or []
    if base_files and diff_files:
        raise QueryError("--base and --diff-base cannot both be given")
    base: Profile | None = None
    if base_files or diff_files:
        base = profilelab.load(base_files or diff_files)
    return ReportOptions(
        **selection_kwargs(args),
        mean=args.mean,
        nodecount=getattr(args, "nodecount", None),
        nodefraction=getattr(args, "nodefraction", None),
        edgefraction=getattr(args, "edgefraction", None),
        cum=getattr(args, "cum", False),
        unit=args.unit,
        base=base,
        diff_base=bool(diff_files),
        normalize=args.normalize,
        compact_labels=args.compact_labels,
        names=getattr(args, "names", None),
        call_tree=getattr(args, "call_tree", False),
        relative_percentages=getattr(args, "relative_percentages", False),
        source_path=getattr(args, "source_path", None),
        trim_path=getattr(args, "trim_path", None),
    )


def run_report(args: argparse.Namespace, kind: str, **kwargs: str | None) -> str:
    """Report ``kind`` of ``args.files`` with the report options of ``args``, as text, CSV or
    JSON, the files loaded by :func:`load_prefetched`."""
    profile = load_prefetched(args.files)
    from profilelab.render import report

    return report(profile, kind, options_from(args), fmt=args.format, **kwargs)


#: A report command serves blocks below this size from its heap (keeping them when freed)
#: and returns free heap to the kernel only past the second size.
REUSED_BLOCK_BYTES = 256 << 20
KEPT_FREE_BYTES = 1 << 30
#: Read by OpenBLAS (NumPy's linear algebra) once, when NumPy is first imported.
BLAS_THREADS = "OPENBLAS_NUM_THREADS"


def load_prefetched(paths: Sequence[str]) -> Profile:
    """Load ``paths``, read and gunzipped in a background thread while Polars, NumPy and
    Arrow import (a few tenths of a second that a big input no longer waits for).

    The command keeps the memory it frees for reuse (:mod:`profilelab._malloc`): building
    and reporting a big profile frees and allocates arrays of millions of rows step after
    step, and fresh memory comes zeroed by the kernel (a quarter of the CPU of ``top`` on
    the 1M-sample benchmark profile, for about 80 MB more at the peak).

    The reports never multiply matrices, so NumPy's OpenBLAS is kept to one thread unless
    the caller chose otherwise: its pool of threads spins for about 0.03 s of CPU while
    NumPy imports, a tenth of ``profilelab top`` on a small profile.
    """
    keep_freed_memory(mmap_threshold=REUSED_BLOCK_BYTES, trim_threshold=KEPT_FREE_BYTES)
    os.environ.setdefault(BLAS_THREADS, "1")
    files = prefetch([*paths])
    import profilelab.api  # Polars, NumPy and Arrow, while the files are read

    return profilelab.api.load(files)


def write(text: str) -> None:
    sys.stdout.write(text)
