"""Helpers shared by the command modules, and the one flag vocabulary of the commands that
show or compare profiles.

:func:`add_selection_arguments` defines, once, the flags that build a
:class:`profilelab.core.Selection` (sample type, time range, labels, pprof's tag and frame
filters, call-tree transforms, granularity) and the output flags (``--nodecount``,
``--format``); :func:`selection_from` turns parsed arguments into the selection. Defining
the flags imports no heavy library (``profilelab --help`` stays fast).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from profilelab.core.vocabulary import (
    FORMATS,
    GRANULARITIES,
    TRANSFORMS,
    granularity,
    transform_flag,
)

if TYPE_CHECKING:
    from profilelab.core.selection import Selection

#: Formatter that keeps the example blocks of each command's epilog as written.
HelpFormatter = argparse.RawDescriptionHelpFormatter


def add_command(
    sub: argparse._SubParsersAction, name: str, help: str, examples: str
) -> argparse.ArgumentParser:
    """Add a sub-command whose help ends with its examples (every command has some).

    Options must be spelled out (no prefix abbreviations): with ``--from`` and ``--format``
    on one command, a mistyped ``--form`` must be an error with a suggestion, not a guess."""
    return sub.add_parser(
        name,
        allow_abbrev=False,
        help=help,
        description=help,
        epilog="examples:\n" + examples,
        formatter_class=HelpFormatter,
    )


#: pprof's frame and tag filters: flag -> (metavar, help).
FILTERS = {
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

_TRANSFORM_HELP = {
    "merge_function": "merge frames matching REGEX into their callers",
    "merge_call_node": "merge the frame at the end of PATH (root;...;frame) into its caller",
    "focus_function": "keep samples through REGEX, rooted at its first call",
    "focus_subtree": "keep samples starting with PATH, rooted at its last frame",
    "drop_function": "drop samples with a frame matching REGEX",
    "collapse_recursion": "collapse (direct and indirect) recursion of functions matching REGEX",
    "collapse_direct_recursion": "collapse direct recursion of functions matching REGEX",
    "collapse_package": "collapse consecutive frames matching REGEX into one frame",
    "tagroot": "add frames of these label KEYS at the root (pprof -tagroot)",
    "tagleaf": "add frames of these label KEYS at the leaf (pprof -tagleaf)",
    "left_heavy": "order flame-graph siblings heaviest first",
}


class _Transform(argparse.Action):
    """Appends ``(name, argument)`` to ``transforms`` in command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        found = list(getattr(namespace, "transforms", None) or [])
        found.append((self.const, values if isinstance(values, str) else None))
        namespace.transforms = found


def _granularity(text: str) -> str:
    try:
        return granularity(text)
    except Exception as exc:  # argparse reports ArgumentTypeError as a usage error
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_selection_arguments(
    p: argparse.ArgumentParser,
    *,
    time: bool = True,
    output: bool = True,
    short_to: bool = True,
    sample_index_dest: str = "sample_index",
    formats: tuple[str, ...] = FORMATS,
) -> None:
    """The shared flags (see the module docstring); ``time=False`` for commands that have
    their own ``--from/--to``, ``output=False`` for commands without a table output,
    ``short_to=False`` for commands whose ``--to`` means something else (``--end`` then)."""
    g = p.add_argument_group("selection (the same on every command)")
    g.add_argument(
        "--sample-index",
        "--sample_index",
        "--sample-type",
        dest=sample_index_dest,
        metavar="T",
        help="sample type name or position (default: pprof's default type)",
    )
    if time:
        g.add_argument(
            "--from", "--start", dest="start", metavar="TIME", help="start: -1h, RFC 3339, ..."
        )
        ends = ["--to", "--end"] if short_to else ["--end"]
        g.add_argument(*ends, dest="end", metavar="TIME", help="end (exclusive)")
    g.add_argument(
        "--labels",
        metavar="SELECTOR",
        help='keep samples whose labels match, e.g. {service="api",region=~"eu-.*"}',
    )
    g.add_argument(
        "--granularity",
        type=_granularity,
        default="functions",
        metavar="G",
        help=f"what a node is: {', '.join(GRANULARITIES)} (singular accepted)",
    )
    for name in GRANULARITIES:
        g.add_argument(
            f"--{name}",
            dest="granularity",
            action="store_const",
            const=name,
            help=argparse.SUPPRESS,
        )
    g.add_argument("--noinlines", action="store_true", help="attribute inlined frames to callers")
    g.add_argument(
        "--no-drop-frames",
        dest="drop_frames",
        action="store_false",
        help="ignore the profile's drop_frames/keep_frames",
    )
    f = p.add_argument_group("filters (RE2 regexes, matched as pprof matches them)")
    for name, (metavar, text) in FILTERS.items():
        aliases = [f"--{name.replace('-', '_')}"] if "-" in name else []
        f.add_argument(
            f"--{name}", *aliases, dest=name.replace("-", "_"), metavar=metavar, help=text
        )
    t = p.add_argument_group("call-tree transforms (applied first, in command-line order)")
    for name, kind in TRANSFORMS.items():
        flag = transform_flag(name)
        if kind is None:
            t.add_argument(flag, nargs=0, action=_Transform, const=name, help=_TRANSFORM_HELP[name])
        else:
            t.add_argument(
                flag,
                action=_Transform,
                const=name,
                metavar=kind.upper(),
                help=_TRANSFORM_HELP[name],
            )
    p.set_defaults(transforms=[])
    if output:
        o = p.add_argument_group("output")
        o.add_argument("--nodecount", type=int, help="show at most N rows (default: all)")
        o.add_argument("--format", choices=formats, default=formats[0], help=", ".join(formats))


def selection_from(args: argparse.Namespace, **changes: Any) -> Selection:
    """The :class:`~profilelab.core.Selection` the shared flags describe."""
    from profilelab.core.selection import Selection

    return Selection(**{**selection_kwargs(args), **changes})


def selection_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The selection fields of parsed arguments (keyword arguments of ``Selection``)."""
    names: tuple[str, ...] = ("focus", "ignore", "hide", "show", "show_from", "prune_from")
    names += ("tagfocus", "tagignore", "tagshow", "taghide")
    out: dict[str, Any] = {n: getattr(args, n, None) for n in names}
    out.update(
        sample_index=getattr(args, "sample_index", None),
        start_ns=getattr(args, "start", None),
        end_ns=getattr(args, "end", None),
        labels=getattr(args, "labels", None),
        transforms=tuple(getattr(args, "transforms", None) or ()),
        granularity=getattr(args, "granularity", "functions"),
        noinlines=getattr(args, "noinlines", False),
        drop_frames=getattr(args, "drop_frames", True),
    )
    return out


def load_selected(files: Sequence[str], args: argparse.Namespace, consumer: str) -> Any:
    """Load ``files`` and apply the shared selection flags the way every non-report command
    does (:func:`profilelab.core.restriction.narrow`: time, labels, transforms, focus,
    ignore, hide)."""
    import profilelab
    from profilelab.core.restriction import narrow

    return narrow(profilelab.load(list(files)), selection_from(args), consumer)


def add_csv_alias(p: argparse.ArgumentParser) -> None:
    """``--csv``: the older spelling of ``--format csv``."""
    p.add_argument(
        "--csv", dest="format", action="store_const", const="csv", help=argparse.SUPPRESS
    )


def render_table(table: Any, fmt: str) -> str:
    """A Polars frame as ``--format csv`` or ``json`` (the report renderers' conventions)."""
    from profilelab.render.report import to_csv, to_json

    return to_csv(table) if fmt == "csv" else to_json(table)
