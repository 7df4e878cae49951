"""Select one sample type and gather the samples a pprof report works on.

This is the part of ``go tool pprof`` that happens before any report: pick the sample
index (``-sample_index`` name or number; default ``default_sample_type`` or the last type),
merge several inputs (values scaled to their finest common unit, as pprof's ScaleProfiles),
scale to a base's total (``-normalize``), add the negated base (``-base`` / ``-diff_base``;
a diff base marks its samples with the ``pprof::base`` label), and merge identical samples
(same stack and labels) while dropping samples whose values are all zero (pprof's Merge).

The result is one frame, one row per (merged) sample, in pprof's order (inputs in load
order, then the base): ``src, sample_index, stack_id, label_set_id, trace_id, span_id,
local_root_span_id, base, value`` (+ ``div``, the first type's value, for ``-mean``).
Totals: values of the chosen type are conserved except for the base's negation and the
normalize scaling (rounded half away from zero, like Go's math.Round).
"""

from __future__ import annotations

import polars as pl

from profilelab.core import measurement, sampletypes
from profilelab.core.sampletypes import SampleType
from profilelab.errors import QueryError
from profilelab.model.profile import Profile

KEY_COLUMNS = ("stack_id", "label_set_id", "trace_id", "span_id", "local_root_span_id", "base")


def sources(profile: Profile) -> pl.DataFrame:
    """The profiles table with ``src``: the position of each row's input in load order."""
    return sampletypes.sources(profile)


def sample_types(profile: Profile) -> list[SampleType]:
    """The offered sample types (:func:`profilelab.core.sampletypes.offered`)."""
    return sampletypes.offered(profile)


def resolve_sample_index(profile: Profile, sample_index: str | int | None) -> SampleType:
    """pprof's SampleIndexByName (:func:`profilelab.core.sampletypes.resolve`), for the
    inputs of one report: like pprof, which merges only inputs with the same sample types,
    every input must have the chosen type (one input may hold several kinds: a JFR
    recording, an OTLP capture; the type picks among them)."""
    stype = sampletypes.resolve(profile, sample_index)
    lacking = sampletypes.lacking(profile, stype)
    if lacking.height:
        row = lacking.row(0, named=True)
        theirs = sorted(set(lacking.filter(pl.col("source") == row["source"])["sample_type"]))
        raise QueryError(
            f"inputs have incompatible sample types: {row['source']} has no {stype.type!r} "
            f"({', '.join(theirs)}); reports merge only inputs that have the chosen type, as "
            "go tool pprof does"
        )
    return stype


def _type_rows(profile: Profile, types: list[SampleType]) -> pl.DataFrame:
    """profile_id -> (src, k: position in ``types``, scale ratio to the type's finest unit)."""
    parts = []
    for k, stype in enumerate(types):
        group = sampletypes.rows_of(profile, stype)
        units = group["sample_unit"].to_list()
        kinds = {s.removesuffix("s") for s in group["sample_type"].to_list()}
        if len(kinds) > 1 or not all(measurement.same_family(units[0], u) for u in units):
            names = ", ".join(group["source"].unique(maintain_order=True).head(4).to_list())
            raise QueryError(
                f"{names}: inputs have incompatible sample types at index {stype.index}: "
                f"{sorted(kinds)}"
            )
        finest = measurement.common_unit(units) if len(set(units)) > 1 else units[0]
        ratios = [measurement.scale(1, u, finest)[0] if u != finest else 1.0 for u in units]
        parts.append(
            group.select("profile_id", "src").with_columns(
                pl.lit(k).alias("k"), pl.Series("ratio", ratios, dtype=pl.Float64)
            )
        )
    return pl.concat(parts, how="vertical")


def _scaled(value: pl.Expr, ratio: pl.Expr) -> pl.Expr:
    """Go's ``int64(math.Round(float64(v) * ratio))``, skipping the identity ratio."""
    x = value.cast(pl.Float64) * ratio
    rounded = (x.abs() + 0.5).floor() * x.sign()
    return pl.when(ratio == 1.0).then(value).otherwise(rounded.cast(pl.Int64))


def _values(profile: Profile, types: list[SampleType]) -> pl.DataFrame:
    """One row per sample with the values of ``types`` as columns ``v0, v1, ...``."""
    rows = _type_rows(profile, types)
    cols = ["src", "sample_index", *KEY_COLUMNS[:-1]]
    frames = []
    for k in range(len(types)):
        ids = rows.filter(pl.col("k") == k)
        pid = ids.get_column("profile_id")
        # a filter and two tiny lookups: a join would hash every sample row
        part = profile.samples.filter(pl.col("profile_id").is_in(pid.implode())).with_columns(
            pl.col("profile_id").replace_strict(pid, ids.get_column(c)).alias(c)
            for c in ("src", "ratio")
        )
        part = part.select(
            *(cols if k == 0 else ["src", "sample_index"]),
            _scaled(pl.col("value"), pl.col("ratio")).alias(f"v{k}"),
        )
        frames.append(part)
    out = frames[0]
    for part in frames[1:]:
        out = out.join(part, on=["src", "sample_index"], how="left", maintain_order="left")
    return out


def collect(
    profile: Profile,
    index: int,
    *,
    mean: bool = False,
    all_types: bool = False,
    base: Profile | None = None,
    diff_base: bool = False,
    normalize: bool = False,
) -> pl.DataFrame:
    """The samples of sample type ``index`` (see the module docstring for the columns).

    ``all_types`` keeps every type's value while merging, so that a sample is dropped only
    when all its values are zero (pprof's Merge); reports that list samples need it.
    """
    offered = sampletypes.offered(profile)
    same_lists = sampletypes.uniform(profile)
    if mean and index != 0 and not same_lists:
        raise QueryError("-mean needs inputs with the same sample types (it divides by the first)")
    wanted = [index] + ([0] if mean and index != 0 else [])
    if all_types and same_lists:
        wanted += [t for t in range(len(offered)) if t not in wanted]
    types = [offered[t] for t in wanted]
    src = _values(profile, types).with_columns(pl.lit(False).alias("base"))
    if base is not None:
        src = _add_base(profile, src, base, types, diff_base=diff_base, normalize=normalize)
    src = _merge(src, [f"v{k}" for k in range(len(types))], force=all_types)
    out = src.rename({"v0": "value"})
    if mean:
        out = out.with_columns(pl.col("v1" if index != 0 else "value").alias("div"))
    return out.select("src", "sample_index", *KEY_COLUMNS, "value", *(["div"] if mean else []))


def _add_base(
    profile: Profile,
    src: pl.DataFrame,
    base: Profile,
    types: list[SampleType],
    *,
    diff_base: bool,
    normalize: bool,
) -> pl.DataFrame:
    mine = [(t.type, t.unit) for t in sample_types(profile)]
    theirs = [(t.type, t.unit) for t in sample_types(base)]
    if mine != theirs:
        raise QueryError(f"base profile has incompatible sample types {theirs}, expected {mine}")
    vcols = [f"v{k}" for k in range(len(types))]
    other = _values(base, types)
    if normalize:
        # pprof's Normalize: scale the source by (base total / source total) per type.
        ratios = []
        for c in vcols:
            s, b = src[c].sum(), other[c].sum()
            ratios.append(0.0 if s == 0 else float(b) / float(s))
        src = src.with_columns(
            _scaled(pl.col(c), pl.lit(r)).alias(c) for c, r in zip(vcols, ratios, strict=True)
        )
        src = src.filter(pl.any_horizontal(pl.col(c) != 0 for c in vcols))
    n_src = int(src["src"].max() or 0) + 1 if src.height else 1  # type: ignore[arg-type]
    other = other.with_columns(
        (pl.col("src") + n_src).alias("src"),
        pl.lit(diff_base).alias("base"),
        *(-pl.col(c) for c in vcols),
    ).filter(pl.any_horizontal(pl.col(c) != 0 for c in vcols))
    return pl.concat([src, other], how="vertical")


def _merge(df: pl.DataFrame, vcols: list[str], *, force: bool) -> pl.DataFrame:
    """pprof's Merge: identical samples (stack + labels) summed, all-zero samples dropped.

    Without negative values merging changes no report built from sums, so it is skipped
    then (the hot path of ``top``) unless ``force``.
    """
    if not force and not any(bool((df[c] < 0).any()) for c in vcols):
        return df
    merged = df.group_by(list(KEY_COLUMNS), maintain_order=True).agg(
        pl.col("src").first(), pl.col("sample_index").first(), *(pl.col(c).sum() for c in vcols)
    )
    return merged.filter(pl.any_horizontal(pl.col(c) != 0 for c in vcols))


def total(samples: pl.DataFrame) -> int:
    """pprof's computeTotal: sum of absolute values (only the diff base's when there is one)."""
    v = samples["value"].abs()
    div = samples["div"] if "div" in samples.columns else None
    is_base = samples["base"]
    t, d = int(v.sum()), int(div.sum()) if div is not None else 0
    bt = int(v.filter(is_base).sum()) if bool(is_base.any()) else 0
    if bt > 0:
        t = bt
        d = int(div.filter(is_base).sum()) if div is not None else 0
    return trunc_div(t, d) if d != 0 else t


def trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q
