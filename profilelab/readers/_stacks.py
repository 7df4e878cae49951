"""Build a RawProfile from named frames and stacks, for formats without pprof's structure.

Folded stacks, speedscope and Chrome ``.cpuprofile`` know frames only as names (plus, at
best, a file, line and column). Each distinct frame becomes one pprof location with one
line; frames of the same name and file share one function. Vectorized: the work is a few
Arrow/numpy passes over the frames and samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from profilelab.errors import FormatError
from profilelab.model.ranges import ranges
from profilelab.model.raw import RawProfile
from profilelab.readers import limits


def distinct_sequences(
    offsets: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal sequences of a CSR (``offsets``, int64 ``values``) numbered once each, in order
    of first appearance. Exact: sequences are grouped by a 64-bit hash of their values and
    positions, then every one is compared with its group's first (on a collision, which
    does not happen in practice, Polars groups the lists by value instead).

    Returns the number of each sequence and the distinct sequences as CSR."""
    offsets = np.asarray(offsets, dtype=np.int64)
    values = np.asarray(values, dtype=np.int64)
    lengths = np.diff(offsets)
    # Per sequence, sum(m) and sum(m * position in the sequence), m a mix of each value,
    # from two running sums over all values (uint64 arithmetic wraps, so the algebra holds).
    m = _mix(values.view(np.uint64))
    plain = np.zeros(len(values) + 1, dtype=np.uint64)
    np.cumsum(m, out=plain[1:])
    m *= np.arange(len(values), dtype=np.uint64)
    weighted = np.zeros(len(values) + 1, dtype=np.uint64)
    np.cumsum(m, out=weighted[1:])
    lo, hi = offsets[:-1], offsets[1:]
    total = plain[hi] - plain[lo]
    moment = weighted[hi] - weighted[lo] - lo.view(np.uint64) * total
    hashes = _mix(total ^ _mix(moment + lengths.view(np.uint64)))
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    number = rank[inverse]
    first = np.sort(first)
    rep = first[number]
    same = np.array_equal(lengths, lengths[rep]) and np.array_equal(
        values, values[ranges(offsets[rep], lengths)]
    )
    if not same:
        number, first = _distinct_lists(offsets, values)
    kept = lengths[first]
    distinct = np.zeros(len(first) + 1, dtype=np.int64)
    np.cumsum(kept, out=distinct[1:])
    return number, distinct, values[ranges(offsets[first], kept)]


_U64 = np.uint64


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, element-wise (uint64 arithmetic wraps)."""
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _distinct_lists(offsets: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sequence numbers and first positions by exact grouping of the lists."""
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))
    groups = (
        pl.DataFrame({"s": pl.Series(lists)})
        .with_row_index("i")
        .group_by("s", maintain_order=True)
        .agg(pl.col("i"))["i"]
    )
    number = np.empty(len(offsets) - 1, dtype=np.int64)
    sizes = groups.list.len().to_numpy()
    number[groups.explode().to_numpy()] = np.repeat(np.arange(len(groups), dtype=np.int64), sizes)
    return number, groups.list.first().to_numpy().astype(np.int64)


@dataclass
class NamedStacks:
    """Frames (one row each) and stacks of frame positions, leaf first (CSR)."""

    frame_name: pa.Array  # strings
    stack_offsets: np.ndarray  # n_stacks + 1
    stack_frames: np.ndarray  # frame positions, leaf first
    frame_file: pa.Array | None = None
    frame_line: np.ndarray | None = None
    frame_column: np.ndarray | None = None
    # The function's first line; when given, functions are told apart by it too (two
    # ``<lambda>`` in one file are two functions).
    frame_start_line: np.ndarray | None = None
    # The name as the runtime knows it, when it differs from the display name (pprof's
    # system name); by default the name itself. Functions are told apart by it too.
    frame_system_name: pa.Array | None = None


def build_raw(
    stacks: NamedStacks,
    sample_stack: np.ndarray,
    values: np.ndarray,
    *,
    source: str,
    fmt: str,
    sample_types: list[tuple[str, str]],
) -> RawProfile:
    """A RawProfile with one sample per entry of ``sample_stack`` (``values``: n x types)."""
    n_frames = len(stacks.frame_name)
    names = stacks.frame_name.cast(pa.string()).fill_null("")
    files = (
        stacks.frame_file.cast(pa.string()).fill_null("")
        if stacks.frame_file is not None
        else pa.array([""] * n_frames, pa.string())
    )
    types = [t for pair in sample_types for t in pair]
    systems = (
        stacks.frame_system_name.cast(pa.string()).fill_null("")
        if stacks.frame_system_name is not None
        else names
    )
    table = pc.unique(
        pa.concat_arrays([pa.array(["", *types], pa.string()), names, files, systems])
    )
    name_idx = _index(names, table)
    file_idx = _index(files, table)
    fn = pl.DataFrame(
        {
            "name": name_idx,
            "file": file_idx,
            "start": _ints(stacks.frame_start_line, n_frames),
            "system": _index(systems, table),
        }
    )
    functions = fn.unique(maintain_order=True).with_row_index("fn")
    keys = ["name", "file", "start", "system"]
    frame_fn = fn.join(functions, on=keys, how="left", maintain_order="left")["fn"]

    raw = RawProfile(source=source, format=fmt, strings=table)
    raw.sample_types = list(sample_types)
    raw.function_name = functions["name"].to_numpy().astype(np.int64)
    raw.function_system_name = functions["system"].to_numpy().astype(np.int64)
    raw.function_file = functions["file"].to_numpy().astype(np.int64)
    raw.function_start_line = functions["start"].to_numpy().astype(np.int64)
    raw.location_address = np.zeros(n_frames, dtype=np.uint64)
    raw.location_mapping = np.full(n_frames, -1, dtype=np.int64)
    raw.location_folded = np.zeros(n_frames, dtype=bool)
    raw.line_offsets = np.arange(n_frames + 1, dtype=np.int64)
    raw.line_function = frame_fn.to_numpy().astype(np.int64)
    raw.line_line = _ints(stacks.frame_line, n_frames)
    raw.line_column = _ints(stacks.frame_column, n_frames)
    raw.stack_offsets = np.asarray(stacks.stack_offsets, dtype=np.int64)
    raw.stack_locations = np.asarray(stacks.stack_frames, dtype=np.int64)
    n = len(sample_stack)
    raw.sample_stack = np.asarray(sample_stack, dtype=np.int64)
    raw.values = np.asarray(values, dtype=np.int64).reshape(n, len(sample_types))
    raw.label_offsets = np.zeros(n + 1, dtype=np.int64)
    return raw


def _index(values: pa.Array, table: pa.Array) -> np.ndarray:
    return np.asarray(pc.index_in(values, value_set=table).to_numpy(zero_copy_only=False), np.int64)


def _ints(values: np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=np.int64)
    return np.asarray(values, dtype=np.int64)


def reversed_lists(offsets: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Reverse every CSR list in place of order (root-first stacks to leaf-first)."""
    lengths = np.diff(offsets)
    starts = np.repeat(offsets[:-1], lengths)
    ends = np.repeat(offsets[1:], lengths)
    pos = np.arange(len(items), dtype=np.int64)
    return items[starts + ends - 1 - pos]


def tree_stacks(
    parent: np.ndarray, frame: np.ndarray, chosen: np.ndarray, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacks of the ``chosen`` nodes of a call tree: (offsets, frames leaf first, stack of
    each chosen node). One stack per distinct chosen node.

    ``parent[i]`` is node i's parent (-1 at a root) and ``frame[i]`` its frame (-1: none,
    as a synthetic root). The work is linear: depths come from a breadth-first walk, one
    numpy step per level, and only chosen nodes' stacks are written, one numpy step per
    frame of the deepest. Refused with a FormatError naming ``where``: parent links that
    form a cycle, a stack deeper than ``PROFILELAB_MAX_STACK_DEPTH``, and stacks holding
    more than ``PROFILELAB_MAX_STACK_FRAMES`` frames together.
    """
    lim = limits.current()
    has_frame = (frame >= 0).astype(np.int64)
    count = _frame_depths(parent, has_frame, lim.max_stack_depth, where)
    nodes, stack_of_chosen = np.unique(chosen, return_inverse=True)
    lengths = count[nodes]
    total = int(lengths.sum())
    if total > lim.max_stack_frames:
        raise FormatError(
            f"{where}: the call tree's sampled stacks hold {total} frames, past the limit of "
            f"{lim.max_stack_frames} (set PROFILELAB_MAX_STACK_FRAMES to raise it)"
        )
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.empty(total, dtype=np.int64)
    at, node = offsets[:-1].copy(), nodes.astype(np.int64)
    while len(node):  # one step per level, leaf to root, over the stacks still open
        own = has_frame[node].astype(bool)
        flat[at[own]] = frame[node[own]]
        at = at + own
        node = parent[node]
        live = node >= 0
        at, node = at[live], node[live]
    return offsets, flat, stack_of_chosen.astype(np.int64)


def _frame_depths(
    parent: np.ndarray, has_frame: np.ndarray, max_depth: int, where: str
) -> np.ndarray:
    """Frames on the path from each node to its root (itself included), level by level."""
    n = len(parent)
    order = np.argsort(parent, kind="stable")
    sorted_parent = parent[order]
    first = np.searchsorted(sorted_parent, np.arange(n), side="left")
    n_kids = np.searchsorted(sorted_parent, np.arange(n), side="right") - first
    count = np.full(n, -1, dtype=np.int64)
    level = np.nonzero(parent < 0)[0]
    count[level] = has_frame[level]
    seen, depth = len(level), 1
    while len(level):
        kids_per = n_kids[level]
        if not kids_per.any():
            break
        depth += 1
        if depth > max_depth:
            raise FormatError(
                f"{where}: call tree deeper than {max_depth} frames "
                "(set PROFILELAB_MAX_STACK_DEPTH to raise it)"
            )
        starts = np.repeat(first[level] - np.cumsum(kids_per) + kids_per, kids_per)
        kids = order[starts + np.arange(int(kids_per.sum()))]
        count[kids] = np.repeat(count[level], kids_per) + has_frame[kids]
        level = kids
        seen += len(kids)
    if seen < n:
        raise FormatError(f"{where}: parent links form a cycle ({n - seen} nodes on or under it)")
    return count


def add_sample_labels(raw: RawProfile, labels: dict[str, pa.Array]) -> None:
    """Give every sample the string labels ``key=value`` of ``labels`` (one column of
    ``n_samples`` strings per key; a null leaves the key out for that sample). Vectorized."""
    n = raw.n_samples
    if not labels:
        return
    keys = pa.array(list(labels), pa.string())
    columns = [
        (col if isinstance(col, pa.Array) else pa.array(col)).cast(pa.string())
        for col in labels.values()
    ]
    if any(len(c) != n for c in columns):
        raise ValueError("one label value per sample expected")
    wanted = pc.unique(pa.concat_arrays([keys, *[c.drop_null() for c in columns]]))
    extra = pc.filter(wanted, pc.invert(pc.is_in(wanted, value_set=raw.strings)))
    raw.strings = pa.concat_arrays([raw.strings.cast(pa.string()), extra])
    key_idx = _index(keys, raw.strings)
    value_idx = np.stack([_index(c.fill_null(""), raw.strings) for c in columns], axis=1)
    present = np.stack([np.asarray(c.is_valid()) for c in columns], axis=1)
    counts = present.sum(axis=1)
    raw.label_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=raw.label_offsets[1:])
    raw.label_key = np.broadcast_to(key_idx, value_idx.shape)[present].astype(np.int64)
    raw.label_str = value_idx[present].astype(np.int64)
    total = int(raw.label_offsets[-1])
    raw.label_num = np.zeros(total, dtype=np.int64)
    raw.label_unit = np.zeros(total, dtype=np.int64)
