"""Version regressions: which functions a release made more expensive, with statistics.

Rests on :func:`profilelab.analysis.compare` (N versus M profiles: bootstrap confidence
intervals of the share change, rank tests, Benjamini-Hochberg q-values; see
``docs/analysis.md``). Shares are cum shares (the function anywhere on the stack) of each
profile's total, averaged per set, so sets of different sizes or load compare fairly.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from profilelab.analysis import compare
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.playbooks._finding import Finding, pct, pp

QUESTION = "What did the new version make slower, and is the change real or noise?"


def version_regression(
    p: Profile,
    base: Mapping[str, str],
    new: Mapping[str, str],
    *,
    sample_type: str | None = None,
) -> Finding:
    """The significant share increases from ``base`` to ``new`` (profile-label selections),
    largest first; the headline names the largest one that existed in both versions and the
    largest one that is new."""
    result = compare(p, dict(base), dict(new), sample_type=sample_type)
    grew = result.filter(pl.col("significant") & (pl.col("delta_share") > 0)).sort(
        ["delta_share", "key"], descending=[True, False]
    )
    shrank = result.filter(pl.col("significant") & (pl.col("delta_share") < 0))
    b, n = _name(base), _name(new)
    if grew.is_empty():
        headline = f"no function got significantly more expensive from {b} to {n}"
        return Finding("04-version-regression", QUESTION, headline, {"regressed": []})
    existing = grew.filter(pl.col("base_share") > 0)
    appeared = grew.filter(pl.col("base_share") == 0)
    parts = []
    if existing.height:
        r = existing.row(0, named=True)
        parts.append(
            f"{r['key']} went from {pct(r['base_share'])} to {pct(r['new_share'])} of CPU "
            f"({pp(r['delta_share'])}, 95% CI {pp(r['ci_low'])} to {pp(r['ci_high'])}, "
            f"q = {r['q_value']:.1g})"
        )
    if appeared.height:
        r = appeared.row(0, named=True)
        parts.append(f"{r['key']} is new in {n} and takes {pct(r['new_share'])}")
    headline = f"{b} → {n}: " + "; ".join(parts)
    details = (
        # shares, not costs: a function whose share fell may still cost more per request
        f"{grew.height} functions gained share of CPU significantly, {shrank.height} lost share "
        f"(of {result.height} tested, false discovery rate 5%)",
    )
    top = (existing if existing.height else grew).row(0, named=True)
    facts = {
        "function": top["key"],
        "base_share": top["base_share"],
        "new_share": top["new_share"],
        "q_value": top["q_value"],
        "appeared": appeared["key"].to_list(),
        "regressed": grew["key"].to_list(),
        "profiles": _counts(p, base, new, sample_type),
    }
    return Finding("04-version-regression", QUESTION, headline, facts, details, {"compare": result})


def _name(selection: Mapping[str, str]) -> str:
    return ",".join(selection.values()) if len(selection) == 1 else str(dict(selection))


def _counts(
    p: Profile, base: Mapping[str, str], new: Mapping[str, str], sample_type: str | None
) -> tuple[int, int]:
    from profilelab.analysis import _select

    table = _select.of_type(p, sample_type)
    counts = tuple(_select.select(table, dict(s)).height for s in (base, new))
    if 0 in counts:
        raise QueryError(f"a selection holds no profiles: {dict(base)} / {dict(new)}")
    return counts[0], counts[1]
