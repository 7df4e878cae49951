"""Views: pure data for display (no Jupyter imports).

Flame trees (top-down, inverted, sandwich) and diff trees as columnar numpy arrays, pruned
to what a given pixel width can show, plus the top and diff tables. ``docs/flamegraphs.md``
explains the concepts; :mod:`profilelab.views.encode` packs trees for the browser.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from profilelab.core.selection import Selection as CoreSelection
from profilelab.model.profile import Profile
from profilelab.views._keys import GRANULARITIES
from profilelab.views._select import LabelFilter, label_values, sample_types
from profilelab.views.diff import Comparison
from profilelab.views.flame import DEFAULT_WIDTH_PX, Sandwich, Selection
from profilelab.views.tree import DiffTree, FlameTree

__all__ = [
    "DEFAULT_WIDTH_PX",
    "GRANULARITIES",
    "Comparison",
    "DiffTree",
    "FlameTree",
    "LabelFilter",
    "Sandwich",
    "Selection",
    "comparison",
    "diff_tree",
    "flame_tree",
    "label_values",
    "sample_types",
    "sandwich",
    "top_table",
]


def flame_tree(
    profile: Profile,
    *,
    sample_type: str | None = None,
    granularity: str = "function",
    width_px: int = DEFAULT_WIDTH_PX,
    root: Sequence[str] = (),
    inverted: bool = False,
    labels: LabelFilter | None = None,
    focus: str | None = None,
    ignore: str | None = None,
) -> FlameTree:
    """The flame tree of one sample type (default: pprof's default type), pruned for
    ``width_px`` pixels and rooted at the node path ``root``; ``inverted`` for bottom-up."""
    sel = Selection(profile, sample_type, labels=labels, focus=focus, ignore=ignore)
    return sel.flame(granularity=granularity, width_px=width_px, root=root, inverted=inverted)


def sandwich(
    profile: Profile,
    function: str,
    *,
    sample_type: str | None = None,
    granularity: str = "function",
    width_px: int = DEFAULT_WIDTH_PX,
    labels: LabelFilter | None = None,
    focus: str | None = None,
    ignore: str | None = None,
) -> Sandwich:
    """Callers and callees of ``function`` (see :meth:`Selection.sandwich`)."""
    sel = Selection(profile, sample_type, labels=labels, focus=focus, ignore=ignore)
    return sel.sandwich(function, granularity=granularity, width_px=width_px)


def top_table(
    profile: Profile,
    *,
    sample_type: str | None = None,
    granularity: str = "function",
    labels: LabelFilter | None = None,
    focus: str | None = None,
    ignore: str | None = None,
) -> pl.DataFrame:
    """Self and total per node name (see :meth:`Selection.top`)."""
    sel = Selection(profile, sample_type, labels=labels, focus=focus, ignore=ignore)
    return sel.top(granularity)


def diff_tree(
    base: Profile,
    new: Profile | None = None,
    *,
    base_labels: LabelFilter | None = None,
    new_labels: LabelFilter | None = None,
    sample_type: str | None = None,
    granularity: str = "function",
    width_px: int = DEFAULT_WIDTH_PX,
    root: Sequence[str] = (),
    normalize: bool = False,
    width_by: str = "new",
) -> DiffTree:
    """Diff tree of two profiles, or of two label selections of one (``new`` omitted)."""
    return comparison(
        base, new, base_labels=base_labels, new_labels=new_labels, sample_type=sample_type
    ).tree(
        granularity=granularity,
        width_px=width_px,
        root=root,
        normalize=normalize,
        width_by=width_by,
    )


def comparison(
    base: Profile,
    new: Profile | None = None,
    *,
    base_labels: LabelFilter | None = None,
    new_labels: LabelFilter | None = None,
    sample_type: str | None = None,
    selection: CoreSelection | None = None,
) -> Comparison:
    """A :class:`Comparison`; two selections of one profile share its stack index.

    ``selection`` (a :class:`profilelab.core.Selection`) applies to both sides."""
    b = Selection(base, sample_type, labels=base_labels, selection=selection)
    if new is None or new is base:
        return Comparison(b, b.with_filters(labels=new_labels, focus=b.focus, ignore=b.ignore))
    stype = sample_type or b.sample_type
    if selection is not None:
        selection = selection.with_(sample_index=selection.sample_index or stype)
    return Comparison(b, Selection(new, stype, labels=new_labels, selection=selection))
