"""From a Profile to per-stack values: sample type, label filters, focus/ignore regexes.

A :class:`StackIndex` is the expensive, filter-independent part: every stack the chosen
profiles' samples use, as a CSR of frame positions (root first). A selection then only
computes one value per stack (a Polars group-by over samples) and, for focus/ignore, one
regex match per distinct frame name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from profilelab.errors import QueryError, ValidationError
from profilelab.model.names import frame_function_names
from profilelab.model.profile import Profile

#: A label filter: key -> accepted value (or values). A sample passes when its label set
#: has, for every key, one of the accepted values (numeric labels compare as decimal text).
LabelFilter = Mapping[str, str | Sequence[str]]


def choose_profiles(profile: Profile, sample_type: str | None) -> pl.DataFrame:
    """The ``profiles`` rows of one sample type (default: the type pprof shows by default,
    ``is_default``, of the first input). Several inputs of that type are merged, as pprof
    merges several files given on its command line."""
    rows = profile.profiles
    if rows.height == 0:
        raise QueryError("the profile set is empty: no sample type to show")
    if sample_type is None:
        defaults = rows.filter(pl.col("is_default"))
        first = defaults if defaults.height else rows
        sample_type = str(first["sample_type"][0])
    chosen = rows.filter(pl.col("sample_type") == sample_type)
    if chosen.height == 0:
        known = ", ".join(sorted(set(rows["sample_type"].to_list())))
        raise QueryError(f"no sample type {sample_type!r} (the profiles have: {known})")
    return chosen


def sample_types(profile: Profile) -> list[str]:
    """Distinct sample types, in the order of the ``profiles`` table."""
    return list(dict.fromkeys(profile.profiles["sample_type"].to_list()))


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
    keep: pl.Series | None = None
    table = profile.labels.with_columns(_label_text().alias("v"))
    for key, accepted in labels.items():
        values = [accepted] if isinstance(accepted, str) else [str(v) for v in accepted]
        ids = (
            table.filter((pl.col("key") == key) & pl.col("v").is_in(values))
            .get_column("label_set_id")
            .unique()
        )
        keep = ids if keep is None else keep.filter(keep.is_in(ids))
    return keep if keep is not None else pl.Series("label_set_id", [], dtype=pl.Int64)


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
    def build(cls, profile: Profile, sample_type: str | None = None) -> StackIndex:
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
    ) -> np.ndarray:
        """Per-stack summed sample values (int64) after the label and focus/ignore filters.

        focus keeps the stacks with at least one frame whose function matches; ignore drops
        those with one (pprof ``-focus`` / ``-ignore``, matched on function names; an
        unsymbolized frame is matched by its ``0x...`` address)."""
        unfiltered = self.cache.get("values")
        if not labels and isinstance(unfiltered, np.ndarray):
            values = unfiltered.copy()
        else:
            values = self._label_values(labels or {})
        if focus:
            values[~self._stacks_matching(focus)] = 0
        if ignore:
            values[self._stacks_matching(ignore)] = 0
        return values

    def _label_values(self, labels: LabelFilter) -> np.ndarray:
        samples = self.profile.samples.filter(pl.col("profile_id").is_in(self.profile_ids))
        if labels:
            ok = label_sets_matching(self.profile, labels)
            samples = samples.filter(pl.col("label_set_id").is_in(ok.implode()))
        agg = samples.group_by("stack_id").agg(pl.col("value").sum())
        values = np.zeros(len(self.stack_ids), dtype=np.int64)
        if agg.height:
            rows = np.searchsorted(self.stack_ids, agg.get_column("stack_id").to_numpy())
            values[rows] = agg.get_column("value").to_numpy()
        return values

    def _stacks_matching(self, pattern: str) -> np.ndarray:
        frame_hit = regex_match(frame_function_names(self.frame_table), pattern)
        hit_pos = frame_hit[self.frames]
        row = np.repeat(np.arange(len(self.stack_ids), dtype=np.int64), np.diff(self.offsets))
        return np.bincount(row[hit_pos], minlength=len(self.stack_ids)) > 0


def regex_match(names: pl.Series, pattern: str) -> np.ndarray:
    """Boolean array: which names contain a match of ``pattern`` (RE2-like syntax, as pprof)."""
    try:
        hit = names.str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("error:")]
        reason = lines[0].removeprefix("error:").strip() if lines else str(exc).splitlines()[0]
        raise QueryError(f"invalid regular expression {pattern!r}: {reason}") from None
    return hit.fill_null(False).to_numpy()
