"""Where things live in a store directory.

::

    STORE/
      profilelab-store.json                 marker: format name and version
      .lock                                 writers' flock (readers never lock)
      catalog/<segment>.parquet             one per commit: the profiles it adds (commit point)
      samples/profile_type=<t>/service=<s>/date=<YYYY-MM-DD>/<segment>.parquet
      stacks/<segment>.parquet              dictionary tables: rows new to the store only,
      frames/<segment>.parquet              deduplicated across profiles by content id
      mappings/<segment>.parquet
      labels/<segment>.parquet

Partition values are escaped as Hive does (``:`` becomes ``%3A``), which DuckDB, Spark
and Trino decode back when reading with hive partitioning.
"""

from __future__ import annotations

import secrets
import time

MARKER = "profilelab-store.json"
FORMAT = "profilelab-store"
VERSION = 1
LOCK = ".lock"
CATALOG = "catalog"
SAMPLES = "samples"
#: Tables stored once per distinct id (the "dictionary" of the store), keyed by this column.
DICTIONARIES: dict[str, str] = {
    "stacks": "stack_id",
    "frames": "frame_id",
    "mappings": "mapping_id",
    "labels": "label_set_id",
}
PARTITIONS = ("profile_type", "service", "date")
UNKNOWN_SERVICE = "unknown"

# Characters Hive (and Spark's ExternalCatalogUtils) escape in partition directory names.
_HIVE_ESCAPE = frozenset("\"#%'*/:=?\\\x7f{[]^") | frozenset(chr(c) for c in range(32))


def escape_partition(value: str) -> str:
    """Escape a partition value for a ``key=value`` directory name (Hive rules)."""
    if value == "":
        return "__HIVE_DEFAULT_PARTITION__"
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPE else c for c in value)


def samples_path(profile_type: str, service: str, day: str, segment: str) -> str:
    """Relative path of a samples file of one partition written by ``segment``."""
    parts = (escape_partition(profile_type), escape_partition(service), day)
    dirs = "/".join(f"{k}={v}" for k, v in zip(PARTITIONS, parts, strict=True))
    return f"{SAMPLES}/{dirs}/{segment}.parquet"


def dictionary_path(table: str, segment: str) -> str:
    return f"{table}/{segment}.parquet"


def catalog_path(segment: str) -> str:
    return f"{CATALOG}/{segment}.parquet"


def new_segment_id() -> str:
    """A unique, time-ordered segment id (nanosecond clock + random suffix)."""
    return f"{time.time_ns():019d}-{secrets.token_hex(4)}"
