"""Diff trees of two selections (base, new): per node both values, for red/blue flame graphs.

Both selections' stacks go into one set of paths with two value columns (base, new), so a
node exists when either side has it and the one tree builder serves both. Node values stay
raw (exact int64); ``scale = total_new / total_base`` is applied to the base only when
comparing with ``normalize`` (pprof ``-normalize``: the base is scaled so its total equals
the new total). A node is folded into "other" when both its base (scaled or not) and new
values are below half a pixel of the root, so the same tree serves either mode.

:meth:`Comparison.warnings` says when a side is too thin to compare: fewer than
:data:`MIN_DIFF_SAMPLES` samples, an empty side, or totals more than :data:`MAX_DIFF_SCALE`
times apart (normalizing would multiply one side's noise by that factor).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from profilelab.core.selection import granularity as granularity_name
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.views import _build
from profilelab.views._build import Paths
from profilelab.views._keys import KeyTable
from profilelab.views.flame import DEFAULT_WIDTH_PX, Selection, fraction_for, key_sums
from profilelab.views.tree import DiffTree, tree_fields

WIDTH_BY = ("new", "max")
#: Fewer samples than this on either side: shares move by several points from noise alone
#: (a share p of n samples has a standard error of sqrt(p(1-p)/n), 7 points at p=0.5, n=50).
MIN_DIFF_SAMPLES = 50
#: Totals further apart than this factor: ``normalize`` scales the smaller side's noise by it.
MAX_DIFF_SCALE = 10.0


def sample_count(sel: Selection) -> int:
    """About how many samples make up ``sel.total``.

    ``total / period`` when the profiles' sampling period is in the sample unit (pprof CPU:
    10 ms of cpu per sample; heap: one sample per 512 KiB), the total itself for counts
    (goroutines, objects), else the number of distinct stacks with a value (a lower bound).
    """
    if sel.unit == "count":
        return sel.total
    profiles = sel.index.profile.profiles.filter(
        pl.col("profile_id").is_in(list(sel.index.profile_ids))
        & (pl.col("period_unit") == sel.unit)
        & (pl.col("period") > 0)
    )
    if profiles.height:
        period = float(profiles.get_column("period").median())  # type: ignore[arg-type]
        return round(abs(sel.total) / period)
    return int(np.count_nonzero(sel.values))


class Comparison:
    """Two selections compared at any granularity; combined paths are cached."""

    def __init__(self, base: Selection | Profile, new: Selection | Profile) -> None:
        self.base = base if isinstance(base, Selection) else Selection(base)
        self.new = new if isinstance(new, Selection) else Selection(new)
        self._paths: dict[str, tuple[Paths, KeyTable]] = {}

    @property
    def scale(self) -> float:
        """total_new / total_base (1 when the base total is 0)."""
        tb = self.base.total
        return self.new.total / tb if tb else 1.0

    def warnings(self) -> list[str]:
        """Why this comparison may mislead (empty): too few samples or far-apart totals."""
        out: list[str] = []
        for side, sel in (("base", self.base), ("new", self.new)):
            n = sample_count(sel)
            if sel.total == 0:
                out.append(f"the {side} side is empty: every frame of the other looks changed")
            elif n < MIN_DIFF_SAMPLES:
                out.append(
                    f"the {side} side rests on about {n} samples (under {MIN_DIFF_SAMPLES}): "
                    "its shape is mostly noise"
                )
        tb, tn = abs(self.base.total), abs(self.new.total)
        if tb and tn and max(tb / tn, tn / tb) > MAX_DIFF_SCALE:
            out.append(
                f"the totals differ ×{max(tb / tn, tn / tb):.3g} (over ×{MAX_DIFF_SCALE:g}): "
                "normalizing magnifies the smaller side's noise as much"
            )
        return out

    def paths(self, granularity: str = "function") -> tuple[Paths, KeyTable]:
        granularity = granularity_name(granularity)
        if granularity not in self._paths:
            self._paths[granularity] = _combine(self.base, self.new, granularity)
        return self._paths[granularity]

    def tree(
        self,
        *,
        granularity: str = "function",
        width_px: int = DEFAULT_WIDTH_PX,
        root: Sequence[str] = (),
        normalize: bool = False,
        width_by: str = "new",
        fraction: float | None = None,
    ) -> DiffTree:
        """The diff tree rooted at the node path ``root``."""
        if width_by not in WIDTH_BY:
            raise QueryError(f"width_by must be one of {WIDTH_BY}, got {width_by!r}")
        paths, keys = self.paths(granularity)
        k = max(self.scale, 1.0)

        def measure(sums: np.ndarray) -> np.ndarray:
            return np.maximum(np.abs(sums[:, 0]) * k, np.abs(sums[:, 1])).astype(np.float64)

        frac = fraction_for(width_px) if fraction is None else fraction
        raw = _build.build(paths, keys.lookup(list(root)), measure, frac)
        base_total, new_total = raw.total[:, 0], raw.total[:, 1]
        width = diff_widths(
            raw.parent, raw.depth, base_total, new_total, self.scale if normalize else 1.0, width_by
        )
        fields = tree_fields(raw, keys, width, tuple(root), self.new.sample_type, self.new.unit)
        return DiffTree(
            kind="diff",
            **fields,  # type: ignore[arg-type]
            base_total=base_total,
            base_self=raw.self_value[:, 0],
            new_total=new_total,
            new_self=raw.self_value[:, 1],
            scale=self.scale,
            normalize=normalize,
            width_by=width_by,
            grand_base=self.base.total,
            grand_new=self.new.total,
        )

    def table(self, granularity: str = "function", *, normalize: bool = False) -> pl.DataFrame:
        """Per node name: base/new self and total, their deltas (base scaled when
        ``normalize``) and a status: ``appeared`` (only in new), ``disappeared`` (only in
        base), ``changed`` or ``same``. Sorted by the size of the self delta, then total."""
        paths, keys = self.paths(granularity)
        flat, cum = key_sums(paths, len(keys))
        k = self.scale if normalize else 1.0
        table = keys.keys.with_columns(
            pl.Series("base_self", flat[:, 0]),
            pl.Series("new_self", flat[:, 1]),
            pl.Series("base_total", cum[:, 0]),
            pl.Series("new_total", cum[:, 1]),
        ).filter((pl.col("base_total") != 0) | (pl.col("new_total") != 0))
        return table.with_columns(
            (pl.col("new_self") - pl.col("base_self") * k).alias("delta_self"),
            (pl.col("new_total") - pl.col("base_total") * k).alias("delta_total"),
            pl.when(pl.col("base_total") == 0)
            .then(pl.lit("appeared"))
            .when(pl.col("new_total") == 0)
            .then(pl.lit("disappeared"))
            .when(
                (pl.col("new_self") == pl.col("base_self") * k)
                & (pl.col("new_total") == pl.col("base_total") * k)
            )
            .then(pl.lit("same"))
            .otherwise(pl.lit("changed"))
            .alias("status"),
        ).sort(
            [pl.col("delta_self").abs(), pl.col("delta_total").abs(), pl.col("name")],
            descending=[True, True, False],
        )


def diff_widths(
    parent: np.ndarray,
    depth: np.ndarray,
    base: np.ndarray,
    new: np.ndarray,
    k: float,
    width_by: str,
) -> np.ndarray:
    """Drawing width per node: the new value, or the larger of base*k and new widened so
    that children fit."""
    if width_by == "new":
        return np.abs(new).astype(np.float64)
    wide = np.maximum(np.abs(base) * k, np.abs(new)).astype(np.float64)
    return _build.widen_to_fit(parent, depth, wide)


def _combine(a: Selection, b: Selection, granularity: str) -> tuple[Paths, KeyTable]:
    """Paths of both selections with columns (base, new), in one key space."""
    pa, ka = a.paths(granularity)
    pb, kb = b.paths(granularity)
    if a.index is b.index:
        values = np.column_stack([a.values, b.values])
        return Paths(pa.offsets, pa.keys, values), ka
    keys = (
        pl.concat([ka.keys, kb.keys]).unique("name", keep="first", maintain_order=True).sort("name")
    )
    names = keys.get_column("name")
    remap_a = names.search_sorted(ka.keys.get_column("name")).to_numpy().astype(np.int32)
    remap_b = names.search_sorted(kb.keys.get_column("name")).to_numpy().astype(np.int32)
    offsets = np.concatenate([pa.offsets, pb.offsets[1:] + pa.offsets[-1]])
    flat = np.concatenate([remap_a[pa.keys], remap_b[pb.keys]])
    values = np.zeros((len(pa) + len(pb), 2), dtype=np.int64)
    values[: len(pa), 0] = pa.values[:, 0]
    values[len(pa) :, 1] = pb.values[:, 0]
    table = KeyTable(granularity, keys, np.zeros(0, dtype=np.int32))
    return Paths(offsets, flat, values), table
