"""ReportOptions: every option of the pprof-compatible reports, with pprof's defaults.

The names follow ``go tool pprof``'s flags (``-nodecount`` is ``nodecount``, ``-show_from``
is ``show_from``); :func:`ReportOptions.validated` checks values and names the bad one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from profilelab.errors import QueryError

if TYPE_CHECKING:
    from profilelab.model.profile import Profile

GRANULARITIES = ("functions", "filefunctions", "files", "lines", "addresses")
NAMES = ("pprof", "full")


@dataclass(frozen=True)
class ReportOptions:
    """Options shared by top, peek, tags and traces (pprof's names and defaults).

    ``nodecount=None`` means pprof's default for the report (all nodes for ``top``);
    ``nodefraction=None`` means 0.005 for text output (pprof's default) and 0 for tables;
    ``edgefraction`` likewise (0.001 / 0); it only affects ``(inline)`` labels of ``top``.
    """

    sample_index: str | int | None = None  # name or position; None = pprof's default type
    mean: bool = False  # divide every value by the sample's first value (-mean)
    granularity: str = "functions"
    noinlines: bool = False
    focus: str | None = None
    ignore: str | None = None
    hide: str | None = None
    show: str | None = None
    show_from: str | None = None
    prune_from: str | None = None
    tagfocus: str | None = None
    tagignore: str | None = None
    tagshow: str | None = None
    taghide: str | None = None
    nodecount: int | None = None
    nodefraction: float | None = None
    edgefraction: float | None = None  # None: 0.001 for text (pprof's default), 0 for tables
    cum: bool = False  # sort by cum instead of flat
    unit: str = "minimum"  # output unit of text reports (-unit)
    base: Profile | None = None  # subtracted from the profile (-base / -diff_base)
    diff_base: bool = False  # the base is a diff base: percentages relative to it
    normalize: bool = False  # scale the profile to the base's total first
    drop_frames: bool = True  # apply the profile's own drop_frames/keep_frames
    compact_labels: bool = False  # text header without the profile lines (-compact_labels)
    # "pprof": function names simplified as go tool pprof prints them (ops/demangle.py);
    # "full": as stored. None: pprof for text reports, full for tables and the API.
    names: str | None = None
    call_tree: bool = False  # graph: one node per call path (-call_tree; dot and callgrind)
    relative_percentages: bool = False  # percentages of the filtered total (-relative_percentages)
    source_path: str | None = None  # where list finds source files (-source_path, ":"-separated)
    trim_path: str | None = None  # prefixes removed from file names (-trim_path)

    def with_(self, **changes: Any) -> ReportOptions:
        return replace(self, **changes)

    def validated(self) -> ReportOptions:
        if self.granularity not in GRANULARITIES:
            raise QueryError(
                f"granularity {self.granularity!r} is not one of {', '.join(GRANULARITIES)}"
            )
        if self.names is not None and self.names not in NAMES:
            raise QueryError(f"names {self.names!r} is not one of {', '.join(NAMES)}")
        if self.nodecount is not None and self.nodecount < 0:
            raise QueryError(f"nodecount must be >= 0, got {self.nodecount}")
        if self.nodefraction is not None and not 0 <= self.nodefraction <= 1:
            raise QueryError(f"nodefraction must be within [0, 1], got {self.nodefraction}")
        if self.normalize and self.base is None:
            raise QueryError("normalize needs a base profile (base=... or --base FILE)")
        return self

    def active_filters(self) -> list[str]:
        """The ``key=value`` filter list pprof prints under "Active filters:"."""
        names: tuple[str, ...] = ("focus", "ignore", "hide", "show", "show_from")
        names += ("tagfocus", "tagignore", "tagshow", "taghide")
        return [f"{n}={getattr(self, n)}" for n in names if getattr(self, n)]
