"""Profile: a set of canonical tables (one or many profiles), as Polars frames and DuckDB views.

A ``Profile`` holds the six tables of :mod:`profilelab.model.schema`. It may contain many
profiles (every sample type of every loaded input is one row of ``profiles``); stacks,
frames, mappings and label sets are shared between them through content-hashed ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import polars as pl

from profilelab.model import schema
from profilelab.model.reporting import reporting
from profilelab.model.sql import run_sql

if TYPE_CHECKING:
    import duckdb

    from profilelab.model.graph_tables import GraphTables

_KEYS = {
    "profiles": "profile_id",
    "stacks": "stack_id",
    "frames": "frame_id",
    "mappings": "mapping_id",
}


@dataclass(frozen=True)
class Profile:
    """The canonical tables of one or more loaded profiles."""

    profiles: pl.DataFrame
    samples: pl.DataFrame
    stacks: pl.DataFrame
    frames: pl.DataFrame
    mappings: pl.DataFrame
    labels: pl.DataFrame

    # ---- construction -----------------------------------------------------------------
    @classmethod
    def empty(cls) -> Profile:
        return cls(**{name: schema.empty(name) for name in schema.TABLES})

    @classmethod
    def concat(cls, parts: Iterable[Profile]) -> Profile:
        """Merge profile sets: rows are appended; shared stacks/frames/mappings/labels kept once.

        Totals are conserved: samples are never merged or dropped. Loading one input twice
        yields its profiles twice under the same ids (``samples`` rows double).
        """
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        tables: dict[str, pl.DataFrame] = {}
        for name in schema.TABLES:
            frames = [getattr(p, name) for p in parts]
            if name == "labels":
                tables[name] = _unique_label_sets(frames)
                continue
            df = pl.concat(frames, how="vertical")
            if name in _KEYS:
                df = df.unique(_KEYS[name], keep="first", maintain_order=True)
            tables[name] = df
        return cls(**tables)

    def tables(self) -> Iterator[tuple[str, pl.DataFrame]]:
        """(name, frame) for each table, in schema order."""
        for f in fields(self):
            yield f.name, getattr(self, f.name)

    def replace(self, **tables: pl.DataFrame) -> Profile:
        """A copy with some tables replaced."""
        current = dict(self.tables())
        current.update(tables)
        return Profile(**current)

    def subset(self, profile_ids: pl.Series) -> Profile:
        """Only the profiles ``profile_ids`` and their samples (shared tables kept whole)."""
        keep = profile_ids.implode()
        return self.replace(
            profiles=self.profiles.filter(pl.col("profile_id").is_in(keep)),
            samples=self.samples.filter(pl.col("profile_id").is_in(keep)),
        )

    # ---- SQL ------------------------------------------------------------------------------
    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with every table registered as a view (zero-copy through Arrow)."""
        import duckdb

        con = con or duckdb.connect()
        for name, df in self.tables():
            con.register(name, df.to_arrow())
        return con

    def sql(self, query: str) -> pl.DataFrame:
        """Run a DuckDB query over the tables and return a Polars frame."""
        return run_sql(self.connect, query)

    # ---- convenience --------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.profiles.height

    def __repr__(self) -> str:
        # each distinct sample type once, in first-seen order (a fleet repeats them per file)
        pairs = self.profiles.select("sample_type", "sample_unit").unique(maintain_order=True)
        types = ", ".join(f"{t}/{u}" for t, u in pairs.iter_rows())
        return (
            f"<Profile {self.profiles.height} profiles [{types}], {self.samples.height} samples, "
            f"{self.stacks.height} stacks, {self.frames.height} frames>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Notebook display: a summary and a flame graph (see profilelab.widgets.display)."""
        return reporting().mimebundle(self)

    def check(self) -> None:
        """Raise ValidationError unless every invariant of the canonical model holds."""
        from profilelab.model.check import check

        check(self)

    # ---- pprof-compatible reports (profilelab.ops, through the seam of model/reporting.py) -
    def top(self, **options: Any) -> pl.DataFrame:
        """pprof's ``-top``: flat, flat_pct, sum_pct, cum, cum_pct, name, inline per node.

        Keyword options are :class:`profilelab.ops.ReportOptions` fields (``sample_index``,
        ``focus``, ``granularity``, ``transforms``, ``nodecount``, ``base``, ...), or
        ``selection=`` a :class:`profilelab.core.Selection`; every report method takes the
        same. See ``docs/reports.md`` and ``docs/api.md``.
        """
        return reporting().top(self, **options)

    def tags(self, **options: Any) -> pl.DataFrame:
        """pprof's ``-tags``: key, value, flat, flat_pct, key_total."""
        return reporting().tags(self, **options)

    def peek(self, regex: str, **options: Any) -> pl.DataFrame:
        """pprof's ``-peek REGEX``: callers and callees of the matching nodes."""
        return reporting().peek(self, regex, **options)

    def graph(self, **options: Any) -> GraphTables:
        """The call graph ``profilelab graph`` draws (pprof's ``-dot`` selection), as a
        ``(nodes, edges)`` pair of tables; options as for :meth:`top` plus ``call_tree``."""
        return reporting().call_graph(self, **options)

    def list(self, regex: str, **options: Any) -> pl.DataFrame:
        """pprof's ``-list REGEX``: function, file, line, flat, cum and source text per line.

        ``source_path`` (``:``-separated directories, default: the current one) and
        ``trim_path`` say where the source files are, as ``go tool pprof`` finds them.
        """
        return reporting().source_list(self, regex, **options)

    def traces(self, **options: Any) -> pl.DataFrame:
        """pprof's ``-traces``: value, labels, frames (leaf first), inline per sample."""
        return reporting().traces(self, **options)

    def to_pandas(self) -> dict[str, Any]:
        """Every table as a pandas DataFrame (requires pandas)."""
        return {name: df.to_pandas() for name, df in self.tables()}


def _unique_label_sets(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate label tables, keeping each label set's rows from its first part only.

    A label set id is a hash of its content, so equal ids carry equal rows.
    """
    seen = pl.DataFrame(schema={"label_set_id": pl.Int64})
    kept = []
    for df in parts:
        fresh = df.join(seen, on="label_set_id", how="anti")
        kept.append(fresh)
        seen = pl.concat([seen, fresh.select("label_set_id").unique()])
    return pl.concat(kept, how="vertical")
