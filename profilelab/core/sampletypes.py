"""Sample types: which ones a profile set offers, pprof's default, and choosing one.

pprof numbers the sample types of an input ``0..n-1`` and merges only inputs with the same
list. profilelab's inputs may differ: one OTLP message holds several profiles of different
types (an eBPF capture: CPU ``samples`` and ``off_cpu``), and a store query may keep only
some types of an input. The rules, used by every command, view, analysis and writer:

* **offered types**: when every input (``source_id``) has the same type names in the same
  order, that list (pprof's case: positions are pprof's ``-sample_index`` numbers);
  otherwise every distinct type name of every input, in order of first appearance.
* **position within an input** is the rank of its ``sample_type_index`` among the rows the
  profile set holds, never the stored number (which counts the original file's types).
* **default**: the first input's ``is_default`` type (pprof's ``default_sample_type``),
  else the first input's last type (pprof).
* **by name**: exact, or with pprof's optional ``inuse_`` prefix (``-sample_index=space``
  picks ``inuse_space``); **by number**: a position in the offered list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from profilelab.errors import QueryError
from profilelab.model import _arrow
from profilelab.model.profile import Profile


@dataclass(frozen=True)
class SampleType:
    """One offered sample type: its position in the offered list, name and unit."""

    index: int
    type: str
    unit: str


#: The last profiles table numbered by :func:`sources`, with its result, and the last
#: result's type lists (:func:`_lists`). A report asks for them about ten times of one
#: profile (choosing, checking and gathering its sample type, its header): one query each
#: time. Tables are never changed in place, so the same object gives the same answer;
#: holding it keeps its id from being reused.
_sources_memo: tuple[pl.DataFrame, pl.DataFrame] | None = None
_lists_memo: tuple[pl.DataFrame, pl.DataFrame] | None = None


def sources(profile: Profile) -> pl.DataFrame:
    """The profiles table with ``src`` (input position in load order) and ``pos`` (the
    type's position within its input: the ordinal rank of its ``sample_type_index``).

    Numbered with NumPy and added in one query: a report asks for this table several times,
    and a join and a windowed rank were three Polars queries each time.
    """
    global _sources_memo
    prof = profile.profiles
    memo = _sources_memo
    if memo is not None and memo[0] is prof:
        return memo[1]
    numbered = _numbered(prof)
    _sources_memo = (prof, numbered)
    return numbered


def _numbered(prof: pl.DataFrame) -> pl.DataFrame:
    source = prof.get_column("source_id").to_numpy()
    _, first, inverse = np.unique(source, return_index=True, return_inverse=True)
    src = np.argsort(np.argsort(first))[inverse].astype(np.int64)  # by first appearance
    order = np.lexsort((prof.get_column("sample_type_index").to_numpy(), src))  # stable
    grouped = src[order]
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order)) - np.searchsorted(grouped, grouped)
    return prof.with_columns(_arrow.series("src", src), _arrow.series("pos", pos))


def _lists(srcs: pl.DataFrame) -> pl.DataFrame:
    global _lists_memo
    memo = _lists_memo
    if memo is not None and memo[0] is srcs:
        return memo[1]
    lists = (
        srcs.lazy()
        .sort("src", "pos")
        .group_by("src", maintain_order=True)
        .agg(pl.col("sample_type"), pl.col("sample_unit"))
        .collect()
    )
    _lists_memo = (srcs, lists)
    return lists


def uniform(profile: Profile) -> bool:
    """Whether every input has the same sample type names in the same order (pprof's case)."""
    return _uniform(sources(profile))


def _uniform(srcs: pl.DataFrame) -> bool:
    lists = _lists(srcs)
    return lists.height <= 1 or lists["sample_type"].n_unique() == 1


def offered(profile: Profile) -> list[SampleType]:
    """The selectable sample types (see the module docstring); QueryError when none."""
    return _offered(sources(profile))


def _offered(srcs: pl.DataFrame) -> list[SampleType]:
    # Each public function computes ``sources`` once and passes it on: a report asks for
    # its sample type several times, and each ``sources`` is a few Polars queries.
    if srcs.height == 0:
        raise QueryError("the profile set is empty: no sample type to choose")
    lists = _lists(srcs)
    if lists.height == 1 or lists["sample_type"].n_unique() == 1:
        row = lists.row(0, named=True)
        pairs = list(zip(row["sample_type"], row["sample_unit"], strict=True))
    else:
        firsts = srcs.sort("src", "pos").unique("sample_type", keep="first", maintain_order=True)
        pairs = list(firsts.select("sample_type", "sample_unit").iter_rows())
    return [SampleType(i, t, u) for i, (t, u) in enumerate(pairs)]


def names(profile: Profile) -> list[str]:
    """The offered type names, for error messages and pickers."""
    return [t.type for t in offered(profile)]


def default(profile: Profile, preferred: tuple[str, ...] = ()) -> SampleType:
    """The first of ``preferred`` offered, else pprof's default (see the module docstring)."""
    return _default(sources(profile), preferred)


def _default(srcs: pl.DataFrame, preferred: tuple[str, ...]) -> SampleType:
    types = _offered(srcs)
    for name in preferred:
        for t in types:
            if t.type == name:
                return t
    marked = srcs.filter((pl.col("src") == 0) & pl.col("is_default"))
    if marked.height:
        name = str(marked["sample_type"][0])
        return next(t for t in types if t.type == name)
    last = str(srcs.filter(pl.col("src") == 0).sort("pos")["sample_type"][-1])
    return next(t for t in types if t.type == last)


def resolve(
    profile: Profile, which: str | int | SampleType | None, preferred: tuple[str, ...] = ()
) -> SampleType:
    """pprof's SampleIndexByName over the offered types: a position, a name or the default."""
    if isinstance(which, SampleType):
        return which
    if which is None or which == "":
        return default(profile, preferred)
    types = offered(profile)
    text = str(which).strip()
    try:
        i = int(text)
    except ValueError:
        pass
    else:
        if not 0 <= i < len(types):
            raise QueryError(f"sample_index {text} is outside the range [0..{len(types) - 1}]")
        return types[i]
    no_inuse = text.removeprefix("inuse_")
    for t in types:
        if t.type in (text, no_inuse):
            return t
    shown = ", ".join(f"{t.index}={t.type}" for t in types)
    raise QueryError(f"sample_index {text!r} must be one of: {shown}")


def lacking(profile: Profile, stype: SampleType) -> pl.DataFrame:
    """The ``profiles`` rows of the inputs (sources: files) that have no profile of
    ``stype``; pprof merges only inputs that have the chosen type. One input may hold
    several kinds (a JFR recording, an OTLP capture): the type picks among them."""
    has = pl.col("source").filter(pl.col("sample_type") == stype.type).unique().implode()
    return profile.profiles.lazy().filter(~pl.col("source").is_in(has)).collect()


def rows_of(profile: Profile, stype: SampleType) -> pl.DataFrame:
    """The ``profiles`` rows (with ``src`` and ``pos``) holding sample type ``stype``."""
    srcs = sources(profile)
    if _uniform(srcs):
        return srcs.filter(pl.col("pos") == stype.index)
    return srcs.filter(pl.col("sample_type") == stype.type)


def profile_ids(profile: Profile, which: str | int | SampleType | None = None) -> pl.Series:
    """Ids of the profiles of one sample type (``which`` as :func:`resolve` takes it)."""
    return rows_of(profile, resolve(profile, which))["profile_id"]


def only(profile: Profile, which: str | int | SampleType | None = None) -> Profile:
    """``profile`` with only the profiles (and samples) of one sample type."""
    return profile.subset(profile_ids(profile, which))
