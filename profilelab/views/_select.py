"""From a Profile to per-stack values: sample type, label filters, focus/ignore regexes.

A :class:`StackIndex` is the expensive, filter-independent part: every stack the chosen
profiles' samples use, as a CSR of frame positions (root first). A selection then only
computes one value per stack (a Polars group-by over samples) and, for focus/ignore, one
regex match per distinct frame name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from profilelab.core import sampletypes
from profilelab.core.regex import matches
from profilelab.core.restriction import SAMPLE_TIME, matching_label_sets, with_sample_times
from profilelab.core.selection import LabelFilter, label_matchers
from profilelab.errors import ValidationError
from profilelab.model.names import frame_function_names
from profilelab.model.profile import Profile

__all__ = ["LabelFilter", "StackIndex", "choose_profiles", "label_values", "sample_types"]


def choose_profiles(profile: Profile, sample_type: str | int | None) -> pl.DataFrame:
    """The ``profiles`` rows of one sample type (a name or position; default: pprof's, see
    :mod:`profilelab.core.sampletypes`). Several inputs of that type are merged, as pprof
    merges several files given on its command line."""
    return sampletypes.rows_of(profile, sampletypes.resolve(profile, sample_type))


def sample_types(profile: Profile) -> list[str]:
    """The offered sample type names (:func:`profilelab.core.sampletypes.names`)."""
    if profile.profiles.height == 0:
        return []
    return sampletypes.names(profile)


def label_values(profile: Profile, max_values: int = 50) -> dict[str, list[str]]:
    """Label keys and their most frequent values (for filter pickers)."""
    if profile.labels.height == 0:
        return {}
    labels = profile.labels.with_columns(_label_text().alias("v"))
    counts = (
        profile.samples.select("label_set_id")
        .join(labels.select("label_set_id", "key", "v"), on="label_set_id")
        .group_by("key", "v")
        .len()
        .sort(["key", "len", "v"], descending=[False, True, False])
    )
    out: dict[str, list[str]] = {}
    for key, group in counts.group_by("key", maintain_order=True):
        out[str(key[0])] = group["v"].head(max_values).to_list()
    return out


def _label_text() -> pl.Expr:
    return pl.coalesce(pl.col("str"), pl.col("num").cast(pl.Utf8))


def label_sets_matching(profile: Profile, labels: LabelFilter) -> pl.Series:
    """Ids of the label sets that satisfy every key of ``labels``."""
    return matching_label_sets(profile, label_matchers(labels))


@dataclass(frozen=True)
class StackIndex:
    """Every stack used by some profiles, as root-first frame positions.

    ``stack_ids`` is sorted; row i of the CSR (``offsets``, ``frames``) is stack
    ``stack_ids[i]``; ``frames`` holds row positions in ``frame_table``.
    """

    profile: Profile
    profile_ids: tuple[int, ...]
    sample_type: str
    unit: str
    stack_ids: np.ndarray
    offsets: np.ndarray
    frames: np.ndarray
    frame_table: pl.DataFrame
    #: derived arrays (key paths per granularity, ...) kept for later queries
    cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, profile: Profile, sample_type: str | int | None = None) -> StackIndex:
        chosen = choose_profiles(profile, sample_type)
        ids = tuple(int(i) for i in chosen["profile_id"])
        # One group-by gives the stacks in use and their unfiltered values (kept for reuse).
        used = (
            profile.samples.filter(pl.col("profile_id").is_in(ids))
            .group_by("stack_id")
            .agg(pl.col("value").sum())
            .sort("stack_id")
        )
        stacks = profile.stacks.join(used, on="stack_id", how="semi").sort("stack_id")
        if stacks.height != used.height:
            raise ValidationError("samples reference stacks missing from the stacks table")
        lists = stacks.get_column("frame_ids")
        offsets = np.zeros(stacks.height + 1, dtype=np.int64)
        np.cumsum(lists.list.len().fill_null(0).to_numpy(), out=offsets[1:])
        # pprof stores the leaf first; trees read stacks from the root.
        root_first = lists.list.reverse().explode().drop_nulls()
        frame_ids = profile.frames.get_column("frame_id")
        try:
            positions = root_first.replace_strict(
                frame_ids, pl.int_range(0, len(frame_ids), eager=True, dtype=pl.Int32)
            )
        except pl.exceptions.PolarsError:
            raise ValidationError("stacks reference frames missing from the frames table") from None
        return cls(
            profile=profile,
            profile_ids=ids,
            sample_type=str(chosen["sample_type"][0]),
            unit=str(chosen["sample_unit"][0]),
            stack_ids=stacks.get_column("stack_id").to_numpy(),
            offsets=offsets,
            frames=positions.to_numpy(),
            frame_table=profile.frames,
            cache={"values": used.get_column("value").to_numpy()},
        )

    def values(
        self,
        labels: LabelFilter | None = None,
        focus: str | None = None,
        ignore: str | None = None,
        time_range: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Per-stack summed sample values (int64) after the time range, label and
        focus/ignore filters. ``time_range`` is ``(start_ns, end_ns)``, a slice of
        :meth:`time_order` (the query core's sample times); the stacks stay indexed.

        focus keeps the stacks with at least one frame whose function matches; ignore drops
        those with one (pprof ``-focus`` / ``-ignore``, matched on function names; an
        unsymbolized frame is matched by its ``0x...`` address)."""
        unfiltered = self.cache.get("values")
        if not labels and time_range is None and isinstance(unfiltered, np.ndarray):
            values = unfiltered.copy()
        else:
            values = self._label_values(labels or {}, time_range)
        if focus:
            values[~self._stacks_matching(focus, "focus")] = 0
        if ignore:
            values[self._stacks_matching(ignore, "ignore")] = 0
        return values

    def _label_values(
        self, labels: LabelFilter, time_range: tuple[int, int] | None = None
    ) -> np.ndarray:
        if time_range is not None:
            order = self.time_order()
            lo, hi = np.searchsorted(order.times, time_range, side="left")
            rows, values = order.rows[lo:hi], order.values[lo:hi]
            if labels:
                ok = label_sets_matching(self.profile, labels).to_numpy()
                keep = np.isin(order.label_sets[lo:hi], ok)
                rows, values = rows[keep], values[keep]
            return sum_by_row(rows, values, len(self.stack_ids))
        samples = self.profile.samples.filter(pl.col("profile_id").is_in(self.profile_ids))
        if labels:
            ok_ids = label_sets_matching(self.profile, labels)
            samples = samples.filter(pl.col("label_set_id").is_in(ok_ids.implode()))
        agg = samples.group_by("stack_id").agg(pl.col("value").sum())
        values = np.zeros(len(self.stack_ids), dtype=np.int64)
        if agg.height:
            rows = np.searchsorted(self.stack_ids, agg.get_column("stack_id").to_numpy())
            values[rows] = agg.get_column("value").to_numpy()
        return values

    def time_order(self) -> TimeOrder:
        """The chosen profiles' samples that have a time, sorted by it (built once and
        kept): a time range is then a slice found by binary search, and a brush only sums
        that slice per stack. A sample's time is the query core's
        (:func:`profilelab.core.restriction.with_sample_times`), so the slice holds exactly
        the samples :func:`~profilelab.core.restriction.restrict` keeps for the range."""
        found = self.cache.get("time_order")
        if isinstance(found, TimeOrder):
            return found
        samples = self.profile.samples.filter(pl.col("profile_id").is_in(self.profile_ids))
        timed = (
            with_sample_times(
                self.profile,
                samples.select("stack_id", "value", "label_set_id", "profile_id", "time_ns"),
            )
            .filter(pl.col(SAMPLE_TIME).is_not_null())
            .join(self._rows(), on="stack_id", how="left", maintain_order="left")
        )
        times = timed.get_column(SAMPLE_TIME).to_numpy()
        by_time = np.argsort(times, kind="stable")  # samples mostly come in time order
        order = TimeOrder(
            times=times[by_time],
            rows=timed.get_column("_row").to_numpy()[by_time],
            values=timed.get_column("value").to_numpy()[by_time],
            label_sets=timed.get_column("label_set_id").to_numpy()[by_time],
        )
        self.cache["time_order"] = order
        return order

    def _rows(self) -> pl.DataFrame:
        """stack_id -> ``_row``, its row in this index."""
        n = len(self.stack_ids)
        return pl.DataFrame({"stack_id": self.stack_ids, "_row": np.arange(n, dtype=np.int64)})

    def _stacks_matching(self, pattern: str, option: str) -> np.ndarray:
        frame_hit = regex_match(frame_function_names(self.frame_table), pattern, option)
        hit_pos = frame_hit[self.frames]
        row = np.repeat(np.arange(len(self.stack_ids), dtype=np.int64), np.diff(self.offsets))
        return np.bincount(row[hit_pos], minlength=len(self.stack_ids)) > 0


@dataclass(frozen=True)
class TimeOrder:
    """Samples with a time, sorted by it: ``times`` (ns), ``rows`` (their stack's row in
    the :class:`StackIndex`), ``values`` and ``label_sets`` (label set ids)."""

    times: np.ndarray
    rows: np.ndarray
    values: np.ndarray
    label_sets: np.ndarray


#: float64 adds integers exactly up to 2**53; a margin for the guard's own rounding
_EXACT_FLOAT = 2**52


def sum_by_row(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """``out[r]`` = the sum of ``values`` whose row is ``r`` (int64, exact)."""
    if len(values) and int(np.abs(values).sum(dtype=np.float64)) < _EXACT_FLOAT:
        sums = np.bincount(rows, weights=values, minlength=n)
        return np.rint(sums).astype(np.int64)
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, rows, values)  # beyond 2**53 float sums would round
    return out


def regex_match(names: pl.Series, pattern: str, option: str = "focus") -> np.ndarray:
    """Boolean array: which names contain a match of ``pattern`` (RE2 syntax, as pprof)."""
    return matches(names, pattern, option).fill_null(False).to_numpy()
