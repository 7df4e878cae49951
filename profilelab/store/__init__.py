"""The profile store: a directory of hive-partitioned Parquet files plus a catalog.

``open_store(path)`` gives a :class:`Store`: ``ingest`` files, ``write`` loaded profiles,
select with Prometheus-style selectors (``cpu{service="order"}``) and time ranges, and
read back canonical :class:`~profilelab.Profile` tables, per-step series or DuckDB SQL.
See ``docs/store.md``.
"""

from profilelab.core.selector import Matcher, Selector, parse
from profilelab.store.catalog import Segment, Snapshot
from profilelab.store.ingest import IngestReport
from profilelab.store.prepare import Item
from profilelab.store.store import CommitResult, Store, open_store

__all__ = [
    "CommitResult",
    "IngestReport",
    "Item",
    "Matcher",
    "Segment",
    "Selector",
    "Snapshot",
    "Store",
    "open_store",
    "parse",
]
