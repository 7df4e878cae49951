"""Alert rules over profiles, in the spirit of Prometheus rules.

Two kinds of rule, written in YAML (see docs/analysis.md)::

    rules:
      - name: json-too-hot
        expr: share(cpu{service="order"}, function=~"encoding/json.*") > 0.30 for 10m
        step: 1m              # bucket width (default 1m)
        window: -6h           # evaluate from this start (default: all profiles)
      - name: no-db-regression
        regression:
          selector: cpu{service="order-service"}
          base: {version: v2.3.5}
          new: {version: v2.3.6}
          match: "main\\\\."    # only keys matching this regex (optional)
          max_delta_share: 0.02  # fire on a significant increase larger than this
          alpha: 0.05

``share(SEL, KEY=~"RE")`` is, per step, the share of the selected profiles' samples with any
frame whose key matches (a sample counts once: pprof's *cum*); ``value(SEL, ...)`` is their
summed value; without a matcher ``value(SEL)`` is the step's total. ``self_share`` and
``self_value`` measure only the samples whose *leaf* frame matches (pprof's *flat*).
``... by (function)`` (or ``file``, ``package``) evaluates the measure for every key on its
own and fires for each key that holds the condition: ``self_share(cpu{service="api"}) by
(function) > 0.3 for 10m`` is "any function above 30% of the CPU for ten minutes". The
condition must hold in consecutive steps covering at least the ``for`` duration (default:
one step). A regression rule runs :func:`~profilelab.analysis.compare` and fires on keys that
are significant (FDR ``alpha``) and grew by more than ``max_delta_share``.

A rule that looked at nothing (its selector, window or pattern matched no data) does not
pass: its result says ``no_data`` with the reason, and ``profilelab check`` exits non-zero,
so a CI gate cannot pass by looking at nothing.

A rule source is a :class:`~profilelab.store.Store` or any :class:`Profile`; selectors are the
store's (``TYPE{label="v", other=~"re"}``) in both cases.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import yaml

from profilelab.analysis import _select
from profilelab.analysis.compare import compare
from profilelab.analysis.trends import pattern_share, trend
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.model.reporting import reporting

if TYPE_CHECKING:
    from profilelab.store import Store

_CMP: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_TAIL = re.compile(
    r"^\s*(?:by\s*\(\s*(?P<by>function|file|package)\s*\))?"
    r"\s*(?P<cmp>>=|<=|==|!=|>|<)\s*(?P<thr>[-+0-9.eE]+)\s*(?:for\s+(?P<for>\S+))?\s*$"
)
_MATCHER = re.compile(
    r'^\s*(?P<key>function|file|package|frame)\s*=~\s*"(?P<re>(?:[^"\\]|\\.)*)"\s*$'
)


@dataclass(frozen=True)
class Rule:
    """One parsed rule."""

    name: str
    kind: str  # "share", "value" or "regression"
    selector: str
    key: str = "function"
    pattern: str | None = None
    measure: str = "cum"  # "cum" (any frame matches) or "flat" (the leaf frame matches)
    by: str | None = None  # evaluate per key (function, file, package) when set
    op: str = ">"
    threshold: float = 0.0
    for_ns: int = 0
    step_ns: int = 60 * 10**9
    window: str | None = None
    base: Mapping[str, str] = field(default_factory=dict)
    new: Mapping[str, str] = field(default_factory=dict)
    max_delta_share: float = 0.01
    alpha: float = 0.05
    text: str = ""


@dataclass
class Result:
    """A rule's outcome: the windows where it fired (or the keys that regressed)."""

    rule: Rule
    firing: pl.DataFrame  # share/value rules: [key,] start, end, steps, worst; regression: keys
    values: pl.DataFrame  # per-step series (share/value) or the full comparison (regression)
    evidence: list[Path] = field(default_factory=list)
    no_data: str | None = None  # why the rule looked at nothing (None: it saw data)

    @property
    def fired(self) -> bool:
        return self.firing.height > 0

    def summary(self) -> str:
        r = self.rule
        if self.no_data is not None:
            return f"NO DATA {r.name}: {self.no_data} (selector {r.selector})"
        if not self.fired:
            return f"ok      {r.name}: {r.text}"
        if r.kind == "regression":
            keys = ", ".join(
                f"{k} {100 * d:+.2f} pp"
                for k, d in self.firing.select("key", "delta_share").iter_rows()
            )
            return f"FIRING  {r.name}: significant increase in {keys}"
        key = self.firing["key"] if "key" in self.firing.columns else None
        spans = "; ".join(
            (f"{key[i]} " if key is not None else "")
            + f"{s:%Y-%m-%d %H:%M:%S}..{e:%H:%M:%S} (worst {w:.4g})"
            for i, (s, e, w) in enumerate(self.firing.select("start", "end", "worst").iter_rows())
        )
        return f"FIRING  {r.name}: {r.text} during {spans}"


# ---- parsing ---------------------------------------------------------------------------------
def parse_expr(text: str) -> dict[str, Any]:
    """Split ``share(SEL, function=~"re") > 0.3 for 10m`` into its parts."""
    m = re.match(r"^\s*(self_share|self_value|share|value)\s*\(", text)
    if not m:
        raise QueryError(
            f"rule expression {text!r}: expected share(...), value(...), self_share(...) "
            "or self_value(...)"
        )
    close, commas = _scan_arguments(text, m.end())
    bounds = [m.end() - 1, *commas, close]
    args = [text[lo + 1 : hi] for lo, hi in itertools.pairwise(bounds)]
    if not args or not args[0].strip() or len(args) > 2:
        raise QueryError(f"rule expression {text!r}: expected ({m.group(1)}(SELECTOR[, KEY=~RE])")
    flat = m.group(1).startswith("self_")
    out: dict[str, Any] = {
        "kind": m.group(1).removeprefix("self_"),
        "measure": "flat" if flat else "cum",
        "selector": args[0].strip(),
    }
    if len(args) == 2:
        mm = _MATCHER.match(args[1])
        if not mm:
            raise QueryError(
                f'rule expression {text!r}: expected function=~"regex", got {args[1]!r}'
            )
        out["key"], out["pattern"] = mm.group("key"), _unescape(mm.group("re"))
    tail = _TAIL.match(text[close + 1 :])
    if not tail:
        raise QueryError(
            f"rule expression {text!r}: expected a comparison like '> 0.3 for 10m' "
            "(optionally after 'by (function)', 'by (file)' or 'by (package)')"
        )
    out["op"], out["threshold"] = tail.group("cmp"), float(tail.group("thr"))
    if tail.group("by"):
        by = tail.group("by")
        if "pattern" in out and out["key"] != by:
            raise QueryError(
                f"rule expression {text!r}: the matcher's key ({out['key']}) must be the "
                f"'by' key ({by})"
            )
        out["by"] = out["key"] = by
    if tail.group("for"):
        out["for_ns"] = _select.parse_duration_ns(tail.group("for"))
    return out


def _unescape(text: str) -> str:
    """Prometheus-style string escapes: ``\\\\`` is one backslash, ``\\"`` a quote; other
    backslashes stay (so ``"DB\\)"`` and ``"DB\\\\)"`` both mean the regex ``DB\\)``)."""
    return re.sub(r'\\([\\"])', r"\1", text)


def _scan_arguments(text: str, start: int) -> tuple[int, list[int]]:
    """From just inside ``(``: the index of the matching ``)`` and of the top-level commas.

    Quotes (``"``, ``'``, backquote, with backslash escapes) and ``{...}``/``(...)`` nest.
    """
    commas: list[int] = []
    depth, quote, i = 1, "", start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
            if depth == 0:
                return i, commas
        elif c == "," and depth == 1:
            commas.append(i)
        i += 1
    raise QueryError(f"rule expression {text!r}: unbalanced parentheses")


def load_rules(source: str | Path | Iterable[Mapping[str, Any]]) -> list[Rule]:
    """Rules from a YAML file path, YAML text, or a list of rule mappings."""
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and Path(source).is_file()
    ):
        text = Path(source).read_text(encoding="utf-8")
        where = str(source)
    elif isinstance(source, str):
        text, where = source, "<rules>"
    else:
        return [_rule(dict(r), i, "<rules>") for i, r in enumerate(source)]
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise QueryError(f"{where}: not valid YAML: {exc}") from None
    items = doc.get("rules") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise QueryError(f"{where}: expected a non-empty 'rules:' list")
    return [_rule(r, i, where) for i, r in enumerate(items)]


def _rule(raw: Any, i: int, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise QueryError(f"{where}: rule {i} is not a mapping")
    name = str(raw.get("name") or f"rule-{i}")
    ctx = f"{where}: rule {name!r}"
    step = _select.parse_duration_ns(str(raw.get("step", "1m")))
    window = str(raw["window"]) if raw.get("window") is not None else None
    if "regression" in raw:
        reg = raw["regression"]
        if (
            not isinstance(reg, dict)
            or not reg.get("selector")
            or not reg.get("base")
            or not reg.get("new")
        ):
            raise QueryError(f"{ctx}: regression needs selector, base and new")
        return Rule(
            name=name,
            kind="regression",
            selector=str(reg["selector"]),
            key=str(reg.get("key", "function")),
            pattern=reg.get("match"),
            base={str(k): str(v) for k, v in reg["base"].items()},
            new={str(k): str(v) for k, v in reg["new"].items()},
            max_delta_share=float(reg.get("max_delta_share", 0.01)),
            alpha=float(reg.get("alpha", 0.05)),
            window=window,
            text=f"regression {reg['base']} -> {reg['new']} in {reg['selector']}",
        )
    if "expr" not in raw:
        raise QueryError(f"{ctx}: needs 'expr' or 'regression'")
    try:
        parts = parse_expr(str(raw["expr"]))
    except QueryError as exc:
        raise QueryError(f"{ctx}: {exc}") from None
    if raw.get("for") is not None:
        parts["for_ns"] = _select.parse_duration_ns(str(raw["for"]))
    return Rule(name=name, step_ns=step, window=window, text=str(raw["expr"]), **parts)


# ---- evaluation ---------------------------------------------------------------------------------
def evaluate(
    rules: Iterable[Rule] | str | Path,
    source: Store | Profile,
    *,
    evidence_dir: str | Path | None = None,
) -> list[Result]:
    """Evaluate every rule on a store or a Profile; write flame-graph evidence if asked."""
    if isinstance(rules, str | Path):
        rules = load_rules(rules)
    out = []
    for rule in rules:
        prof = _query(source, rule.selector, rule.window)
        result = _regression(rule, prof) if rule.kind == "regression" else _threshold(rule, prof)
        if result.fired and evidence_dir is not None:
            result.evidence = _write_evidence(result, prof, Path(evidence_dir))
        out.append(result)
    return out


def _query(source: Store | Profile, selector: str, window: str | None) -> Profile:
    if isinstance(source, Profile):
        return select_profiles(source, selector, window)
    return source.query(selector, start=window)


def select_profiles(p: Profile, selector: str, start: str | None = None) -> Profile:
    """The profiles of ``p`` matching a store selector (``cpu{version="v2"}``) from ``start``."""
    from profilelab.store import query as store_query
    from profilelab.store import types

    rows = p.profiles.with_columns(types.inferred_name().alias("name"))
    rows = rows.with_columns(types.profile_type_expr().alias("profile_type"))
    return p.subset(store_query.select_rows(rows, selector, start, None)["profile_id"])


def _threshold(rule: Rule, prof: Profile) -> Result:
    group = ["key"] if rule.by else []
    if prof.profiles.is_empty():
        where = f" in the window from {rule.window}" if rule.window else ""
        why = f"the selector matched no profiles{where}"
        return Result(rule, _no_windows(group), pl.DataFrame(), no_data=why)
    series = _series(rule, prof)
    if series.is_empty():
        return Result(rule, _no_windows(group), series, no_data="no selected profile has a time")
    if rule.pattern is not None and series["value"].sum() == 0:
        why = f"no sample has a {rule.key} matching {rule.pattern!r}"
        return Result(rule, _no_windows(group), series, no_data=why)
    if rule.kind == "share":
        metric = "share"
    else:
        metric = "value" if rule.pattern is not None or rule.by else "total"
    series = series.with_columns(pl.col(metric).alias("metric"))
    hit = _CMP[rule.op](series["metric"], rule.threshold)
    series = series.with_columns(hit.alias("condition"))
    return Result(rule, _windows(series, rule, group), series)


def _series(rule: Rule, prof: Profile) -> pl.DataFrame:
    """Per step (and per key for ``by`` rules): ``bucket``, ``value``, ``total``, ``share``.

    Cum without ``by`` counts a sample once however many of its frames match (a sum over keys
    would count it once per matching key); flat and ``by`` series come from the trend.
    """
    if rule.by is None and rule.measure == "cum":
        pattern = rule.pattern if rule.pattern is not None else ""
        return pattern_share(prof, pattern, key=rule.key, step=rule.step_ns)  # type: ignore[arg-type]
    per_key = trend(
        prof,
        key=rule.key,  # type: ignore[arg-type]
        step=rule.step_ns,
        match=rule.pattern,
        measure=rule.measure,  # type: ignore[arg-type]
        top=None,
    ).with_columns(pl.col("time").dt.epoch("ns").alias("bucket"))
    if rule.by is not None:
        return per_key.select("bucket", "key", "value", "total", "share")
    # flat without by: a sample has one leaf, so the per-key values add up exactly
    return (
        per_key.group_by("bucket")
        .agg(pl.col("value").sum(), pl.col("total").first())
        .with_columns((pl.col("value") / pl.col("total")).fill_nan(0.0).alias("share"))
        .sort("bucket")
    )


def _windows(series: pl.DataFrame, rule: Rule, group: list[str]) -> pl.DataFrame:
    """Maximal runs of consecutive steps where the condition holds for at least ``for``
    (per key of ``group``)."""

    def over(e: pl.Expr) -> pl.Expr:
        return e.over(group) if group else e

    s = series.sort([*group, "bucket"]).with_columns(
        (
            (pl.col("condition") != over(pl.col("condition").shift(1)))
            | (pl.col("bucket") - over(pl.col("bucket").shift(1)) != rule.step_ns)
        )
        .fill_null(True)
        .cum_sum()
        .alias("run")
    )
    worst = pl.col("metric").max() if rule.op in (">", ">=") else pl.col("metric").min()
    runs = (
        s.filter(pl.col("condition"))
        .group_by("run", *group)
        .agg(
            pl.col("bucket").min().alias("start_ns"),
            (pl.col("bucket").max() + rule.step_ns).alias("end_ns"),
            pl.len().alias("steps"),
            worst.alias("worst"),
        )
        .filter(pl.col("end_ns") - pl.col("start_ns") >= max(rule.for_ns, rule.step_ns))
        .sort("start_ns", *group)
    )
    return runs.select(
        *group,
        pl.from_epoch("start_ns", time_unit="ns").alias("start"),
        pl.from_epoch("end_ns", time_unit="ns").alias("end"),
        "start_ns",
        "end_ns",
        "steps",
        "worst",
    )


def _no_windows(group: list[str] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            **dict.fromkeys(group or [], pl.Utf8),
            "start": pl.Datetime("ns"),
            "end": pl.Datetime("ns"),
            "start_ns": pl.Int64,
            "end_ns": pl.Int64,
            "steps": pl.UInt32,
            "worst": pl.Float64,
        }
    )


def _regression(rule: Rule, prof: Profile) -> Result:
    empty = pl.DataFrame(schema={"key": pl.Utf8, "delta_share": pl.Float64})
    if prof.profiles.is_empty():
        return Result(rule, empty, empty, no_data="the selector matched no profiles")
    try:
        res = compare(prof, dict(rule.base), dict(rule.new), key=rule.key, alpha=rule.alpha)  # type: ignore[arg-type]
    except QueryError as exc:  # a side with fewer than two profiles: nothing to compare
        return Result(rule, empty, empty, no_data=str(exc))
    firing = res.filter(pl.col("significant") & (pl.col("delta_share") > rule.max_delta_share))
    if rule.pattern:
        if not res["key"].str.contains(rule.pattern).any():
            why = f"no {rule.key} matches {rule.pattern!r}"
            return Result(rule, empty, res, no_data=why)
        firing = firing.filter(pl.col("key").str.contains(rule.pattern))
    return Result(rule, firing, res)


def _write_evidence(result: Result, prof: Profile, directory: Path) -> list[Path]:
    """A flame graph of each firing window (a diff flame graph for a regression)."""
    pages = reporting()
    directory.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", result.rule.name)
    rule = result.rule
    if rule.kind == "regression":
        table = _select.profile_table(prof)
        base, new = (
            prof.subset(_select.select(table, dict(s))["profile_id"]) for s in (rule.base, rule.new)
        )
        path = directory / f"{safe}.diff.html"
        return [pages.diff_page(base, new, path, title=f"{rule.name}: diff")]
    paths = []
    firing = result.firing
    keys = firing["key"] if "key" in firing.columns else [None] * firing.height
    for i, (start, end) in enumerate(firing.select("start_ns", "end_ns").iter_rows()):
        window = _select.window(_select.of_type(prof, None), start, end)["profile_id"]
        path = directory / f"{safe}.{i}.html"
        key = keys[i]
        focus = f"^{re.escape(key)}$" if key is not None else rule.pattern or None
        title = f"{rule.name}: window {i}" + (f" ({key})" if key is not None else "")
        paths.append(pages.flame_page(prof.subset(window), path, title=title, focus=focus))
    return paths


def assert_no_regression(
    source: Store | Profile,
    base: Mapping[str, str],
    new: Mapping[str, str],
    *,
    selector: str | None = None,
    key: str = "function",
    match: str | None = None,
    max_delta_share: float = 0.01,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Raise AssertionError (for pytest) when ``new`` significantly regressed against ``base``.

    Returns the comparison table when nothing regressed.
    """
    sel = selector or '{__name__=~".+"}'
    rule = Rule(
        name="no-regression",
        kind="regression",
        selector=sel,
        key=key,
        pattern=match,
        base=base,
        new=new,
        max_delta_share=max_delta_share,
        alpha=alpha,
    )
    result = _regression(rule, _query(source, sel, None))
    if result.fired:
        rows = "\n".join(
            f"  {k}: {b:.2%} -> {n:.2%} ({100 * d:+.2f} pp, q={q:.2g})"
            for k, b, n, d, q in result.firing.select(
                "key", "base_share", "new_share", "delta_share", "q_value"
            ).iter_rows()
        )
        raise AssertionError(f"{dict(new)} regressed against {dict(base)}:\n{rows}")
    return result.values
