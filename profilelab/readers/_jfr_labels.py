"""Pyroscope's ``LabelsSnapshot``: the context labels its Java agent sends beside a recording.

async-profiler, as the Pyroscope Java agent runs it, stores a ``contextId`` in each event;
the agent sends the labels of each context as a protobuf message (the ``labels`` part of a
``/ingest?format=jfr`` upload)::

    message Context { map<int64, int64> labels = 1; }          // key string id -> value id
    message LabelsSnapshot { map<int64, Context> contexts = 1;  // context id -> labels
                             map<int64, string> strings = 2; }

This module decodes it into ``{context id: [(key, value), ...]}`` (pairs sorted by key).
The message is small (one entry per distinct label set), so a plain loop reads it.
"""

from __future__ import annotations

from profilelab.errors import FormatError
from profilelab.readers.sniff import protobuf_fields, read_varint

ContextLabels = dict[int, list[tuple[str, str]]]


def parse_labels_snapshot(data: bytes, name: str = "<labels>") -> ContextLabels:
    """Decode a (not gzipped) LabelsSnapshot; errors name the input."""
    view = memoryview(data)
    contexts: dict[int, list[tuple[int, int]]] = {}
    strings: dict[int, str] = {}
    for field, wire, start, end in _fields(view, name):
        if wire != 2 or field not in (1, 2):
            continue
        entry = _map_entry(view[start:end], name)
        if field == 1:
            body = _bytes(entry.get(2))
            pairs = []
            for f, w, s, e in _fields(body, name):
                if f == 1 and w == 2:
                    kv = _map_entry(body[s:e], name)
                    pairs.append((_int(kv.get(1)), _int(kv.get(2))))
            contexts[_int(entry.get(1))] = pairs
        else:
            text = _bytes(entry.get(2))
            strings[_int(entry.get(1))] = bytes(text).decode("utf-8", "replace")
    out: ContextLabels = {}
    for ctx, pairs in contexts.items():
        try:
            out[ctx] = sorted((strings[k], strings[v]) for k, v in pairs)
        except KeyError as exc:
            raise FormatError(
                f"{name}: labels snapshot: context {ctx} uses string {exc.args[0]}, "
                "which the snapshot does not define"
            ) from None
    return out


def _fields(view: memoryview, name: str) -> list[tuple[int, int, int, int]]:
    fields = protobuf_fields(view, limit=len(view) + 1)
    if fields is None:
        raise FormatError(f"{name}: not a Pyroscope labels snapshot (protobuf decode failed)")
    return fields


def _map_entry(view: memoryview, name: str) -> dict[int, int | memoryview]:
    """A map entry: field 1 the key (varint), field 2 the value (varint or bytes)."""
    out: dict[int, int | memoryview] = {}
    for field, wire, start, end in _fields(view, name):
        if wire == 0:
            out[field] = read_varint(view, start)[0]
        elif wire == 2:
            out[field] = view[start:end]
    return out


def _bytes(value: int | memoryview | None) -> memoryview:
    return value if isinstance(value, memoryview) else memoryview(b"")


def _int(value: int | memoryview | None) -> int:
    """A protobuf int64 (two's complement) from a varint; 0 when absent."""
    if not isinstance(value, int):
        return 0
    return value - (1 << 64) if value >= 1 << 63 else value
