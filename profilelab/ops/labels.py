"""Sample labels as pprof sees them, and pprof's tag filters.

pprof keeps every label on the sample; profilelab moves span labels (``span_id``,
``trace_id``, ...) into sample columns and keeps the others in label sets. For the reports
the span columns become labels again under their column name, and a diff base's samples
carry ``pprof::base=true`` (pprof's marker). Numeric label units follow pprof's
NumLabelUnits: the first unit seen for a key, else ``bytes`` for ``alignment``/``request``,
else the key itself.

Tag filters (``-tagfocus`` / ``-tagignore``): ``[key=]value`` where value is a numeric range
(``32kb``, ``30kb:``, ``:64kb``, ``1mb:2gb``; a bare number only matches labels without a
known unit) or comma-separated regexes (all must match some ``key:value``; with a key, any
of them must match one of the key's values). ``-tagshow`` / ``-taghide`` drop label keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from profilelab.core import measurement
from profilelab.core.regex import check_regex, matches
from profilelab.model.profile import Profile

SPAN_KEYS = ("trace_id", "span_id", "local_root_span_id")
BASE_KEY = "pprof::base"
_RANGE = re.compile(r"([+-]?[0-9]+)([A-Za-z]+)?")


def set_labels(profile: Profile, samples: pl.DataFrame) -> pl.DataFrame:
    """Rows of the labels table for the label sets ``samples`` use (table order kept)."""
    used = samples.select("label_set_id").unique()
    return profile.labels.join(used, on="label_set_id", how="semi", maintain_order="left")


def num_label_units(labels: pl.DataFrame) -> dict[str, str]:
    """pprof's NumLabelUnits over the numeric labels in ``labels``."""
    num = labels.filter(pl.col("num").is_not_null())
    units: dict[str, str] = {}
    for key, unit in num.select("key", "unit").iter_rows():
        if key not in units or (not units[key] and unit):
            units[key] = unit or ""
    for key, unit in units.items():
        if not unit:
            units[key] = "bytes" if key in ("alignment", "request") else key
    return units


def visible_keys(keys: list[str], show: str | None, hide: str | None) -> set[str]:
    """Label keys kept by ``-tagshow`` / ``-taghide``."""
    if show is None and hide is None:
        return set(keys)
    s = pl.Series(keys, dtype=pl.Utf8)
    keep = matches(s, show, "tagshow") if show else pl.Series([True] * len(keys), dtype=pl.Boolean)
    if hide:
        keep = keep & ~matches(s, hide, "taghide")
    return {k for k, ok in zip(keys, keep.to_list(), strict=True) if ok}


@dataclass(frozen=True)
class _Range:
    value: float
    unit: str
    upper: float | None  # None: no upper bound
    lower_bound: bool
    upper_bound: bool


def _parse_range(text: str) -> _Range | None:
    """pprof's parseTagFilterRange; None when ``text`` is not a range (then it is a regex)."""
    found = list(_RANGE.finditer(text))[:2]
    if not found:
        return None
    spans = [m.group(0) for m in found]
    v, unit = measurement.scale(int(found[0][1]), found[0][2] or "", found[0][2] or "")
    if len(found) == 1:
        m = spans[0]
        if text == m:
            return _Range(v, unit, v, True, True)
        if text == m + ":":
            return _Range(v, unit, None, True, False)
        if text == ":" + m:
            return _Range(v, unit, v, False, True)
        return None
    if text != spans[0] + ":" + spans[1]:
        return None
    v2, unit2 = measurement.scale(int(found[1][1]), found[1][2] or "", unit)
    if unit2 != unit:
        return None
    return _Range(v, unit, v2, True, True)


SampleFilter = Callable[[pl.DataFrame, pl.DataFrame], pl.Series]


def compile_tag_filter(name: str, text: str, units: dict[str, str]) -> SampleFilter:
    """A function (samples, set_labels) -> bool per sample row, with pprof's semantics."""
    key, value = text.split("=", 1) if "=" in text else ("", text)
    rng = _parse_range(value)
    if rng is not None:
        return lambda s, lab: _numeric(s, lab, key, rng, units)
    rxs = value.split(",")
    for rx in rxs:
        check_regex(rx, name)
    if key:
        return lambda s, lab: _key_regex(s, lab, key, rxs)
    return lambda s, lab: _any_regex(s, lab, rxs)


def _numeric(
    samples: pl.DataFrame, labels: pl.DataFrame, key: str, rng: _Range, units: dict[str, str]
) -> pl.Series:
    num = labels.filter(pl.col("num").is_not_null())
    if key:
        num = num.filter(pl.col("key") == key)
    ok_sets: list[pl.Series] = []
    for (k,), rows in num.group_by(["key"]):
        from_factor, to_factor, unit = measurement.linear(units.get(str(k), str(k)), rng.unit)
        if unit != rng.unit:
            continue
        sv = pl.col("num").cast(pl.Float64) * from_factor / to_factor
        cond = pl.lit(True)
        if rng.lower_bound:
            cond = cond & (sv >= rng.value)
        if rng.upper_bound and rng.upper is not None:
            cond = cond & (sv <= rng.upper)
        ok_sets.append(rows.filter(cond)["label_set_id"])
    if not ok_sets:
        return pl.Series([False] * samples.height, dtype=pl.Boolean)
    return samples["label_set_id"].is_in(pl.concat(ok_sets).unique().implode())


def _key_regex(samples: pl.DataFrame, labels: pl.DataFrame, key: str, rxs: list[str]) -> pl.Series:
    if key in SPAN_KEYS:
        return _any_of(samples[key], rxs)
    if key == BASE_KEY:
        hit = any(bool(matches(pl.Series(["true"]), rx, "tag")[0]) for rx in rxs)
        return samples["base"] & hit
    rows = labels.filter((pl.col("key") == key) & pl.col("str").is_not_null())
    ok = rows.filter(_any_of(rows["str"], rxs))["label_set_id"].unique()
    return samples["label_set_id"].is_in(ok.implode())


def _any_regex(samples: pl.DataFrame, labels: pl.DataFrame, rxs: list[str]) -> pl.Series:
    rows = labels.filter(pl.col("str").is_not_null())
    kv = rows["key"] + ":" + rows["str"]
    out = pl.Series([True] * samples.height, dtype=pl.Boolean)
    for rx in rxs:
        sets = rows.filter(matches(kv, rx, "tag"))["label_set_id"].unique()
        hit = samples["label_set_id"].is_in(sets.implode())
        for col in SPAN_KEYS:
            kv_col = samples.select(pl.concat_str(pl.lit(col + ":"), pl.col(col))).to_series()
            hit = hit | matches(kv_col, rx, "tag").fill_null(False)
        base_hit = bool(matches(pl.Series([BASE_KEY + ":true"]), rx, "tag")[0])
        hit = hit | (samples["base"] & base_hit)
        out = out & hit
    return out


def _any_of(values: pl.Series, rxs: list[str]) -> pl.Series:
    out = pl.Series([False] * len(values), dtype=pl.Boolean)
    for rx in rxs:
        out = out | matches(values, rx, "tag").fill_null(False)
    return out
