"""The columnar trees that flame-graph widgets draw: :class:`FlameTree` and :class:`DiffTree`.

Nodes are in breadth-first order (a parent precedes its children; siblings are contiguous,
sorted by name, an "other" node last). Every per-node column is a numpy array:

* ``parent`` (int32, -1 for the root), ``depth`` (int32, 0 for the root);
* ``name``, ``file``, ``package`` (int32 indexes into ``strings``), ``line`` (int64, 0 when
  unknown; the function's first line at function granularity);
* ``start`` and ``width`` (float64, in value units from the root's left edge): children are
  packed from their parent's left edge and are never wider than it;
* ``folded`` (int32): for an "other" node, how many sibling frames it stands for (each was
  narrower than ``threshold``), else 0.

Values are exact int64 sums of sample values in ``unit``; at every node
``total == self + sum(children totals)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from profilelab.model import _arrow
from profilelab.model.ranges import distinct
from profilelab.views._build import OTHER_KEY, ROOT_KEY, RawTree, layout
from profilelab.views._keys import KeyTable

ROOT_NAME = "all"
OTHER_NAME = "(other)"


@dataclass(frozen=True)
class _Tree:
    kind: str
    parent: np.ndarray
    depth: np.ndarray
    name: np.ndarray
    file: np.ndarray
    line: np.ndarray
    package: np.ndarray
    start: np.ndarray
    width: np.ndarray
    folded: np.ndarray
    strings: tuple[str, ...]
    #: names from the whole profile's root down to this tree's root (empty: not zoomed)
    root_path: tuple[str, ...]
    granularity: str
    sample_type: str
    unit: str
    #: nodes whose measure fell below this value were folded into "other"
    threshold: float
    meta: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.parent)

    def names(self) -> list[str]:
        """The name of every node."""
        return [self.strings[i] for i in self.name.tolist()]

    def is_other(self) -> np.ndarray:
        return self.name == self.strings.index(OTHER_NAME)

    def path(self, node: int) -> tuple[str, ...]:
        """Names from the whole profile's root to ``node`` (what a zoom request names)."""
        out: list[str] = []
        while node > 0:
            out.append(self.strings[int(self.name[node])])
            node = int(self.parent[node])
        return self.root_path + tuple(reversed(out))

    def find(self, path: tuple[str, ...] | list[str]) -> int:
        """The node at ``path`` (names below this tree's root), or -1."""
        node = 0
        for name in path:
            kids = np.flatnonzero(self.parent == node)
            hit = [int(k) for k in kids if self.strings[int(self.name[k])] == name]
            if not hit:
                return -1
            node = hit[0]
        return node

    def _base_frame(self) -> pl.DataFrame:
        strings = pl.Series(self.strings, dtype=pl.Utf8)
        return pl.DataFrame(
            {
                "node": np.arange(len(self), dtype=np.int32),
                "parent": self.parent,
                "depth": self.depth,
                "name": strings.gather(self.name),
                "file": strings.gather(self.file),
                "line": self.line,
                "package": strings.gather(self.package),
                "start": self.start,
                "width": self.width,
                "folded": self.folded,
            }
        )


@dataclass(frozen=True)
class FlameTree(_Tree):
    """A pruned flame tree (top-down, bottom-up, or one side of a sandwich)."""

    total: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    self_value: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: the total of the whole selection (the unzoomed root), for "% of all"
    grand_total: int = 0
    #: totals of the stacks through each prefix of ``root_path``
    root_path_totals: tuple[int, ...] = ()

    def to_polars(self) -> pl.DataFrame:
        """One row per node with names resolved (for notebooks and tests)."""
        return self._base_frame().with_columns(
            pl.Series("self", self.self_value), pl.Series("total", self.total)
        )


@dataclass(frozen=True)
class DiffTree(_Tree):
    """A tree of two selections: per node the base and new values (raw, not scaled).

    ``scale`` is total_new / total_base (1 when the base is empty); with ``normalize`` the
    base is multiplied by it before comparing (pprof ``-normalize``). ``width`` follows
    ``width_by``: ``"new"`` (the new values) or ``"max"`` (the larger of scaled base and new,
    widened where needed so that children fit).
    """

    base_total: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    base_self: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    new_total: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    new_self: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    scale: float = 1.0
    normalize: bool = False
    width_by: str = "new"
    grand_base: int = 0
    grand_new: int = 0

    @property
    def base_scaled(self) -> np.ndarray:
        """Base totals as compared: scaled by ``scale`` when normalized."""
        k = self.scale if self.normalize else 1.0
        return self.base_total.astype(np.float64) * k

    @property
    def delta(self) -> np.ndarray:
        return self.new_total - self.base_scaled

    def to_polars(self) -> pl.DataFrame:
        return self._base_frame().with_columns(
            pl.Series("base_self", self.base_self),
            pl.Series("base_total", self.base_total),
            pl.Series("new_self", self.new_self),
            pl.Series("new_total", self.new_total),
            pl.Series("delta", self.delta),
        )


@dataclass(frozen=True)
class NodeNames:
    """Per-node string columns of a raw tree, with a compact string table."""

    strings: tuple[str, ...]
    name: np.ndarray
    file: np.ndarray
    line: np.ndarray
    package: np.ndarray


def node_names(raw: RawTree, keys: KeyTable) -> NodeNames:
    """Resolve key ids to names, keeping only the strings the visible nodes use."""
    strings: dict[str, int] = {ROOT_NAME: 0, OTHER_NAME: 1, "": 2}
    used = distinct(raw.key[raw.key >= 0])
    rows = keys.keys[_arrow.series("", used)]  # a NumPy index would import numpy.ma

    def intern(values: list[str]) -> np.ndarray:
        return np.array([strings.setdefault(v, len(strings)) for v in values], dtype=np.int32)

    lookup = {
        col: np.zeros(int(used.max(initial=-1)) + 1, dtype=np.int32)
        for col in ("name", "file", "package")
    }
    for col in lookup:
        lookup[col][used] = intern(rows.get_column(col).to_list())
    line_of = np.zeros(len(lookup["name"]), dtype=np.int64)
    line_of[used] = rows.get_column("line").to_numpy()
    real = raw.key >= 0
    safe = np.where(real, raw.key, 0)

    def column(col: str, root: int, other: int) -> np.ndarray:
        base = lookup[col][safe] if len(lookup[col]) else np.zeros(len(safe), np.int32)
        out = np.where(real, base, root)
        return np.where(raw.key == OTHER_KEY, other, out).astype(np.int32)

    line = np.where(real, line_of[safe] if len(line_of) else 0, 0)
    return NodeNames(
        strings=tuple(strings),
        name=column("name", 0, 1),
        file=column("file", 2, 2),
        line=line.astype(np.int64),
        package=column("package", 2, 2),
    )


__all__ = ["OTHER_KEY", "ROOT_KEY", "DiffTree", "FlameTree"]


def tree_fields(
    raw: RawTree,
    keys: KeyTable,
    width: np.ndarray,
    root: tuple[str, ...],
    sample_type: str,
    unit: str,
) -> dict[str, object]:
    """The fields every tree kind shares, from a built raw tree and its node widths."""
    names = node_names(raw, keys)
    return {
        "parent": raw.parent,
        "depth": raw.depth,
        "name": names.name,
        "file": names.file,
        "line": names.line,
        "package": names.package,
        "start": layout(raw.parent, raw.depth, width),
        "width": width,
        "folded": raw.folded,
        "strings": names.strings,
        "root_path": root,
        "granularity": keys.granularity,
        "sample_type": sample_type,
        "unit": unit,
        "threshold": raw.threshold,
    }
