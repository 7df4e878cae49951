"""speedscope "evented" profiles: open/close frame events to weighted samples, vectorized.

Between two consecutive events the innermost open frame (with its callers) ran for the
time between them: that interval becomes one sample whose stack is the open frames and
whose weight is the duration. The call tree is rebuilt with binary searches (the parent of a
frame opened at depth d is the last frame opened at depth d-1 before it), its distinct paths
merged one depth level at a time, and only the sampled paths are written out as stacks
(:func:`~profilelab.readers._stacks.tree_stacks`, bounded in depth and total frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.errors import FormatError
from profilelab.readers import limits
from profilelab.readers._stacks import tree_stacks


@dataclass
class Intervals:
    """Samples of an evented profile: stacks (CSR, leaf first), stack per sample, weights."""

    stack_offsets: np.ndarray
    stack_frames: np.ndarray
    sample_stack: np.ndarray
    weights: np.ndarray  # float64, in the profile's unit


def intervals(events: Any, end_value: Any, n_frames: int, where: str) -> Intervals:
    """Decode ``events`` (a JSON list of ``{"type", "frame", "at"}``)."""
    is_open, frame, at = _columns(events, n_frames, where)
    depth = np.cumsum(np.where(is_open, 1, -1))
    if len(depth) and depth.min() < 0:
        raise FormatError(f"{where}: an event closes a frame that is not open")
    if len(at) and (np.diff(at) < 0).any():
        raise FormatError(f"{where}: event times ('at') must not decrease")
    opens = np.nonzero(is_open)[0]
    parent, current = _tree(opens, depth)
    closes = np.nonzero(~is_open)[0]
    if len(closes) and (frame[opens[current[closes - 1]]] != frame[closes]).any():
        raise FormatError(f"{where}: a close event does not match the innermost open frame")
    end = (
        float(end_value) if isinstance(end_value, int | float) else float(at[-1] if len(at) else 0)
    )
    duration = np.diff(np.append(at, max(end, at[-1] if len(at) else 0)))
    chosen = np.nonzero((current >= 0) & (duration > 0))[0]
    node_of_open, node_parent, node_frame = _trie(frame[opens], parent, depth[opens], where)
    offsets, flat, stack = tree_stacks(
        node_parent, node_frame, node_of_open[current[chosen]], f"{where}: events"
    )
    return Intervals(offsets, flat, stack, duration[chosen])


def _columns(events: Any, n_frames: int, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(events, list):
        raise FormatError(f"{where}: 'events' must be a list")
    try:  # Arrow converts the list of objects in C
        arr = pa.array(
            events,
            type=pa.struct([("type", pa.string()), ("frame", pa.int64()), ("at", pa.float64())]),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        raise FormatError(f"{where}: events must be objects with type, frame and at") from None
    kinds = arr.field("type").to_numpy(zero_copy_only=False)
    frame = arr.field("frame")
    at = arr.field("at")
    if arr.null_count or frame.null_count or at.null_count or arr.field("type").null_count:
        raise FormatError(f"{where}: every event needs type, frame and at")
    is_open = kinds == "O"
    if not (is_open | (kinds == "C")).all():
        raise FormatError(f"{where}: event types must be 'O' or 'C'")
    frames = frame.to_numpy(zero_copy_only=False).astype(np.int64)
    if len(frames) and (frames.min() < 0 or frames.max() >= n_frames):
        raise FormatError(f"{where}: frame index out of range (there are {n_frames} frames)")
    return is_open, frames, at.to_numpy(zero_copy_only=False).astype(np.float64)


def _tree(opens: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent of each open event (ordinal, -1 at the root) and the innermost open event
    after each event (ordinal, -1 when nothing is open).

    Opens sorted by (depth, position): the parent of an open at depth d is the last open at
    depth d-1 before it, the innermost open after event e is the last open at depth[e] at
    or before e; both are one binary search over that order (O(n log n), any depth).
    """
    stride = len(depth) + 1
    open_depth = depth[opens]
    key = open_depth * stride + opens
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    parent = np.full(len(opens), -1, dtype=np.int64)
    inner = open_depth > 1
    at = np.searchsorted(sorted_key, (open_depth[inner] - 1) * stride + opens[inner]) - 1
    parent[inner] = by_key[at]
    current = np.full(len(depth), -1, dtype=np.int64)
    events = np.nonzero(depth > 0)[0]
    at = np.searchsorted(sorted_key, depth[events] * stride + events, side="right") - 1
    current[events] = by_key[at]
    return parent, current


def _paths(
    frame: np.ndarray, parent: np.ndarray, depth: np.ndarray, where: str = "trace events"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct call paths: node per open event, and every node's frames (CSR, leaf first).

    For readers that sample every path (Chrome trace events); bounded as
    :func:`~profilelab.readers._stacks.tree_stacks` is.
    """
    node_of_open, node_parent, node_frame = _trie(frame, parent, depth, where)
    offsets, flat, _ = tree_stacks(
        node_parent, node_frame, np.arange(len(node_parent), dtype=np.int64), where
    )
    return node_of_open, offsets, flat


def _trie(
    frame: np.ndarray, parent: np.ndarray, depth: np.ndarray, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct call paths as a tree: (node of each open event, node parent, node frame).

    Open events with the same parent node and frame are one node (a trie), built one
    depth level at a time; the caller writes out the stacks of the nodes it samples.
    """
    max_depth = limits.current().max_stack_depth
    if len(depth) and int(depth.max()) > max_depth:
        raise FormatError(
            f"{where}: events nest deeper than {max_depth} frames "
            "(set PROFILELAB_MAX_STACK_DEPTH to raise it)"
        )
    node_of_open = np.full(len(frame) + 1, -1, dtype=np.int64)  # [-1]: "no parent"
    order = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[order], np.arange(1, int(depth.max(initial=0)) + 2))
    width = int(frame.max(initial=0)) + 1
    node_parent: list[np.ndarray] = []
    node_frame: list[np.ndarray] = []
    n_nodes = 0
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        level = order[lo:hi]
        key = (node_of_open[parent[level]] + 1) * width + frame[level]
        distinct, inverse = np.unique(key, return_inverse=True)
        node_of_open[level] = n_nodes + inverse
        node_parent.append(distinct // width - 1)
        node_frame.append(distinct % width)
        n_nodes += len(distinct)
    empty = np.zeros(0, dtype=np.int64)
    return (
        node_of_open[:-1],
        np.concatenate(node_parent) if node_parent else empty,
        np.concatenate(node_frame) if node_frame else empty,
    )
