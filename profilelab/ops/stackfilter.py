"""pprof's stack filters, vectorized over the exploded stack view of :mod:`.frames`.

Each function takes the view ``E`` (:data:`.frames.VIEW_COLUMNS`) and the frame
attributes ``F`` and returns a smaller ``E``: rows (lines) removed, whole stacks removed.
A stack that loses every row disappears, and so do its samples; totals of the surviving
samples are unchanged (these filters never change values). Semantics, each as in pprof:

* :func:`remove_uninteresting` - the profile's ``drop_frames``/``keep_frames`` (Prune):
  beneath the root-most user frame, cut the stack at the first location whose function
  (arguments stripped) fully matches drop_frames and not keep_frames;
* :func:`filter_by_name` - ``focus`` keeps stacks with a matching location, ``ignore`` drops
  stacks with one, ``hide`` removes matching lines, ``show`` keeps only matching lines;
  a location matches when a function name or file name of its lines, or its mapping's
  file, contains a match; stacks without any location are dropped (pprof does the same);
* :func:`show_from` - drops frames above (towards the root of) the root-most match;
* :func:`prune_from` - drops frames beneath (towards the leaf of) the leaf-most match;
* :func:`no_inlines` - keeps only the outermost line of every location (``-noinlines``).
"""

from __future__ import annotations

import re

import polars as pl

from profilelab.core.regex import check_regex, matches_expr
from profilelab.ops.frames import VIEW_COLUMNS

_LOC = ("stack_id", "loc")
_RESERVED = ("(anonymous namespace)", "operator()")
_BRACKET = re.compile("|".join(re.escape(n) for n in (*_RESERVED, "(")))


def simplify_func(name: str) -> str:
    """pprof's simplifyFunc: strip a leading '.' and the argument list (C++ reserved names kept)."""
    name = name.removeprefix(".")
    for m in _BRACKET.finditer(name):
        if m.group(0) not in _RESERVED:
            return name[: m.start()]
    return name


def _with_flags(e: pl.DataFrame, f: pl.DataFrame, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
    flags = f.select("frame_id", *(x.alias(n) for n, x in exprs.items()))
    return e.join(flags, on="frame_id", how="left", maintain_order="left")


def _name_matches(pattern: str, option: str) -> tuple[pl.Expr, pl.Expr]:
    """(line match, mapping match) expressions over F for one regex."""
    line = pl.col("function").is_not_null() & (
        matches_expr("function", pattern, option) | matches_expr("file", pattern, option)
    )
    return line, matches_expr("map_file", pattern, option)


def _simplified_matches(f: pl.DataFrame, pattern: str, option: str) -> pl.Expr:
    """Named functions whose simplified name matches ``pattern`` (already anchored or not)."""
    names = f["function"].drop_nulls().unique()
    simple = pl.Series([simplify_func(n) for n in names.to_list()], dtype=pl.Utf8)
    check_regex(pattern, option)
    hit = names.filter(simple.str.contains(pattern).fill_null(False) & (names != ""))
    return pl.col("function").is_in(hit.implode()).fill_null(False)


def remove_uninteresting(
    e: pl.DataFrame, f: pl.DataFrame, drop: str | None, keep: str | None
) -> pl.DataFrame:
    """pprof's RemoveUninteresting (Prune with ``^(drop_frames)$`` / ``^(keep_frames)$``)."""
    if not drop:
        return e
    m = _simplified_matches(f, f"^({drop})$", "drop_frames")
    if keep:
        m = m & ~_simplified_matches(f, f"^({keep})$", "keep_frames")
    e = _with_flags(e, f, {"m": m})
    e = e.with_columns(
        pl.col("li").filter(pl.col("m")).max().over(_LOC).alias("istar"),
        pl.col("li").max().over(_LOC).alias("last"),
    )
    flagged = pl.col("istar").is_not_null()
    whole = flagged & (pl.col("istar") == pl.col("last"))
    e = e.with_columns(flagged.alias("flagged"), whole.alias("whole"))
    # Root-most location that is not flagged: the first "user" frame seen from the root.
    user = pl.col("loc").filter(~pl.col("flagged")).max().over("stack_id")
    e = e.with_columns(user.alias("user"))
    cut_expr = pl.col("loc").filter(pl.col("flagged") & (pl.col("loc") < pl.col("user")))
    e = e.with_columns(cut_expr.max().over("stack_id").alias("cut"))
    cut_whole = pl.col("whole").filter(pl.col("loc") == pl.col("cut")).first().over("stack_id")
    e = e.with_columns(cut_whole.alias("cut_whole"))
    keep_loc = (
        pl.col("cut").is_null()
        | (pl.col("loc") > pl.col("cut"))
        | ((pl.col("loc") == pl.col("cut")) & ~pl.col("cut_whole"))
    )
    # Lines of a partially matched location are trimmed everywhere (pprof edits the location).
    keep_line = ~flagged | pl.col("whole") | (pl.col("li") > pl.col("istar"))
    return e.filter(keep_loc & keep_line).select(VIEW_COLUMNS)


def filter_by_name(
    e: pl.DataFrame,
    f: pl.DataFrame,
    focus: str | None,
    ignore: str | None,
    hide: str | None,
    show: str | None,
) -> pl.DataFrame:
    """pprof's FilterSamplesByName."""
    if not (focus or ignore or hide or show):
        return e  # only drops stacks without locations, which have no rows anyway
    exprs: dict[str, pl.Expr] = {"has_fn": pl.col("function").is_not_null()}
    for name, pattern in (("focus", focus), ("ignore", ignore), ("hide", hide), ("show", show)):
        if pattern:
            exprs[f"{name}_l"], exprs[f"{name}_m"] = _name_matches(pattern, name)
    e = _with_flags(e, f, exprs)

    def loc_any(name: str) -> pl.Expr:
        return (pl.col(f"{name}_l") | pl.col(f"{name}_m")).any().over(_LOC)

    ignored = loc_any("ignore") if ignore else pl.lit(False)
    focused = loc_any("focus") if focus else pl.lit(True)
    state = pl.when(ignored).then(-1).when(focused).then(1).otherwise(0)
    e = e.with_columns(state.alias("state"))
    keep_stack = (pl.col("state") == 1).any().over("stack_id") & ~(
        pl.col("state") == -1
    ).any().over("stack_id")
    keep_row = pl.lit(True)
    if hide:
        keep_row = keep_row & ~(pl.col("hide_l") | pl.col("hide_m"))
    if show:
        keep_row = keep_row & pl.col("has_fn") & (pl.col("show_l") | pl.col("show_m"))
    return e.filter(keep_stack & keep_row).select(VIEW_COLUMNS)


def show_from(e: pl.DataFrame, f: pl.DataFrame, pattern: str | None) -> pl.DataFrame:
    """pprof's ShowFrom: keep frames from the root-most match down to the leaf."""
    if not pattern:
        return e
    line, mapping = _name_matches(pattern, "show_from")
    e = _with_flags(e, f, {"lm": line, "mm": mapping})
    e = e.with_columns(
        pl.col("mm").any().over(_LOC).alias("loc_mm"),
        pl.col("li").filter(pl.col("lm")).max().over(_LOC).alias("last_lm"),
    )
    matched = pl.col("loc_mm") | pl.col("last_lm").is_not_null()
    e = e.with_columns(pl.col("loc").filter(matched).max().over("stack_id").alias("top"))
    keep_line = pl.col("loc_mm") | pl.col("last_lm").is_null() | (pl.col("li") <= pl.col("last_lm"))
    keep = pl.col("top").is_not_null() & (pl.col("loc") <= pl.col("top")) & keep_line
    return e.filter(keep).select(VIEW_COLUMNS)


def prune_from(e: pl.DataFrame, f: pl.DataFrame, pattern: str | None) -> pl.DataFrame:
    """pprof's PruneFrom: drop frames beneath the leaf-most matching function."""
    if not pattern:
        return e
    e = _with_flags(e, f, {"m": _simplified_matches(f, pattern, "prune_from")})
    e = e.with_columns(pl.col("li").filter(pl.col("m")).min().over(_LOC).alias("first"))
    flagged = pl.col("first").is_not_null()
    e = e.with_columns(pl.col("loc").filter(flagged).min().over("stack_id").alias("cut"))
    keep = (pl.col("cut").is_null() | (pl.col("loc") >= pl.col("cut"))) & (
        ~flagged | (pl.col("li") >= pl.col("first"))
    )
    return e.filter(keep).select(VIEW_COLUMNS)


def no_inlines(e: pl.DataFrame) -> pl.DataFrame:
    """Keep only the outermost line of each location (pprof's Aggregate without inlines)."""
    return e.filter(pl.col("li") == pl.col("li").max().over(_LOC))
