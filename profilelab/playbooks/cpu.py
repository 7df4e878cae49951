"""CPU hotspots: follow the widest tower of the flame graph, then ask which package costs most.

The method, as a person reads a flame graph:

1. :func:`hot_path`: from the root's widest child, keep stepping into the widest child
   while it holds at least 90% of its parent: the trunk of the widest tower, before it
   branches. These frames are the path every request takes (the server loop, the
   handler): necessary, but not what to optimize.
2. :func:`package_shares`: each package's cum share, i.e. the share of samples with any frame
   of the package on the stack (counted once per sample).
3. The hotspot is the package with the largest cum share that is neither on the hot path
   nor the Go runtime (``runtime``, ``runtime/...``: allocation and garbage collection are
   a symptom of the code that allocates, which shows up as its caller).

Shares are of the selection's total (one sample type, optionally filtered by sample
labels such as ``endpoint``), never of another profile's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from profilelab.analysis._totals import key_totals, package_of
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.playbooks._finding import Finding, pct
from profilelab.views import LabelFilter, Selection
from profilelab.views._select import label_sets_matching
from profilelab.views.tree import OTHER_NAME

QUESTION = "Where does the service spend its CPU, and what is worth optimizing?"


@dataclass(frozen=True)
class PathStep:
    name: str
    share: float


def hot_path(sel: Selection, min_fraction: float = 0.9) -> list[PathStep]:
    """The trunk of the widest tower: from the root's widest child, down the widest child
    while it holds at least ``min_fraction`` of its parent (where the tower stops branching
    off, the request's own work begins). Shares are of the selection's total."""
    tree = sel.flame()
    total = float(tree.total[0]) if len(tree) else 0.0
    if total <= 0:
        return []
    other = tree.strings.index(OTHER_NAME) if OTHER_NAME in tree.strings else -1
    steps: list[PathStep] = []
    node = 0
    while True:
        kids = np.flatnonzero((tree.parent == node) & (tree.name != other))
        if kids.size == 0:
            return steps
        widest = int(kids[np.argmax(tree.total[kids])])
        if steps and tree.total[widest] < min_fraction * tree.total[node]:
            return steps
        share = float(tree.total[widest]) / total
        steps.append(PathStep(tree.strings[int(tree.name[widest])], share))
        node = widest


def only_labels(p: Profile, labels: LabelFilter | None) -> Profile:
    """The profile with only the samples whose labels match (all samples when None)."""
    if not labels:
        return p
    ids = label_sets_matching(p, labels)
    return p.replace(samples=p.samples.filter(pl.col("label_set_id").is_in(ids.implode())))


def package_shares(p: Profile, sample_type: str | None = None) -> pl.DataFrame:
    """Per package: ``cum`` and ``flat`` value and share of the total (summed over profiles).

    Columns: package, flat, cum, flat_share, cum_share; sorted by cum descending.
    """
    sel = Selection(p, sample_type)
    ids = p.profiles.filter(pl.col("sample_type") == sel.sample_type)["profile_id"]
    totals = key_totals(p, "package", ids).group_by("key").agg(pl.col("flat", "cum").sum())
    total = float(sel.total) or 1.0
    return (
        totals.rename({"key": "package"})
        .with_columns(
            (pl.col("flat") / total).alias("flat_share"), (pl.col("cum") / total).alias("cum_share")
        )
        .sort(["cum", "package"], descending=[True, False])
    )


def _runtime_expr(package: pl.Expr) -> pl.Expr:
    return (package == "runtime") | package.str.starts_with("runtime/")


def cpu_hotspot(
    p: Profile, *, labels: LabelFilter | None = None, sample_type: str | None = None
) -> Finding:
    """The hottest package off the hot path, with its share of (the labelled) CPU."""
    part = only_labels(p, labels)
    sel = Selection(part, sample_type)
    if sel.total <= 0:
        raise QueryError(f"no {sel.sample_type} samples match {dict(labels or {})}")
    path = hot_path(sel)
    on_path = {_package(step.name) for step in path}
    shares = package_shares(part, sel.sample_type)
    candidates = shares.filter(
        ~pl.col("package").is_in(sorted(on_path)) & ~_runtime_expr(pl.col("package"))
    )
    if candidates.is_empty():
        raise QueryError("every package with samples is on the hot path or in the runtime")
    top = candidates.row(0, named=True)
    functions = _top_functions(sel, top["package"])
    scope = ", ".join(f"{k}={v}" for k, v in (labels or {}).items())
    headline = (
        f"{top['package']} is on {pct(top['cum_share'])} of the {sel.sample_type} samples"
        + (f" with {scope}" if scope else "")
        + "; "
        f"its hottest function is {functions['name'][0]} ({pct(functions['share'][0])})"
    )
    details = (
        "hot path (every request): " + " → ".join(f"{s.name} ({pct(s.share)})" for s in path[-3:]),
        f"runtime (allocation, GC, scheduling) is on {pct(_runtime_share(shares))} of samples",
    )
    facts = {
        "package": top["package"],
        "package_share": top["cum_share"],
        "function": functions["name"][0],
        "function_share": functions["share"][0],
        "hot_path": [s.name for s in path],
        "sample_type": sel.sample_type,
        "total": sel.total,
    }
    return Finding(
        "01-cpu-hotspot",
        QUESTION,
        headline,
        facts,
        details,
        {"packages": shares, "functions": functions},
    )


def _package(function: str) -> str:
    return str(pl.select(package_of(pl.lit(function))).item())


def _top_functions(sel: Selection, package: str, n: int = 10) -> pl.DataFrame:
    """The package's functions by total (cum), with their share of the selection."""
    table = sel.top("function").with_columns(
        package_of(pl.col("name")).alias("pkg"), (pl.col("total") / sel.total).alias("share")
    )
    return (
        table.filter(pl.col("pkg") == package)
        .sort(["total", "name"], descending=[True, False])
        .head(n)
        .select("name", "self", "total", "share")
    )


def _runtime_share(shares: pl.DataFrame) -> float:
    runtime = shares.filter(pl.col("package") == "runtime")
    return float(runtime["cum_share"][0]) if runtime.height else 0.0


def package_change(before: Profile, after: Profile, package: str) -> tuple[float, float]:
    """The package's cum share in two profiles (0 where it has no samples)."""
    out = []
    for p in (before, after):
        shares = package_shares(p).filter(pl.col("package") == package)
        out.append(float(shares["cum_share"][0]) if shares.height else 0.0)
    return out[0], out[1]


def cpu_fix(
    before: Profile,
    after: Profile,
    package: str,
    *,
    labels: LabelFilter | None = None,
    names: tuple[str, str] = ("before", "after"),
) -> Finding:
    """Did a fix work? The package's cum share of (the labelled) CPU in both profiles."""
    shares = package_change(only_labels(before, labels), only_labels(after, labels), package)
    scope = ", ".join(f"{k}={v}" for k, v in (labels or {}).items())
    of = f"of the {scope} CPU" if scope else "of CPU"
    headline = (
        f"{package} went from {pct(shares[0])} {of} ({names[0]}) to {pct(shares[1])} ({names[1]})"
    )
    facts = {"package": package, "before": shares[0], "after": shares[1]}
    return Finding("01-cpu-hotspot", "Did the fix work?", headline, facts)
