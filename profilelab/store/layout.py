"""Where things live in a store directory.

::

    STORE/
      profilelab-store.json                 marker: format name and version
      .lock                                 writers' flock (readers never lock)
      catalog/<segment>.parquet             one per commit: the profiles it adds (commit point)
      samples/profile_type=<t>/service=<s>/date=<YYYY-MM-DD>/<segment>.parquet
      functions/profile_type=<t>/service=<s>/date=<YYYY-MM-DD>/<segment>.parquet
                                            flat and cum per (profile, function) of the
                                            samples file beside it (the function index)
      stacks/<segment>.parquet              dictionary tables: rows new to the store only,
      frames/<segment>.parquet              deduplicated across profiles by content id
      mappings/<segment>.parquet
      labels/<segment>.parquet
      spans/<segment>.parquet               spans received (OTLP traces), one file per commit
      journal/<time>-<pid>-<random>.jnl     requests a receiver acknowledged and has not
                                            stored in segments yet (store/journal.py)
      journal/unstorable/<...>.jnl          acknowledged records that could not be stored

Partition values are escaped as Hive does (``:`` becomes ``%3A``), which DuckDB, Spark
and Trino decode back when reading with hive partitioning. A value whose escaped form is
longer than :data:`MAX_PARTITION_BYTES` (a file name may have 255 bytes) is cut there and
given a hash of the whole value, ``<prefix>~<16 hex digits>``: the directory name stays
valid and distinct, and the catalog row keeps the full value (profilelab never reads
values back from directory names).
"""

from __future__ import annotations

import hashlib
import secrets
import time

MARKER = "profilelab-store.json"
FORMAT = "profilelab-store"
VERSION = 1
LOCK = ".lock"
CATALOG = "catalog"
SAMPLES = "samples"
FUNCTIONS = "functions"
#: Tables stored once per distinct id (the "dictionary" of the store), keyed by this column.
DICTIONARIES: dict[str, str] = {
    "stacks": "stack_id",
    "frames": "frame_id",
    "mappings": "mapping_id",
    "labels": "label_set_id",
}
SPANS = "spans"
JOURNAL = "journal"
PARTITIONS = ("profile_type", "service", "date")
UNKNOWN_SERVICE = "unknown"
#: Longest escaped partition value kept as is, in UTF-8 bytes (with its ``key=``, well
#: under the 255-byte limit on a file name).
MAX_PARTITION_BYTES = 160
_PREFIX_BYTES = MAX_PARTITION_BYTES - 17  # room for "~" and 16 hex digits

# Characters Hive (and Spark's ExternalCatalogUtils) escape in partition directory names.
_HIVE_ESCAPE = frozenset("\"#%'*/:=?\\\x7f{[]^") | frozenset(chr(c) for c in range(32))


def escape_partition(value: str) -> str:
    """Escape a partition value for a ``key=value`` directory name (Hive rules)."""
    if value == "":
        return "__HIVE_DEFAULT_PARTITION__"
    escaped = "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPE else c for c in value)
    # surrogatepass: a lone surrogate (from JSON) is hashed, never put in a file name
    raw = escaped.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_PARTITION_BYTES and not _has_surrogate(escaped):
        return escaped
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{_cut(escaped, _PREFIX_BYTES)}~{digest}"


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _cut(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` of at most ``max_bytes`` UTF-8 bytes, whole characters
    only, without a lone surrogate and without cutting a ``%XX`` escape."""
    out, size = [], 0
    for c in text:
        n = len(c.encode("utf-8", "surrogatepass"))
        if size + n > max_bytes or "\ud800" <= c <= "\udfff":
            break
        out.append(c)
        size += n
    cut = "".join(out)
    pct = cut.rfind("%", max(0, len(cut) - 2))
    return cut[:pct] if pct >= 0 else cut


def samples_path(profile_type: str, service: str, day: str, segment: str) -> str:
    """Relative path of a samples file of one partition written by ``segment``."""
    parts = (escape_partition(profile_type), escape_partition(service), day)
    dirs = "/".join(f"{k}={v}" for k, v in zip(PARTITIONS, parts, strict=True))
    return f"{SAMPLES}/{dirs}/{segment}.parquet"


def functions_path(samples_file: str) -> str:
    """Relative path of the functions file beside the samples file ``samples_file``."""
    return FUNCTIONS + samples_file[len(SAMPLES) :]


def dictionary_path(table: str, segment: str) -> str:
    return f"{table}/{segment}.parquet"


def spans_path(segment: str) -> str:
    return f"{SPANS}/{segment}.parquet"


def catalog_path(segment: str) -> str:
    return f"{CATALOG}/{segment}.parquet"


def new_segment_id() -> str:
    """A unique, time-ordered segment id (nanosecond clock + random suffix)."""
    return f"{time.time_ns():019d}-{secrets.token_hex(4)}"
