"""Flame trees of one selection: top-down, bottom-up (inverted), sandwich, and the top table.

A :class:`Selection` is one sample type of a Profile with optional label filters and
focus/ignore regexes. It computes one value per stack once; every tree is then built from
those (stack, value) rows with the vectorized builder of :mod:`profilelab.views._build`,
pruned to what ``width_px`` pixels can show. Zooming is re-rooting: ``root`` names a node
path and the tree is rebuilt below it with a threshold relative to that node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

from profilelab.core.aggregate import csr_flat_cum
from profilelab.core.restriction import narrow
from profilelab.core.selection import Selection as CoreSelection
from profilelab.core.transforms import left_heavy
from profilelab.core.vocabulary import granularity as granularity_name
from profilelab.errors import QueryError
from profilelab.model import _arrow
from profilelab.model.profile import Profile
from profilelab.views import _build
from profilelab.views._build import Paths, RawTree
from profilelab.views._keys import KeyTable, key_table
from profilelab.views._select import LabelFilter, StackIndex
from profilelab.views.tree import FlameTree, tree_fields

T = TypeVar("T", bound=Sized)

#: Default drawing width: nodes narrower than half a pixel of it are folded.
DEFAULT_WIDTH_PX = 1200


def fraction_for(width_px: int) -> float:
    """The share of the root below which a node is folded: half a pixel of ``width_px``."""
    if width_px <= 0:
        raise QueryError(f"width_px must be positive, got {width_px}")
    return 0.5 / width_px


def within_budget(build: Callable[[float], T], width_px: int, max_nodes: int) -> T:
    """The most detailed tree of at most ``max_nodes`` nodes that ``build(fraction)`` gives.

    Starts at a quarter pixel of ``width_px`` (coarsened while over budget), refines by 4x
    while the tree stays well within budget: for exports that zoom without a server.
    """
    # Most profiles fit at a quarter pixel: start there, saving a build.
    frac = fraction_for(width_px) / 4
    tree = build(frac)
    while len(tree) > max_nodes and frac < 1.0:
        frac *= 2
        tree = build(frac)
    for _ in range(8):
        if len(tree) * 3 > max_nodes:
            break
        finer = build(frac / 4)
        if len(finer) > max_nodes:
            break
        tree, frac = finer, frac / 4
    return tree


def _abs_first(sums: np.ndarray) -> np.ndarray:
    return np.abs(sums[:, 0]).astype(np.float64)


class Selection:
    """One sample type of a profile, filtered: the rows every flame tree is built from.

    ``labels`` keeps samples whose label set matches (key -> value or values); ``focus``
    keeps stacks with a frame whose function matches the regex, ``ignore`` drops them.
    The stack index (the costly part) is shared by :meth:`with_filters` copies.
    """

    def __init__(
        self,
        profile: Profile,
        sample_type: str | int | None = None,
        *,
        labels: LabelFilter | None = None,
        focus: str | None = None,
        ignore: str | None = None,
        index: StackIndex | None = None,
        selection: CoreSelection | None = None,
        time_range: tuple[int, int] | None = None,
    ) -> None:
        #: the profile before the selection's sample-level step (for :meth:`with_transforms`)
        self.source = profile
        if selection is not None:
            profile, sample_type, focus, ignore = _from_selection(profile, selection)
        self.selection = selection
        #: siblings ordered heaviest first (the ``left_heavy`` transform), else by name
        self.left_heavy = selection is not None and left_heavy(selection.transforms)
        self.index = index if index is not None else StackIndex.build(profile, sample_type)
        self.labels = dict(labels or {})
        self.focus = focus or None
        self.ignore = ignore or None
        #: ``(start_ns, end_ns)``: only samples in that range count (a timeline's brush)
        self.time_range = time_range
        self.values = self.index.values(self.labels, self.focus, self.ignore, time_range)
        self._paths: dict[str, tuple[Paths, KeyTable]] = {}

    def with_filters(
        self,
        *,
        labels: LabelFilter | None = None,
        focus: str | None = None,
        ignore: str | None = None,
        time_range: tuple[int, int] | None = None,
    ) -> Selection:
        """The same profiles and sample type with other filters (reuses the stack index)."""
        out = Selection(
            self.index.profile,
            labels=labels,
            focus=focus,
            ignore=ignore,
            index=self.index,
            time_range=time_range,
        )
        out.left_heavy = self.left_heavy
        return out

    def with_transforms(self, transforms: Sequence[Sequence[str | None]]) -> Selection:
        """The same selection with another transform list (``[(name, argument), ...]``, see
        :mod:`profilelab.core.transforms`): what a flame graph's context menu applies and
        undoes. The stack index is rebuilt from the untransformed profile."""
        base = self.selection or CoreSelection(sample_index=self.sample_type)
        base = base.with_(
            sample_index=base.sample_index or self.sample_type,
            transforms=tuple(tuple(t) for t in transforms),
            focus=self.focus,
            ignore=self.ignore,
        )
        return Selection(self.source, labels=self.labels, selection=base)

    @property
    def sample_type(self) -> str:
        return self.index.sample_type

    @property
    def unit(self) -> str:
        return self.index.unit

    @property
    def total(self) -> int:
        return int(self.values.sum())

    def paths(self, granularity: str = "function") -> tuple[Paths, KeyTable]:
        """Root-first key paths with one value column, and the key table they use."""
        granularity = granularity_name(granularity)
        if granularity not in self._paths:
            keys, key_csr = _keys_for(self.index, granularity)
            paths = Paths(self.index.offsets, key_csr, self.values.reshape(-1, 1))
            self._paths[granularity] = (paths, keys)
        return self._paths[granularity]

    # ---- trees ------------------------------------------------------------------------------
    def flame(
        self,
        *,
        granularity: str = "function",
        width_px: int = DEFAULT_WIDTH_PX,
        root: Sequence[str] = (),
        inverted: bool = False,
        fraction: float | None = None,
    ) -> FlameTree:
        """The call tree (callees below callers; ``inverted``: callers below callees)
        rooted at the node path ``root`` (names, below the implicit "all")."""
        paths, keys = self.paths(granularity)
        if inverted:
            paths = _reversed_cached(self, granularity, paths)
        frac = fraction_for(width_px) if fraction is None else fraction
        raw = _build.build(paths, keys.lookup(list(root)), _abs_first, frac)
        return self._tree(raw, keys, "inverted" if inverted else "flame", tuple(root))

    def sandwich(
        self,
        function: str,
        *,
        granularity: str = "function",
        width_px: int = DEFAULT_WIDTH_PX,
        fraction: float | None = None,
    ) -> Sandwich:
        """Callers and callees of ``function``, merged across its call sites.

        Each stack through the function counts once, at its outermost (root-most) occurrence:
        the callees tree holds the rest of the stack from there to the leaf (so recursion
        shows inside it); the callers tree holds the stack from there back to the root. Both
        roots total the function's cum value, recursion counted once (pprof's cum).
        """
        paths, keys = self.paths(granularity)
        key = keys.lookup([function])[0]
        callees, callers = _split_at_first(paths, key)
        frac = fraction_for(width_px) if fraction is None else fraction
        return Sandwich(
            function=function,
            callers=self._tree(
                _build.build(callers, [key], _abs_first, frac), keys, "callers", (function,)
            ),
            callees=self._tree(
                _build.build(callees, [key], _abs_first, frac), keys, "callees", (function,)
            ),
        )

    def search_shares(
        self,
        pattern: str,
        *,
        granularity: str = "function",
        root: Sequence[str] = (),
        inverted: bool = False,
    ) -> tuple[float, float]:
        """(share of the frame at ``root``, share of the total) of the value of the stacks
        with a node name matching ``pattern`` (case-insensitive, as the widget's search):
        below the root, the root itself included, each stack counted once. Shares of 0 when
        the denominator is 0."""
        from profilelab.views._select import regex_match

        paths, keys = self.paths(granularity)
        if inverted:
            paths = _reversed_cached(self, granularity, paths)
        hit_key = regex_match(keys.keys.get_column("name"), f"(?i){pattern}")
        row = paths.row_of_position()
        depth = np.arange(len(paths.keys), dtype=np.int64) - paths.offsets[row]
        values = paths.values[:, 0].astype(np.float64)
        hit = hit_key[paths.keys]
        through = np.ones(len(values), dtype=bool)
        for j, key in enumerate(keys.lookup(list(root))):
            at_j = paths.offsets[:-1] + j
            ok = paths.lengths > j
            through &= ok & (paths.keys[np.where(ok, at_j, 0)] == key)
        first = max(len(root) - 1, 0)
        in_root = np.bincount(row[hit & (depth >= first)], minlength=len(values)) > 0
        any_hit = np.bincount(row[hit], minlength=len(values)) > 0
        root_total = float(np.abs(values[through]).sum())
        total = float(np.abs(values).sum())
        zoom = float(np.abs(values[through & in_root]).sum()) / root_total if root_total else 0.0
        return zoom, float(np.abs(values[any_hit]).sum()) / total if total else 0.0

    def top(self, granularity: str = "function", limit: int | None = None) -> pl.DataFrame:
        """Per node name: self (flat) and total (cum, recursion counted once), sorted by
        self descending, then total. Columns: name, file, line, package, self, total.

        With ``limit``, only the first ``limit`` rows by self (their totals computed alone,
        which is much faster on big profiles)."""
        paths, keys = self.paths(granularity)
        only = None
        if limit is not None:
            flat, _ = key_sums(paths, len(keys), flat_only=True)
            only = np.argsort(-flat[:, 0], kind="stable")[:limit]
            only = only[flat[only, 0] != 0]
        flat, cum = key_sums(paths, len(keys), only)
        # NumPy columns and rows reach Polars as Arrow buffers (its conversion imports numpy.ma)
        totals = _arrow.series("self", flat[:, 0]), _arrow.series("total", cum[:, 0])
        table = keys.keys.with_columns(*totals)
        if only is not None:
            table = table[_arrow.series("", np.sort(only))]
        return table.filter(pl.col("total") != 0).sort(
            ["self", "total", "name"], descending=[True, True, False]
        )

    def _tree(self, raw: RawTree, keys: KeyTable, kind: str, root: tuple[str, ...]) -> FlameTree:
        if self.left_heavy:
            raw = _build.heaviest_first(raw)
        total = raw.total[:, 0]
        width = np.abs(total).astype(np.float64)
        return FlameTree(
            kind=kind,
            **tree_fields(raw, keys, width, root, self.sample_type, self.unit),  # type: ignore[arg-type]
            total=total,
            self_value=raw.self_value[:, 0],
            grand_total=self.total,
            root_path_totals=tuple(int(v) for v in raw.root_totals[:, 0]),
        )


def _from_selection(
    profile: Profile, selection: CoreSelection
) -> tuple[Profile, str | int | None, str | None, str | None]:
    """The parts of a core selection a flame view applies: the sample-level step and hide
    (:func:`profilelab.core.restriction.narrow`), then the sample type, focus and ignore
    (per stack, so that :meth:`Selection.with_filters` stays cheap)."""
    narrowed = narrow(profile, selection.with_(focus=None, ignore=None), "flame views")
    return narrowed, selection.sample_index, selection.focus, selection.ignore


@dataclass(frozen=True)
class Sandwich:
    """A function's callers (bottom-up, the function at the root) and callees (top-down)."""

    function: str
    callers: FlameTree
    callees: FlameTree


def _keys_for(index: StackIndex, granularity: str) -> tuple[KeyTable, np.ndarray]:
    cache = index.cache
    if granularity not in cache:
        keys = key_table(index.frame_table, granularity)
        cache[granularity] = (keys, keys.frame_key[index.frames])
    found = cache[granularity]
    assert isinstance(found, tuple)
    return found


def _reversed_cached(sel: Selection, granularity: str, paths: Paths) -> Paths:
    cache = sel.index.cache
    key = ("reversed", granularity)
    if key not in cache:
        cache[key] = paths.reversed().keys
    keys = cache[key]
    assert isinstance(keys, np.ndarray)
    return Paths(paths.offsets, keys, paths.values)


def _split_at_first(paths: Paths, key: int) -> tuple[Paths, Paths]:
    """Cut each path through ``key`` at its first occurrence: (from there to the end,
    from there back to the start). Paths without the key are left out."""
    hits = np.flatnonzero(paths.keys == key)
    row_of = np.searchsorted(paths.offsets, hits, side="right") - 1
    first = np.ones(len(hits), dtype=bool)
    first[1:] = row_of[1:] != row_of[:-1]  # hits ascend, so each row's first hit leads
    rows, cut = row_of[first], hits[first]
    ends = paths.offsets[rows + 1]
    starts = paths.offsets[rows]
    values = paths.values[rows]
    after = _gather(paths.keys, cut, ends - cut, step=1)
    before = _gather(paths.keys, cut, cut - starts + 1, step=-1)
    return Paths(after[0], after[1], values), Paths(before[0], before[1], values)


def _gather(
    keys: np.ndarray, begin: np.ndarray, length: np.ndarray, step: int
) -> tuple[np.ndarray, np.ndarray]:
    """CSR of ``keys[begin[i] + step * j]`` for j < length[i]."""
    offsets = np.zeros(len(begin) + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    row = np.repeat(np.arange(len(begin), dtype=np.int64), length)
    j = np.arange(int(offsets[-1]), dtype=np.int64) - offsets[:-1][row]
    return offsets, keys[begin[row] + step * j]


def key_sums(
    paths: Paths, n_keys: int, only: np.ndarray | None = None, *, flat_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per key, (n_keys, m) flat and cum of ``paths`` (the core's
    :func:`~profilelab.core.aggregate.csr_flat_cum`: recursion counted once; with ``only``,
    cum for those keys alone; ``flat_only``: no cum)."""
    return csr_flat_cum(paths.offsets, paths.keys, paths.values, n_keys, only, flat_only=flat_only)
