"""Spans: the ``spans`` table of loaded traces, its problems, its tree, and SQL over them.

Rows are sorted by (trace_id, start_ns, span_id, service), so that one trace read from any
format gives an identical table. A span is identified by (trace_id, span_id, service):
Zipkin's shared spans reuse one span id in two services. Nothing malformed is dropped
silently: every dropped or repaired span has a row in ``problems`` (``dropped`` says which).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING

import polars as pl

from profilelab.errors import QueryError
from profilelab.model import schema
from profilelab.model.spantree import SpanTree, build_tree
from profilelab.model.sql import run_sql

if TYPE_CHECKING:
    import duckdb

PROBLEMS: dict[str, pl.DataType] = {
    "source": pl.Utf8(),
    "trace_id": pl.Utf8(),
    "span_id": pl.Utf8(),
    "problem": pl.Utf8(),
    "detail": pl.Utf8(),
    "dropped": pl.Boolean(),  # the span is not in the spans table
}
_HEX = frozenset("0123456789abcdef")
_ORDER = ["trace_id", "start_ns", "span_id", "service"]
_KEY = ["trace_id", "span_id", "service"]


class Spans:
    """Loaded spans: ``spans`` (schema ``SPANS``), ``problems``, and the span ``tree``."""

    def __init__(self, spans: pl.DataFrame, problems: pl.DataFrame | None = None) -> None:
        df = schema.conform("spans", spans).sort(_ORDER, nulls_last=True, maintain_order=True)
        df, found = _clean(df)
        self.spans: pl.DataFrame = df
        self.tree: SpanTree = build_tree(df)
        tree_problems = pl.DataFrame(
            [(None, *p, False) for p in self.tree.problems], schema=PROBLEMS, orient="row"
        )
        given = empty_problems() if problems is None else problems.cast(PROBLEMS)  # type: ignore[arg-type]
        self.problems: pl.DataFrame = pl.concat([given, found, tree_problems])

    @classmethod
    def concat(cls, parts: Iterable[Spans]) -> Spans:
        """Spans of several inputs as one table (a span present twice is kept once)."""
        parts = list(parts)
        if not parts:
            return cls(schema.empty("spans"))
        # problems found by the parts' own cleaning and tree are found again on the union
        given = [p.problems.filter(pl.col("source").is_not_null()) for p in parts]
        return cls(pl.concat([p.spans for p in parts]), pl.concat(given))

    # ---- views ----------------------------------------------------------------------------
    @cached_property
    def nodes(self) -> pl.DataFrame:
        """Span keys, times and tree columns (``span_row``, ``parent_row``, ``pre``, ...)."""
        return self.tree.nodes(self.spans)

    def with_duration(self) -> pl.DataFrame:
        """The spans table with ``span_row`` first and a ``duration_ns`` column."""
        return self.spans.with_columns(
            (pl.col("end_ns") - pl.col("start_ns")).alias("duration_ns")
        ).with_row_index("span_row")

    def find(self, span_id: str, trace_id: str | None = None, service: str | None = None) -> int:
        """The row of one span; QueryError when it is absent or the id is ambiguous."""
        sid, why = hex_id(span_id, 16)
        if sid is None:
            raise QueryError(f"span id {span_id!r}: {why}")
        cond = pl.col("span_id") == sid
        if trace_id is not None:
            cond &= pl.col("trace_id") == (hex_id(trace_id, 32)[0] or "")
        if service is not None:
            cond &= pl.col("service") == service
        rows = self.with_duration().filter(cond)["span_row"]
        if rows.len() == 0:
            raise QueryError(f"span {span_id} not found among {self.spans.height} spans")
        if rows.len() > 1:
            raise QueryError(f"span id {span_id} is ambiguous ({rows.len()} spans): give service")
        return int(rows[0])

    # ---- SQL --------------------------------------------------------------------------------
    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with ``spans``, ``problems`` and ``span_tree`` registered."""
        import duckdb

        con = con or duckdb.connect()
        con.register("spans", self.spans.to_arrow())
        con.register("problems", self.problems.to_arrow())
        con.register("span_tree", self.nodes.to_arrow())
        return con

    def sql(self, query: str) -> pl.DataFrame:
        """Run a DuckDB query over ``spans``, ``problems`` and ``span_tree``; return Polars."""
        return run_sql(self.connect, query)

    def __len__(self) -> int:
        return self.spans.height

    def __repr__(self) -> str:
        traces = self.spans["trace_id"].n_unique()
        return (
            f"<Spans {self.spans.height} spans, {traces} traces, {self.problems.height} problems>"
        )


def hex_id(value: str | bytes | None, digits: int) -> tuple[str | None, str | None]:
    """Normalize an id to ``digits`` lower-case hex digits: (id, None) or (None, why not).

    Accepts raw bytes (OTLP protobuf), hex text of any case and up to ``digits`` digits
    (shorter ids are left-padded, as Jaeger writes ``"2"`` for span 2), and base64 text
    ending in ``=`` (proto3-JSON writers that ignore OTLP/JSON's hex rule). All-zero ids are
    invalid in OTLP and W3C trace context.
    """
    if value is None or value == "" or value == b"":
        return None, "missing"
    if isinstance(value, bytes):
        text = value.hex()
    else:
        text = str(value).strip().lower()
        if text.endswith("="):
            try:
                text = base64.b64decode(str(value).strip(), validate=True).hex()
            except (binascii.Error, ValueError):
                return None, f"not hex or base64: {value!r}"
    if len(text) > digits:
        # a 128-bit id whose high half is zero still fits a 64-bit field
        if set(text) <= _HEX and text[: len(text) - digits].strip("0") == "":
            text = text[len(text) - digits :]
        else:
            return None, f"longer than {digits} hex digits: {value!r}"
    if not set(text) <= _HEX:
        return None, f"not hex: {value!r}"
    if text.strip("0") == "":
        return None, f"all-zero id: {value!r}"
    return text.rjust(digits, "0"), None


def empty_problems() -> pl.DataFrame:
    return pl.DataFrame(schema=PROBLEMS)


def _clean(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop repeated spans (keeping the first) and report spans with impossible times."""
    dup = ~df.select(pl.struct(_KEY).is_first_distinct()).to_series()
    dropped = df.filter(dup).select(
        "trace_id",
        "span_id",
        pl.lit("duplicate_span").alias("problem"),
        pl.format("span repeated (name {}); the first is kept", pl.col("name")).alias("detail"),
        pl.lit(True).alias("dropped"),
    )
    kept = df.filter(~dup)
    no_time = kept.filter(pl.col("start_ns").is_null() | pl.col("end_ns").is_null()).select(
        "trace_id",
        "span_id",
        pl.lit("missing_time").alias("problem"),
        pl.lit("span has no start or no end time; never matched by time").alias("detail"),
        pl.lit(False).alias("dropped"),
    )
    backwards = kept.filter(pl.col("end_ns") < pl.col("start_ns")).select(
        "trace_id",
        "span_id",
        pl.lit("ends_before_start").alias("problem"),
        pl.format(
            "ends {} ns before it starts; never matched by time",
            pl.col("start_ns") - pl.col("end_ns"),
        ).alias("detail"),
        pl.lit(False).alias("dropped"),
    )
    found = pl.concat([dropped, no_time, backwards]).select(
        pl.lit(None, dtype=pl.Utf8).alias("source"), pl.all()
    )
    return kept, found.cast(PROBLEMS)  # type: ignore[arg-type]
