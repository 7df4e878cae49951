"""Options shared by the report commands (top, peek, tags, traces), named as pprof's flags."""

from __future__ import annotations

import argparse
import sys

import profilelab
from profilelab.model.profile import Profile
from profilelab.ops.options import GRANULARITIES, ReportOptions

_FILTERS = {
    "focus": ("REGEX", "keep samples with a frame matching REGEX"),
    "ignore": ("REGEX", "drop samples with a frame matching REGEX"),
    "hide": ("REGEX", "remove frames matching REGEX from the stacks"),
    "show": ("REGEX", "keep only frames matching REGEX in the stacks"),
    "show-from": ("REGEX", "drop frames above the root-most match"),
    "prune-from": ("REGEX", "drop frames beneath the leaf-most match"),
    "tagfocus": ("FILTER", "keep samples by label: [key=]regex or a range like 1mb:2gb"),
    "tagignore": ("FILTER", "drop samples by label (same syntax as --tagfocus)"),
    "tagshow": ("REGEX", "show only label keys matching REGEX (tags, traces)"),
    "taghide": ("REGEX", "hide label keys matching REGEX (tags, traces)"),
}


def add_report_options(
    p: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "csv", "json")
) -> None:
    """Add the pprof-style options (trimming options only change ``top``, as in pprof)."""
    p.add_argument("files", nargs="+", metavar="FILE", help="profiles (merged, as pprof does)")
    g = p.add_argument_group("sample selection (pprof's names and defaults)")
    g.add_argument(
        "--sample-index", "--sample_index", metavar="T", help="sample type name or number"
    )
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
    g.add_argument("--granularity", choices=GRANULARITIES, default="functions")
    for name in GRANULARITIES:
        g.add_argument(
            f"--{name}",
            dest="granularity",
            action="store_const",
            const=name,
            help=f"same as --granularity {name}",
        )
    g.add_argument("--noinlines", action="store_true", help="attribute inlined frames to callers")
    g.add_argument(
        "--no-drop-frames",
        dest="drop_frames",
        action="store_false",
        help="ignore the profile's drop_frames/keep_frames",
    )
    f = p.add_argument_group("filters (RE2 regexes, matched as pprof matches them)")
    for name, (metavar, text) in _FILTERS.items():
        aliases = [f"--{name.replace('-', '_')}"] if "-" in name else []
        f.add_argument(
            f"--{name}", *aliases, dest=name.replace("-", "_"), metavar=metavar, help=text
        )
    o = p.add_argument_group("output")
    o.add_argument("--nodecount", type=int, help="top: show at most N nodes (default: all)")
    o.add_argument(
        "--nodefraction",
        type=float,
        help="top: hide nodes below this fraction of the total "
        "(default 0.005 for text, 0 for csv/json)",
    )
    o.add_argument(
        "--edgefraction",
        type=float,
        help="top: edges below this fraction do not make a node '(inline)' "
        "(default 0.001 for text, 0 for csv/json)",
    )
    o.add_argument("--cum", action="store_true", help="sort by cumulative value")
    o.add_argument("--unit", default="minimum", help="output unit, e.g. ms, MB (default: auto)")
    o.add_argument(
        "--compact-labels",
        "--compact_labels",
        action="store_true",
        help="omit the profile lines of the text header",
    )
    o.add_argument("--format", choices=formats, default=formats[0])
    o.add_argument(
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
    base_files = args.base or []
    diff_files = args.diff_base or []
    if base_files and diff_files:
        raise profilelab.QueryError("--base and --diff-base cannot both be given")
    base: Profile | None = None
    if base_files or diff_files:
        base = profilelab.load(base_files or diff_files)
    return ReportOptions(
        sample_index=args.sample_index,
        mean=args.mean,
        granularity=args.granularity,
        noinlines=args.noinlines,
        focus=args.focus,
        ignore=args.ignore,
        hide=args.hide,
        show=args.show,
        show_from=args.show_from,
        prune_from=args.prune_from,
        tagfocus=args.tagfocus,
        tagignore=args.tagignore,
        tagshow=args.tagshow,
        taghide=args.taghide,
        nodecount=getattr(args, "nodecount", None),
        nodefraction=getattr(args, "nodefraction", None),
        edgefraction=getattr(args, "edgefraction", None),
        cum=getattr(args, "cum", False),
        unit=args.unit,
        base=base,
        diff_base=bool(diff_files),
        normalize=args.normalize,
        drop_frames=args.drop_frames,
        compact_labels=args.compact_labels,
        names=getattr(args, "names", None),
        call_tree=getattr(args, "call_tree", False),
        relative_percentages=getattr(args, "relative_percentages", False),
        source_path=getattr(args, "source_path", None),
        trim_path=getattr(args, "trim_path", None),
    )


def write(text: str) -> None:
    sys.stdout.write(text)
