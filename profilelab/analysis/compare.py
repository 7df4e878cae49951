"""Comparing two sets of profiles (N versus M) with statistics.

For every key (function, file, package, stack) each profile gives a *share*: the key's cum
(or flat) value over the profile's total. The two sets of shares are compared with

* the difference of mean shares and a percentile bootstrap confidence interval (profiles
  resampled with replacement within each set, so the spread across profiles — instances,
  times — is the noise model),
* a two-sided Mann-Whitney rank test (or Welch t-test) p-value, corrected for the number of
  keys tested with Benjamini-Hochberg (the q-value controls the false discovery rate),

and a key is flagged only when it is both significant (``q < alpha``) and large (share
change of at least ``min_delta_share`` absolute and ``min_rel_change`` relative). Keys below
``min_share`` in both sets are not tested (they cannot matter, and testing them costs power).

:func:`decompose_calls` splits a value change into "more calls" and "more cost per call" when
a count type (``alloc_objects``, ``contentions``, ``samples``) exists beside the value type;
:func:`mix_shift` splits a share change into a label-mix shift (for example more traffic on one
endpoint) and a within-label change.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from scipy import stats

from profilelab.analysis import _select
from profilelab.analysis._select import ProfilePick
from profilelab.analysis._totals import Key, key_totals, profile_totals
from profilelab.analysis.trends import Measure
from profilelab.errors import QueryError
from profilelab.model.profile import Profile


@dataclass(frozen=True)
class ShareMatrix:
    """Shares of each key (columns) in each profile (rows), plus per-profile totals."""

    keys: list[str]
    shares: np.ndarray  # (profiles, keys)
    values: np.ndarray  # (profiles, keys)
    totals: np.ndarray  # (profiles,)


def share_matrix(
    p: Profile, ids: pl.Series, key: Key, measure: Measure, keys: list[str] | None = None
) -> ShareMatrix:
    """Dense matrix of per-profile key values and shares (profiles in ``ids`` order)."""
    totals = profile_totals(p, ids)
    order = pl.DataFrame({"profile_id": ids, "row": np.arange(ids.len())})
    kt = key_totals(p, key, ids).join(order, on="profile_id")
    if keys is None:
        keys = sorted(kt["key"].unique().to_list())
    col = pl.DataFrame({"key": keys, "col": np.arange(len(keys))})
    kt = kt.join(col, on="key")
    values = np.zeros((ids.len(), len(keys)), dtype=np.float64)
    values[kt["row"].to_numpy(), kt["col"].to_numpy()] = kt[measure].to_numpy()
    tot = order.join(totals, on="profile_id", how="left")["total"].fill_null(0).to_numpy()
    tot = tot.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(tot[:, None] > 0, values / tot[:, None], 0.0)
    return ShareMatrix(keys, shares, values, tot)


def compare(
    p: Profile,
    base: ProfilePick,
    new: ProfilePick,
    *,
    key: Key = "function",
    sample_type: str | None = None,
    measure: Measure = "cum",
    alpha: float = 0.05,
    min_share: float = 0.001,
    min_delta_share: float = 0.005,
    min_rel_change: float = 0.10,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    test: Literal["rank", "welch"] = "rank",
) -> pl.DataFrame:
    """Per key: base/new mean share and value, delta with bootstrap CI, p and q values, flag.

    ``test`` picks the per-key test: ``rank`` (Mann-Whitney, the default: robust to outlier
    profiles and keeps the false discovery rate at small N) or ``welch`` (Welch's t-test on the
    shares; slightly more power at 10 profiles per set, but more false alarms with few noisy
    profiles — see docs/analysis.md). Sorted by significance then by
    absolute share change. Each set needs at least 2 profiles.
    """
    table = _select.of_type(p, sample_type)
    ids_a = _select.select(table, base)["profile_id"]
    ids_b = _select.select(table, new)["profile_id"]
    for name, ids in (("base", ids_a), ("new", ids_b)):
        if ids.len() < 2:
            raise QueryError(f"{name} selection holds {ids.len()} profiles; need at least 2")
    a = share_matrix(p, ids_a, key, measure)
    b = share_matrix(p, ids_b, key, measure)
    keys = sorted(set(a.keys) | set(b.keys))
    a = share_matrix(p, ids_a, key, measure, keys)
    b = share_matrix(p, ids_b, key, measure, keys)
    mean_a, mean_b = a.shares.mean(axis=0), b.shares.mean(axis=0)
    tested = np.maximum(mean_a, mean_b) >= min_share
    sa, sb = a.shares[:, tested], b.shares[:, tested]
    lo, hi = _bootstrap_ci(sa, sb, confidence, n_boot, seed)
    pvals = _rank_test(sa, sb) if test == "rank" else _welch_test(sa, sb)
    qvals = stats.false_discovery_control(pvals, method="bh") if len(pvals) else pvals
    delta = mean_b[tested] - mean_a[tested]
    rel = np.where(mean_a[tested] > 0, delta / np.maximum(mean_a[tested], 1e-300), np.inf)
    large = (np.abs(delta) >= min_delta_share) & (np.abs(rel) >= min_rel_change)
    out = pl.DataFrame(
        {
            "key": np.array(keys, dtype=object)[tested].tolist(),
            "base_share": mean_a[tested],
            "new_share": mean_b[tested],
            "delta_share": delta,
            "ci_low": lo,
            "ci_high": hi,
            "rel_change": rel,
            "base_value": a.values[:, tested].mean(axis=0),
            "new_value": b.values[:, tested].mean(axis=0),
            "p_value": pvals,
            "q_value": qvals,
            "significant": (qvals < alpha) & large,
        }
    ).with_columns((pl.col("new_value") - pl.col("base_value")).alias("delta_value"))
    return out.sort(
        ["significant", pl.col("delta_share").abs()], descending=[True, True]
    ).with_columns(pl.lit(int((~tested).sum())).alias("untested_keys"))


def _rank_test(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sided Mann-Whitney U p-values per column (asymptotic, tie-corrected)."""
    if a.shape[1] == 0:
        return np.zeros(0)
    res = stats.mannwhitneyu(a, b, axis=0, alternative="two-sided", method="asymptotic")
    p = np.asarray(res.pvalue, dtype=np.float64)
    return np.where(np.isnan(p), 1.0, p)  # all-equal columns: no evidence of change


def _welch_test(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sided Welch t-test p-values per column."""
    if a.shape[1] == 0:
        return np.zeros(0)
    # keys at ~100% share in every profile (the root) have no variance: p = 1, no warning
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b, axis=0, equal_var=False)
    p = np.asarray(res.pvalue, dtype=np.float64)
    return np.where(np.isnan(p), 1.0, p)  # no variance on either side and equal means


def _bootstrap_ci(
    a: np.ndarray, b: np.ndarray, confidence: float, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of mean(b) - mean(a), resampling profiles within each set."""
    rng = np.random.default_rng(seed)
    wa = rng.multinomial(a.shape[0], np.full(a.shape[0], 1 / a.shape[0]), size=n_boot)
    wb = rng.multinomial(b.shape[0], np.full(b.shape[0], 1 / b.shape[0]), size=n_boot)
    diffs = (wb @ b) / b.shape[0] - (wa @ a) / a.shape[0]
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(diffs, [tail, 100 - tail], axis=0) if a.shape[1] else (diffs, diffs)
    return np.asarray(lo).reshape(-1), np.asarray(hi).reshape(-1)


def decompose_calls(
    p: Profile,
    base: ProfilePick,
    new: ProfilePick,
    *,
    count_type: str,
    value_type: str,
    key: Key = "function",
    measure: Measure = "cum",
) -> pl.DataFrame:
    """Split each key's change of mean value per profile into calls and cost per call.

    With count c and value v per profile (means over each set) and cost k = v / c:
    ``delta_v = (c_new - c_base) * k_base + c_new * (k_new - k_base)``, the first term the
    calls effect and the second the cost effect, an exact decomposition.
    """
    means = {}
    for t in (count_type, value_type):
        table = _select.of_type(p, t)
        for side, sel in (("base", base), ("new", new)):
            ids = _select.select(table, sel)["profile_id"]
            if ids.len() == 0:
                raise QueryError(f"{side} selection holds no {t} profiles")
            means[(t, side)] = (
                key_totals(p, key, ids)
                .group_by("key")
                .agg((pl.col(measure).sum() / ids.len()).alias(f"{t}_{side}"))
            )
    out = means[(count_type, "base")]
    for k in ((count_type, "new"), (value_type, "base"), (value_type, "new")):
        out = out.join(means[k], on="key", how="full", coalesce=True)
    c_b, c_n = pl.col(f"{count_type}_base"), pl.col(f"{count_type}_new")
    v_b, v_n = pl.col(f"{value_type}_base"), pl.col(f"{value_type}_new")
    out = out.fill_null(0).with_columns(
        pl.when(c_b > 0).then(v_b / c_b).otherwise(0.0).alias("cost_base"),
        pl.when(c_n > 0).then(v_n / c_n).otherwise(0.0).alias("cost_new"),
    )
    return out.with_columns(
        (v_n - v_b).alias("delta_value"),
        ((c_n - c_b) * pl.col("cost_base")).alias("calls_effect"),
        (c_n * (pl.col("cost_new") - pl.col("cost_base"))).alias("cost_effect"),
    ).sort(pl.col("delta_value").abs(), descending=True)


def mix_shift(
    p: Profile,
    base: ProfilePick,
    new: ProfilePick,
    *,
    label: str,
    key: Key = "function",
    sample_type: str | None = None,
    measure: Measure = "cum",
) -> pl.DataFrame:
    """Split each key's share change into a label-mix effect and a within-label effect.

    With w_e the share of total value carrying sample label value e and r_e the key's share
    within e: ``share = sum_e w_e r_e`` and
    ``delta = sum_e (w_new - w_base) r_base + sum_e w_new (r_new - r_base)``: the mix effect
    plus the within-label effect.
    Samples without the label form their own group (e = null).
    """
    table = _select.of_type(p, sample_type)
    label_values = p.labels.filter(pl.col("key") == label).select(
        "label_set_id", pl.col("str").alias("e")
    )
    if label_values.is_empty():
        raise QueryError(f"no sample label {label!r}")
    parts = {}
    for side, sel in (("base", base), ("new", new)):
        ids = _select.select(table, sel)["profile_id"]
        parts[side] = _per_label_shares(p, ids, label_values, key, measure)
    w = parts["base"][0].join(parts["new"][0], on="e", how="full", coalesce=True, suffix="_new")
    r = parts["base"][1].join(
        parts["new"][1], on=["e", "key"], how="full", coalesce=True, suffix="_new"
    )
    r = r.join(w, on="e", how="left").fill_null(0)
    effects = r.with_columns(
        ((pl.col("w_new") - pl.col("w")) * pl.col("r")).alias("mix"),
        (pl.col("w_new") * (pl.col("r_new") - pl.col("r"))).alias("within"),
        (pl.col("w") * pl.col("r")).alias("base_part"),
        (pl.col("w_new") * pl.col("r_new")).alias("new_part"),
    )
    return (
        effects.group_by("key")
        .agg(
            pl.col("base_part").sum().alias("base_share"),
            pl.col("new_part").sum().alias("new_share"),
            pl.col("mix").sum().alias("mix_effect"),
            pl.col("within").sum().alias("within_effect"),
        )
        .with_columns((pl.col("new_share") - pl.col("base_share")).alias("delta_share"))
        .sort(pl.col("delta_share").abs(), descending=True)
    )


def _per_label_shares(
    p: Profile, ids: pl.Series, label_values: pl.DataFrame, key: Key, measure: Measure
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(w per label value e, r per (e, key)) over the samples of ``ids``."""
    samples = p.samples.filter(pl.col("profile_id").is_in(ids.implode())).join(
        label_values, on="label_set_id", how="left"
    )
    per_e = samples.group_by("e").agg(pl.col("value").sum().alias("t"))
    total = per_e["t"].sum()
    w = per_e.select("e", (pl.col("t") / total).alias("w"))
    rows = []
    for (e,), group in samples.group_by("e"):
        sub = Profile.replace(p, samples=group.drop("e"))
        kt = key_totals(sub, key).group_by("key").agg(pl.col(measure).sum().alias("v"))
        t = group["value"].sum()
        rows.append(
            kt.with_columns(pl.lit(e, dtype=pl.Utf8).alias("e"), (pl.col("v") / t).alias("r"))
        )
    r = (
        pl.concat(rows).select("e", "key", "r")
        if rows
        else pl.DataFrame(schema={"e": pl.Utf8, "key": pl.Utf8, "r": pl.Float64})
    )
    return w, r
