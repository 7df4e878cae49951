"""Regular expressions as pprof applies them: unanchored search, RE2 syntax.

pprof uses Go's RE2 ``regexp``; profilelab matches with Polars (Rust's ``regex`` crate),
whose syntax and semantics are RE2's too, vectorized over distinct strings.
"""

from __future__ import annotations

import polars as pl

from profilelab.errors import QueryError


def check_regex(pattern: str, option: str) -> None:
    """Raise QueryError naming ``option`` when ``pattern`` does not compile."""
    try:
        pl.Series([""], dtype=pl.Utf8).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        text = str(exc).split("This error occurred")[0]  # drop Polars' expression dump
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        detail = " ".join(lines) or type(exc).__name__
        raise QueryError(f"parsing {option} regexp {pattern!r}: {detail}") from None


def matches(values: pl.Series, pattern: str, option: str) -> pl.Series:
    """Whether each value contains a match of ``pattern`` (null values: null)."""
    check_regex(pattern, option)
    return values.str.contains(pattern)


def matches_expr(column: str, pattern: str, option: str) -> pl.Expr:
    """Expression form of :func:`matches`; null strings do not match."""
    check_regex(pattern, option)
    return pl.col(column).str.contains(pattern).fill_null(False)
