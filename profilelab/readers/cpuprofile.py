"""Chrome / V8 ``.cpuprofile`` reader (DevTools, ``node --cpu-prof``).

The file is the CDP ``Profiler.Profile`` object: ``nodes`` (``id``, ``callFrame`` with
``functionName``, ``url``, 0-based ``lineNumber``/``columnNumber``, ``hitCount``,
``children`` or ``parent``), ``startTime``/``endTime`` in microseconds, and optionally
``samples`` (a node id per sample) with ``timeDeltas`` (microseconds since the previous
sample).

* With ``samples``: one sample each, types ``samples/count`` (1) and ``wall/microseconds``
  (the time until the next sample; the last one runs to ``endTime``; negative gaps count
  0). ``time_ns`` of each sample is its timestamp in nanoseconds on V8's monotonic clock
  (not Unix time; the same clock as Chrome trace events).
* Without: one sample per node with ``hitCount > 0``, type ``samples/count``.

Frames: the synthetic ``(root)`` node is dropped; ``(program)``, ``(idle)`` and
``(garbage collector)`` stay; empty names become ``(anonymous)``; lines and columns
become 1-based. Profile time is unknown (monotonic clock); duration is end - start.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.errors import FormatError
from profilelab.model.raw import RawProfile
from profilelab.readers import _json
from profilelab.readers._input import Input
from profilelab.readers._stacks import NamedStacks, build_raw, tree_stacks

FORMAT = "cpuprofile"


def read(inp: Input) -> list[RawProfile]:
    doc = _load(inp)
    nodes = _Nodes(doc["nodes"], inp.name)
    samples = doc.get("samples")
    if samples is None:
        raw = _from_hit_counts(nodes, inp.name)
    else:
        raw = _from_samples(nodes, doc, inp.name)
    start, end = doc.get("startTime"), doc.get("endTime")
    if isinstance(start, int | float) and isinstance(end, int | float) and end >= start:
        raw.duration_ns = round((end - start) * 1000)
    raw.source_id = inp.content_id()
    return [raw]


def _small_int(x: Any) -> bool:
    """An integer that fits int64 comfortably (JSON allows any size)."""
    return isinstance(x, int) and not isinstance(x, bool) and abs(x) < 2**62


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and abs(x) < 2**53


def _load(inp: Input) -> dict[str, Any]:
    doc = _json.loads(inp.data, f"{inp.name}: .cpuprofile")
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
        raise FormatError(f"{inp.name}: .cpuprofile must be an object with a 'nodes' list")
    return doc


class _Nodes:
    """The call tree: node ids, parents, frames, and each node's stack (leaf first)."""

    def __init__(self, nodes: list[Any], name: str) -> None:
        self.name = name
        self.ids = np.array([self._id(n) for n in nodes], dtype=np.int64)
        if len(np.unique(self.ids)) != len(self.ids):
            raise FormatError(f"{name}: .cpuprofile has duplicate node ids")
        self.order = np.argsort(self.ids, kind="stable")
        self.sorted_ids = self.ids[self.order]
        self.parent = self._parents(nodes)
        self.frame = self._frames(nodes)
        hits = [n.get("hitCount") for n in nodes]
        self.hit_count = np.array([h if _number(h) and h > 0 else 0 for h in hits], np.int64)

    def _id(self, node: Any) -> int:
        if not isinstance(node, dict) or not _small_int(node.get("id")):
            raise FormatError(f"{self.name}: every .cpuprofile node needs an integer 'id'")
        if not isinstance(node.get("callFrame"), dict):
            raise FormatError(f"{self.name}: node {node['id']} has no 'callFrame' object")
        return int(node["id"])

    def position(self, ids: np.ndarray, what: str | np.ndarray) -> np.ndarray:
        """Node positions of node ids; FormatError for an unknown id. ``what`` names the
        referring place, or gives the referring node's position per id."""
        pos = np.searchsorted(self.sorted_ids, ids)
        last = len(self.sorted_ids) - 1
        ok = (pos <= last) & (self.sorted_ids[np.minimum(pos, max(last, 0))] == ids)
        if len(ids) and not ok.all():
            bad = int(np.argmin(ok))
            place = what if isinstance(what, str) else f"node {int(self.ids[what[bad]])}"
            raise FormatError(f"{self.name}: {place} refers to unknown node {int(ids[bad])}")
        return self.order[pos]

    def _parents(self, nodes: list[Any]) -> np.ndarray:
        """Parent position per node, from ``children`` lists and ``parent`` fields (which win),
        in one vectorized lookup."""
        lists = [n.get("children") or [] for n in nodes]
        for node, children in zip(nodes, lists, strict=True):
            if not isinstance(children, list) or not all(_small_int(c) for c in children):
                raise FormatError(f"{self.name}: node {node['id']} has malformed 'children'")
        owner = np.repeat(np.arange(len(nodes)), [len(c) for c in lists])
        kids = self.position(np.fromiter(chain.from_iterable(lists), np.int64, len(owner)), owner)
        pairs = np.unique(np.stack([kids, owner], axis=1), axis=0)
        if len(pairs) and (np.diff(pairs[:, 0]) == 0).any():
            raise FormatError(f"{self.name}: a node has two parents")
        parent = np.full(len(nodes), -1, dtype=np.int64)
        parent[pairs[:, 0]] = pairs[:, 1]
        has = np.array([_small_int(n.get("parent")) for n in nodes], dtype=bool)
        with_parent = np.nonzero(has)[0]
        ids = np.array([nodes[i]["parent"] for i in with_parent], dtype=np.int64)
        parent[with_parent] = self.position(ids, with_parent)
        return parent

    def _frames(self, nodes: list[Any]) -> np.ndarray:
        """Frame index per node (-1 for the synthetic root); sets frame arrays."""
        keys: dict[tuple[str, str, int, int], int] = {}
        frame = np.full(len(nodes), -1, dtype=np.int64)
        for i, node in enumerate(nodes):
            cf = node["callFrame"]
            fn = cf.get("functionName") if isinstance(cf.get("functionName"), str) else ""
            if fn == "(root)" and self.parent[i] < 0:
                continue
            url = cf.get("url") if isinstance(cf.get("url"), str) else ""
            line, col = cf.get("lineNumber"), cf.get("columnNumber")
            key = (
                fn or "(anonymous)",
                url,
                int(line) + 1 if _number(line) and line >= 0 else 0,
                int(col) + 1 if _number(col) and col >= 0 else 0,
            )
            frame[i] = keys.setdefault(key, len(keys))
        self.frame_keys = list(keys)
        return frame

    def named(self, chosen: np.ndarray) -> tuple[NamedStacks, np.ndarray]:
        """Frames and the stacks of the ``chosen`` nodes; the stack of each chosen node."""
        offsets, flat, stack = tree_stacks(
            self.parent, self.frame, chosen, f"{self.name}: .cpuprofile node tree"
        )
        keys = self.frame_keys
        return NamedStacks(
            frame_name=pa.array([k[0] for k in keys], pa.string()),
            stack_offsets=offsets,
            stack_frames=flat,
            frame_file=pa.array([k[1] for k in keys], pa.string()),
            frame_line=np.array([k[2] for k in keys], dtype=np.int64),
            frame_column=np.array([k[3] for k in keys], dtype=np.int64),
        ), stack


def _from_hit_counts(nodes: _Nodes, name: str) -> RawProfile:
    chosen = np.nonzero(nodes.hit_count > 0)[0]
    stacks, sample_stack = nodes.named(chosen)
    return build_raw(
        stacks,
        sample_stack,
        nodes.hit_count[chosen].reshape(-1, 1),
        source=name,
        fmt=FORMAT,
        sample_types=[("samples", "count")],
    )


def _from_samples(nodes: _Nodes, doc: dict[str, Any], name: str) -> RawProfile:
    ids = _int_array(doc["samples"], "samples", name)
    stacks, sample_stack = nodes.named(nodes.position(ids, "samples"))
    deltas = doc.get("timeDeltas")
    start, end = doc.get("startTime"), doc.get("endTime")
    if deltas is None or not isinstance(start, int | float):
        return build_raw(
            stacks,
            sample_stack,
            np.ones((len(sample_stack), 1), dtype=np.int64),
            source=name,
            fmt=FORMAT,
            sample_types=[("samples", "count")],
        )
    gaps = _int_array(deltas, "timeDeltas", name)
    if len(gaps) != len(ids):
        raise FormatError(f"{name}: {len(ids)} samples but {len(gaps)} timeDeltas")
    times = round(start) + np.cumsum(gaps)  # microseconds, V8's monotonic clock
    last = round(end) if isinstance(end, int | float) else (int(times[-1]) if len(times) else 0)
    wall = np.maximum(np.diff(times, append=last), 0)  # time until the next sample
    raw = build_raw(
        stacks,
        sample_stack,
        np.stack([np.ones(len(sample_stack), dtype=np.int64), wall], axis=1),
        source=name,
        fmt=FORMAT,
        sample_types=[("samples", "count"), ("wall", "microseconds")],
    )
    raw.sample_time_ns = times * 1000
    raw.sample_time_valid = np.ones(len(times), dtype=bool)
    raw.period_type = ("wall", "microseconds")
    positive = gaps[gaps > 0]
    raw.period = int(np.median(positive)) if len(positive) else 0
    return raw


def _int_array(values: Any, what: str, name: str) -> np.ndarray:
    """A JSON list of integers as int64 (converted by Arrow in C, not per element)."""
    try:
        arr = pa.array(values, type=pa.int64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        raise FormatError(f"{name}: .cpuprofile '{what}' must be a list of integers") from None
    if arr.null_count:
        raise FormatError(f"{name}: .cpuprofile '{what}' has nulls")
    return arr.to_numpy(zero_copy_only=False).astype(np.int64)
