"""The canonical tables: the single source of truth for table and column names and types.

Every reader produces these tables and every operation consumes them; nothing else in
profilelab spells a column name's type. ``docs/schema.md`` explains each column.

Ids are signed 64-bit content hashes (see :mod:`profilelab.model.ids`): stable across
processes, machines and library versions, and readable by engines without unsigned
64-bit integers (Spark, Trino). Addresses stay unsigned: they are data, not keys.
"""

from __future__ import annotations

import polars as pl

#: Profile-level labels (service, version, host, ...): a list of key/value pairs.
PROFILE_LABELS = pl.List(pl.Struct({"key": pl.Utf8, "value": pl.Utf8}))

PROFILES: dict[str, pl.DataType] = {
    "profile_id": pl.Int64(),  # hash of (source_id, sample_type_index)
    "source_id": pl.Int64(),  # hash of the input bytes; shared by the sample types of one input
    "source": pl.Utf8(),  # file name, or "<bytes>"
    "format": pl.Utf8(),  # "pprof", "otlp", "folded", ...
    "sample_type": pl.Utf8(),
    "sample_unit": pl.Utf8(),
    "sample_type_index": pl.Int32(),  # position of this type among the input's sample types
    # the input's default sample type (pprof: default_sample_type, else the last)
    "is_default": pl.Boolean(),
    "period_type": pl.Utf8(),
    "period_unit": pl.Utf8(),
    "period": pl.Int64(),
    "time_ns": pl.Int64(),  # start of the profile, Unix nanoseconds; null when unknown
    "duration_ns": pl.Int64(),  # null when unknown
    "drop_frames": pl.Utf8(),  # pprof drop_frames regex, null when unset
    "keep_frames": pl.Utf8(),
    "comments": pl.List(pl.Utf8()),
    "doc_url": pl.Utf8(),
    "labels": PROFILE_LABELS,
}

SAMPLES: dict[str, pl.DataType] = {
    "profile_id": pl.Int64(),
    "sample_index": pl.Int64(),  # position of the sample in its input; equal across sample types
    "stack_id": pl.Int64(),
    "value": pl.Int64(),
    "label_set_id": pl.Int64(),  # 0 = no labels
    "trace_id": pl.Utf8(),  # lower-case hex, null when the sample has none
    "span_id": pl.Utf8(),  # lower-case hex (16 digits for 64-bit ids)
    "local_root_span_id": pl.Utf8(),
    "time_ns": pl.Int64(),  # null when the format has no per-sample time
}

STACKS: dict[str, pl.DataType] = {
    "stack_id": pl.Int64(),
    "frame_ids": pl.List(pl.Int64()),  # leaf first (pprof: location_id[0] is the leaf)
    "depth": pl.Int32(),
}

FRAMES: dict[str, pl.DataType] = {
    "frame_id": pl.Int64(),
    "function": pl.Utf8(),  # null for an unsymbolized address
    "system_name": pl.Utf8(),
    "file": pl.Utf8(),
    "start_line": pl.Int64(),
    "line": pl.Int64(),  # 0 when unknown
    "column": pl.Int64(),  # 0 when unknown
    "address": pl.UInt64(),  # instruction address of the location, 0 when unknown
    "mapping_id": pl.Int64(),  # null when the location has no mapping
    "inlined": pl.Boolean(),  # inlined into the next frame towards the root (same location)
    "folded": pl.Boolean(),  # pprof Location.is_folded
}

MAPPINGS: dict[str, pl.DataType] = {
    "mapping_id": pl.Int64(),
    "binary": pl.Utf8(),
    "build_id": pl.Utf8(),
    "memory_start": pl.UInt64(),
    "memory_limit": pl.UInt64(),
    "file_offset": pl.UInt64(),
    "has_functions": pl.Boolean(),
    "has_filenames": pl.Boolean(),
    "has_line_numbers": pl.Boolean(),
    "has_inline_frames": pl.Boolean(),
}

LABELS: dict[str, pl.DataType] = {
    "label_set_id": pl.Int64(),
    "key": pl.Utf8(),
    "str": pl.Utf8(),  # null for a numeric label
    "num": pl.Int64(),  # null for a string label
    "unit": pl.Utf8(),  # unit of a numeric label, null when unset
}

TABLES: dict[str, dict[str, pl.DataType]] = {
    "profiles": PROFILES,
    "samples": SAMPLES,
    "stacks": STACKS,
    "frames": FRAMES,
    "mappings": MAPPINGS,
    "labels": LABELS,
}

#: Key/value pairs of a span (its own attributes and its resource's, values as text).
SPAN_ATTRIBUTES = pl.List(pl.Struct({"key": pl.Utf8, "value": pl.Utf8}))

#: Spans read from traces (OTLP, Jaeger, Zipkin); not part of a Profile, joined to samples.
SPANS: dict[str, pl.DataType] = {
    "trace_id": pl.Utf8(),  # 32 lower-case hex digits (64-bit ids left-padded with zeros)
    "span_id": pl.Utf8(),  # 16 lower-case hex digits
    "parent_span_id": pl.Utf8(),  # null for a root span
    "name": pl.Utf8(),
    "kind": pl.Utf8(),  # internal, server, client, producer, consumer
    "service": pl.Utf8(),  # service.name of the resource / process / local endpoint
    "start_ns": pl.Int64(),  # Unix nanoseconds
    "end_ns": pl.Int64(),
    "status": pl.Utf8(),  # unset, ok, error
    "attributes": SPAN_ATTRIBUTES,  # sorted by key; resource attributes included
}

#: Tables outside a Profile that still follow the schema helpers below.
OTHER_TABLES: dict[str, dict[str, pl.DataType]] = {"spans": SPANS}

#: pprof label keys whose values land in the span columns instead of the labels table.
SPAN_LABEL_KEYS: dict[str, str] = {
    "trace_id": "trace_id",
    "trace id": "trace_id",
    "span_id": "span_id",
    "span id": "span_id",
    "profile_id": "span_id",  # legacy pyroscope/Grafana exemplar label
    "pyroscope.profile.id": "span_id",
    "local root span id": "local_root_span_id",
    "local_root_span_id": "local_root_span_id",
}


def empty(table: str) -> pl.DataFrame:
    """An empty frame with the columns and types of ``table``."""
    return pl.DataFrame(schema=_schema_of(table))


def conform(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """Select and cast ``df``'s columns to the schema of ``table`` (missing columns become null)."""
    schema = _schema_of(table)
    if list(df.schema.items()) == list(schema.items()):  # names, order and types: no query
        return df
    exprs = [
        (pl.col(name) if name in df.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    ]
    return df.select(exprs)


def _schema_of(table: str) -> dict[str, pl.DataType]:
    return TABLES[table] if table in TABLES else OTHER_TABLES[table]
