"""The Store users open: ingest, select by labels and time, query as Profile, series or SQL.

The files, snapshots and commits are :class:`~profilelab.store.directory.StoreDirectory`'s;
this class adds the entry points, each a call into ``ingest``, ``query`` or ``maintenance``
(which work on the directory, so they never import this module).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from profilelab.core.timeparse import TimeArg
from profilelab.model.profile import Profile
from profilelab.store import layout
from profilelab.store.directory import CommitResult, StoreDirectory
from profilelab.store.prepare import Item

if TYPE_CHECKING:
    import duckdb

    from profilelab.core.selector import Selector
    from profilelab.model.spans import Spans
    from profilelab.store.ingest import IngestReport
    from profilelab.store.maintenance import CompactReport, RetainReport
    from profilelab.store.plans import Spark

__all__ = ["CommitResult", "Store", "TimeArg", "open_store"]


def open_store(path: str | Path, *, create: bool = True) -> Store:
    """Open the store at ``path`` (created when missing, unless ``create`` is false)."""
    return Store(path, create=create)


class Store(StoreDirectory):
    """A continuous-profiling store: ingest, select by labels and time, query as Profile/SQL."""

    def __repr__(self) -> str:
        snap = self.snapshot()
        return (
            f"<Store {self.root}: {snap.catalog.height} profiles in {len(snap.segments)} segments>"
        )

    # ---- reading ----------------------------------------------------------------------------
    def profiles(
        self,
        selector: str | Selector | None = None,
        start: TimeArg = None,
        end: TimeArg = None,
    ) -> pl.DataFrame:
        """Catalog rows (one per stored profile) matching ``selector`` in ``[start, end)``."""
        from profilelab.store import query

        return query.select_rows(self.snapshot().catalog, selector, start, end)

    def query(
        self,
        selector: str | Selector,
        start: TimeArg = None,
        end: TimeArg = None,
    ) -> Profile:
        """The matching profiles as canonical tables (``sum by (...)`` merges them per group)."""
        from profilelab.store import query

        return query.run(self, selector, start, end)

    def series(
        self,
        selector: str | Selector,
        step: str | int = "1m",
        start: TimeArg = None,
        end: TimeArg = None,
        *,
        function: str | None = None,
        engine: str | Spark = "duckdb",
    ) -> pl.DataFrame:
        """Per-step totals of the matching profiles (only stacks through ``function`` if
        given), computed by ``engine``: ``"duckdb"`` (in process), ``"spark"`` or a
        :class:`~profilelab.store.plans.Spark` (a session, a master, where the files are)."""
        from profilelab.store import plans

        return plans.trend(self, selector, step, start, end, function=function, engine=engine)

    def top(
        self,
        selector: str | Selector,
        start: TimeArg = None,
        end: TimeArg = None,
        *,
        engine: str | Spark = "duckdb",
    ) -> pl.DataFrame:
        """Flat and cum per function over the matching profiles (one profile type), sorted
        as pprof's top; the same numbers as ``function_totals(query(...))``, computed by
        ``engine`` over the files without building the profiles' tables."""
        from profilelab.store import plans

        return plans.top(self, selector, start, end, engine=engine)

    def spans(self, start: TimeArg = None, end: TimeArg = None) -> Spans:
        """The spans received into the store (``serve``'s OTLP traces) that overlap
        ``[start, end)``, as :class:`~profilelab.model.spans.Spans` for ``join_spans``."""
        from profilelab.core.timeparse import parse_time
        from profilelab.model import schema
        from profilelab.model.spans import Spans

        files = self.snapshot().files(f"{layout.SPANS}/")
        if not files:
            return Spans(schema.empty("spans"))
        df = pl.read_parquet([str(self.root / f) for f in files], hive_partitioning=False)
        lo, hi = parse_time(start), parse_time(end)
        if lo is not None:
            df = df.filter(pl.col("end_ns").fill_null(pl.col("start_ns")) >= lo)
        if hi is not None:
            df = df.filter(pl.col("start_ns") < hi)
        return Spans(df)

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with views over the live files (samples, stacks, ..., profiles)."""
        from profilelab.store import query

        return query.connect(self, con)

    def sql(self, sql: str) -> pl.DataFrame:
        """Run DuckDB SQL over the store's tables and return Polars."""
        from profilelab.store import query

        return query.sql(self, sql)

    # ---- writing ----------------------------------------------------------------------------
    def ingest(self, sources: Iterable[str | Path], **options: Any) -> IngestReport:
        """Ingest files, directories and globs; see :func:`profilelab.store.ingest.ingest`."""
        from profilelab.store.ingest import ingest

        return ingest(self, sources, **options)

    def add(
        self,
        profile: Profile,
        *,
        labels: Mapping[str, str] | None = None,
        name: str | None = None,
        input_id: int | None = None,
    ) -> CommitResult:
        """Store an already loaded Profile in one commit (its inputs keep their source ids)."""
        from profilelab.model.ids import digest_bytes

        if input_id is None:
            ids = sorted(profile.profiles["source_id"].unique().to_list())
            input_id = digest_bytes(b",".join(str(i).encode() for i in ids))
        return self.write([Item(profile, input_id, name=name, labels=labels)])

    def compact(self, **options: Any) -> CompactReport:
        """Merge small segments; see :func:`profilelab.store.maintenance.compact`."""
        from profilelab.store.maintenance import compact

        return compact(self, **options)

    def retain(self, **options: Any) -> RetainReport:
        """Drop old profiles; see :func:`profilelab.store.maintenance.retain`."""
        from profilelab.store.maintenance import retain

        return retain(self, **options)
