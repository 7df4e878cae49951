"""ReportOptions: the selection plus the output options of the pprof-compatible reports.

The selection fields (sample type, filters, transforms, granularity, ...) are those of
:class:`profilelab.core.Selection`, defined and validated there once; the options added
here follow ``go tool pprof``'s flags (``-nodecount`` is ``nodecount``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from profilelab.core.selection import Selection
from profilelab.core.vocabulary import GRANULARITIES
from profilelab.errors import QueryError

if TYPE_CHECKING:
    from profilelab.model.profile import Profile

__all__ = ["GRANULARITIES", "NAMES", "ReportOptions"]

NAMES = ("pprof", "full")


@dataclass(frozen=True)
class ReportOptions(Selection):
    """A :class:`~profilelab.core.Selection` and the options of top, peek, tags and traces.

    ``nodecount=None`` means pprof's default for the report (all nodes for ``top``);
    ``nodefraction=None`` means 0.005 for text output (pprof's default) and 0 for tables;
    ``edgefraction`` likewise (0.001 / 0); it only affects ``(inline)`` labels of ``top``.
    """

    mean: bool = False  # divide every value by the sample's first value (-mean)
    nodecount: int | None = None
    nodefraction: float | None = None
    edgefraction: float | None = None  # None: 0.001 for text (pprof's default), 0 for tables
    cum: bool = False  # sort by cum instead of flat
    unit: str = "minimum"  # output unit of text reports (-unit)
    base: Profile | None = None  # subtracted from the profile (-base / -diff_base)
    diff_base: bool = False  # the base is a diff base: percentages relative to it
    normalize: bool = False  # scale the profile to the base's total first
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
        if self.names is not None and self.names not in NAMES:
            raise QueryError(f"names {self.names!r} is not one of {', '.join(NAMES)}")
        if self.nodecount is not None and self.nodecount < 0:
            raise QueryError(f"nodecount must be >= 0, got {self.nodecount}")
        for name in ("nodefraction", "edgefraction"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise QueryError(f"{name} must be within [0, 1], got {value}")
        if self.normalize and self.base is None:
            raise QueryError("normalize needs a base profile (base=... or --base FILE)")
        return self
