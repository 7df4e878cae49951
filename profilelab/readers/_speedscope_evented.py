"""speedscope "evented" profiles: open/close frame events to weighted samples, vectorized.

Between two consecutive events the innermost open frame (with its callers) ran for the
time between them: that interval becomes one sample whose stack is the open frames and
whose weight is the duration. The call tree is rebuilt depth level by depth level (a loop
over depths, never over events): the parent of a frame opened at depth d is the last frame
opened at depth d-1 before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.errors import FormatError
from profilelab.model import ids


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
    node_of_open, offsets, flat = _paths(frame[opens], parent, depth[opens])
    return Intervals(offsets, flat, node_of_open[current[chosen]], duration[chosen])


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
    after each event (ordinal, -1 when nothing is open)."""
    open_depth = depth[opens]
    parent = np.full(len(opens), -1, dtype=np.int64)
    current = np.full(len(depth), -1, dtype=np.int64)
    previous: np.ndarray | None = None
    for d in range(1, int(depth.max()) + 1 if len(depth) else 1):
        level = np.nonzero(open_depth == d)[0]  # ordinals of frames opened at depth d
        if previous is not None and len(level):
            pos = np.searchsorted(opens[previous], opens[level]) - 1
            parent[level] = previous[pos]
        events = np.nonzero(depth == d)[0]
        current[events] = level[np.searchsorted(opens[level], events, side="right") - 1]
        previous = level
    return parent, current


def _paths(
    frame: np.ndarray, parent: np.ndarray, depth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct call paths: node per open event, and each node's frames (CSR, leaf first)."""
    key = np.zeros(len(frame), dtype=np.uint64)
    for d in range(1, int(depth.max()) + 1 if len(depth) else 1):
        level = np.nonzero(depth == d)[0]
        above = np.where(parent[level] >= 0, key[np.maximum(parent[level], 0)], np.uint64(0))
        key[level] = ids.fold(above, ids.hash_ints(frame[level]))
    _, first, node_of_open = np.unique(key, return_index=True, return_inverse=True)
    reps = first
    n_depth = depth[reps]
    offsets = np.concatenate([[0], np.cumsum(n_depth)]).astype(np.int64)
    flat = np.empty(int(offsets[-1]), dtype=np.int64)
    walker = reps.copy()
    for k in range(int(n_depth.max()) if len(reps) else 0):  # k-th frame from the leaf
        alive = n_depth > k
        flat[offsets[:-1][alive] + k] = frame[walker[alive]]
        walker = np.where(alive, parent[walker], walker)
    return node_of_open.astype(np.int64), offsets, flat
