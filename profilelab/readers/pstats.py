"""cProfile / ``pstats`` files: what ``cProfile`` and ``pstats.Stats.dump_stats`` write.

The file is ``marshal.dump`` of one dict (CPython ``Lib/pstats.py``): each key a function
``(file, line, name)``, each value ``(primitive calls, calls, tottime, cumtime, callers)``
in seconds, ``callers`` mapping each calling function to the same four numbers for calls
made from it (the old ``profile`` module stores a call count instead). Builtins have the
file ``~`` and line 0; they are named as pstats prints them (``{built-in method ...}``).

Four sample types, times in nanoseconds:

* ``tottime`` (the default): a flame graph rebuilt from the call graph. pstats knows only
  caller->callee edges, not full stacks, so each function's own time is walked up its
  callers, split in proportion to each caller's share (the edge's tottime for the first
  step, its cumtime above). Exact: every function's flat equals its tottime. cum equals
  cumtime when each function's callees have one caller (builtins may have many);
  otherwise the split is approximate. Recursion folds into the outermost call: a caller
  already on the path is skipped, as cumtime counts a recursive function once.
* ``cumtime``: one single-frame sample per function: flat and cum equal cumtime exactly.
* ``calls``: one sample per caller->callee edge (stack callee, caller) valued with the
  calls made along it, plus calls of unknown origin on the function alone: flat equals
  pstats' ncalls per function, and ``peek`` shows callers and callees.
* ``primitive_calls``: calls that were not recursive (pstats' ``12`` in ``8361/12``), one
  single-frame sample per function (cProfile's per-edge counts do not add up to it).

Untrusted input: ``marshal.loads`` runs in C and refuses deep nesting itself; the result
must have exactly the shape above (anything else, code objects included, is one
FormatError), the input's size is bounded as every input's is (readers/limits.py), and
the rebuilt flame graph is bounded in depth, paths and frames written (MAX_*).
"""

from __future__ import annotations

import marshal
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.errors import FormatError
from profilelab.model.raw import RawProfile
from profilelab.readers._input import Input
from profilelab.readers._stacks import NamedStacks, build_raw

FORMAT = "pstats"
SAMPLE_TYPES = [
    ("tottime", "nanoseconds"),
    ("cumtime", "nanoseconds"),
    ("calls", "count"),
    ("primitive_calls", "count"),
]
MAX_DEPTH = 256  # frames per rebuilt stack
MAX_PATHS = 200_000  # rebuilt stacks; beyond, paths stop where they are
MAX_SLOTS = 4_000_000  # frames written into rebuilt stacks (bounds the time and memory)

Func = tuple[str, int, str]


@dataclass
class _Stats:
    """Functions and caller->callee edges as arrays (times in integer nanoseconds)."""

    funcs: list[Func]
    cc: np.ndarray
    nc: np.ndarray
    tt: np.ndarray
    ct: np.ndarray
    edge_callee: np.ndarray
    edge_caller: np.ndarray
    edge_nc: np.ndarray
    edge_tt: np.ndarray  # float seconds: only ratios are used
    edge_ct: np.ndarray


def read(inp: Input) -> list[RawProfile]:
    stats = _validate(_load(inp), inp.name)
    frames = _frames(stats.funcs)
    stacks, sample_stack, values = _samples(stats)
    named = NamedStacks(
        frame_name=frames[0],
        stack_offsets=stacks[0],
        stack_frames=stacks[1],
        frame_file=frames[1],
        frame_start_line=frames[2],
        frame_line=frames[2],
        frame_system_name=pa.array([_std_name(f) for f in stats.funcs], pa.string()),
    )
    raw = build_raw(
        named, sample_stack, values, source=inp.name, fmt=FORMAT, sample_types=SAMPLE_TYPES
    )
    raw.default_sample_type = "tottime"
    raw.source_id = inp.content_id()
    return [raw]


def _load(inp: Input) -> Any:
    try:
        return marshal.loads(inp.data)
    except (EOFError, ValueError, TypeError) as exc:
        raise FormatError(f"{inp.name}: damaged pstats (marshal) data: {exc}") from None


def _is_int(x: Any) -> bool:
    return type(x) is int and 0 <= x < 2**62


def _is_time(x: Any) -> bool:
    return type(x) in (int, float) and math.isfinite(x) and 0 <= x < 1e9


def _is_func(x: Any) -> bool:
    return (
        type(x) is tuple
        and len(x) == 3
        and type(x[0]) is str
        and type(x[1]) is int
        and type(x[2]) is str
    )


def _validate(doc: Any, name: str) -> _Stats:
    """The stats dict as arrays; FormatError naming the first entry of another shape."""
    if type(doc) is not dict:
        raise FormatError(f"{name}: a pstats file holds a dict, not {type(doc).__name__}")
    if not doc:
        raise FormatError(f"{name}: pstats file has no functions")
    funcs: list[Func] = []
    rows: list[tuple[int, int, float, float]] = []
    edges: list[tuple[Func, Func, int, int, float, float]] = []
    for func, value in doc.items():
        if not _is_func(func):
            raise FormatError(f"{name}: pstats key {_short(func)} is not (file, line, name)")
        if not (
            type(value) is tuple
            and len(value) == 5
            and all(_is_int(v) for v in value[:2])
            and all(_is_time(v) for v in value[2:4])
            and type(value[4]) is dict
        ):
            raise FormatError(
                f"{name}: pstats entry of {_short(func)} is not (cc, nc, tottime, cumtime, callers)"
            )
        funcs.append(func)
        rows.append(value[:4])
        for caller, edge in value[4].items():
            edges.append((func, caller, *_edge(caller, edge, func, name)))
    return _arrays(funcs, rows, edges)


def _edge(caller: Any, edge: Any, callee: Func, name: str) -> tuple[int, int, float, float]:
    if not _is_func(caller):
        raise FormatError(f"{name}: a caller of {_short(callee)} is not (file, line, name)")
    if _is_int(edge):  # the old profile module: a call count
        return edge, edge, 0.0, 0.0
    if (
        type(edge) is tuple
        and len(edge) == 4
        and all(_is_int(v) for v in edge[:2])
        and all(_is_time(v) for v in edge[2:])
    ):
        return edge
    raise FormatError(f"{name}: call edge {_short(caller)} -> {_short(callee)} is malformed")


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _arrays(
    funcs: list[Func],
    rows: list[tuple[int, int, float, float]],
    edges: list[tuple[Func, Func, int, int, float, float]],
) -> _Stats:
    position = {f: i for i, f in enumerate(funcs)}
    for _, caller, *_rest in edges:  # callers outside the stats: functions with no time
        if caller not in position:
            position[caller] = len(funcs)
            funcs.append(caller)
            rows.append((0, 0, 0.0, 0.0))
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    e = np.array([e[2:] for e in edges], dtype=np.float64).reshape(-1, 4)
    return _Stats(
        funcs=funcs,
        cc=table[:, 0].astype(np.int64),
        nc=table[:, 1].astype(np.int64),
        tt=np.rint(table[:, 2] * 1e9).astype(np.int64),
        ct=np.rint(table[:, 3] * 1e9).astype(np.int64),
        edge_callee=np.array([position[e[0]] for e in edges], dtype=np.int64),
        edge_caller=np.array([position[e[1]] for e in edges], dtype=np.int64),
        edge_nc=e[:, 1].astype(np.int64),
        edge_tt=e[:, 2],
        edge_ct=e[:, 3],
    )


def _frames(funcs: list[Func]) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Names, files and first lines; builtins (file ``~``) named as pstats prints them."""
    names, files = [], []
    for file, _line, fn in funcs:
        if file == "~":
            builtin = fn.startswith("<") and fn.endswith(">")
            names.append("{" + fn[1:-1] + "}" if builtin else fn)
            files.append("")
        else:
            names.append(fn)
            files.append(file)
    lines = np.array([max(0, min(line, 2**31)) for _f, line, _n in funcs], dtype=np.int64)
    return pa.array(names, pa.string()), pa.array(files, pa.string()), lines


def _std_name(func: Func) -> str:
    """pstats' own label of a function (``func_std_string``): ``file:line(name)``, or the
    builtin's ``{...}`` name. Kept as the system name, so that reports do not take
    ``<module>`` or ``<listcomp>`` for C++ templates to simplify."""
    file, line, name = func
    if file == "~":
        return "{" + name[1:-1] + "}" if name.startswith("<") and name.endswith(">") else name
    return f"{file}:{line}({name})"


def _samples(stats: _Stats) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """(stack CSR leaf first, stack per sample, values per sample x SAMPLE_TYPES)."""
    n = len(stats.funcs)
    paths, masses = _flame(stats)
    own = [[i] for i in range(n)]
    edge_paths = [
        [int(a), int(b)] for a, b in zip(stats.edge_callee, stats.edge_caller, strict=True)
    ]
    stacks = paths + own + edge_paths
    blocks = []
    blocks.append(np.stack([masses] + [np.zeros(len(masses), np.int64)] * 3, axis=1))
    # own: cumtime, and the calls no recorded caller accounts for
    known_nc = np.bincount(stats.edge_callee, weights=stats.edge_nc, minlength=n)
    rest_nc = np.maximum(stats.nc - known_nc.astype(np.int64), 0)
    blocks.append(np.stack([np.zeros(n, np.int64), stats.ct, rest_nc, stats.cc], axis=1))
    zeros = np.zeros(len(edge_paths), np.int64)
    blocks.append(np.stack([zeros, zeros, stats.edge_nc, zeros], axis=1))
    values = np.concatenate(blocks).astype(np.int64)
    keep = np.nonzero(values.any(axis=1))[0]
    lengths = np.array([len(stacks[i]) for i in keep], dtype=np.int64)
    offsets = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((f for i in keep for f in stacks[i]), np.int64, count=int(offsets[-1]))
    return (offsets, flat), np.arange(len(keep), dtype=np.int64), values[keep]


def _flame(stats: _Stats) -> tuple[list[list[int]], np.ndarray]:
    """Stacks (leaf first) and their tottime mass, walked up the callers (module doc)."""
    callers: dict[int, list[int]] = {}
    for k, callee in enumerate(stats.edge_callee.tolist()):
        callers.setdefault(callee, []).append(k)
    caller_of = stats.edge_caller.tolist()
    todo = deque(([int(i)], int(stats.tt[i])) for i in np.nonzero(stats.tt > 0)[0])
    done_paths: list[list[int]] = []
    done_mass: list[int] = []
    slots = 0
    while todo:
        path, mass = todo.popleft()
        split = None
        if len(path) < MAX_DEPTH and len(done_paths) + len(todo) < MAX_PATHS and slots < MAX_SLOTS:
            on_path = set(path)
            edges = [k for k in callers.get(path[-1], []) if caller_of[k] not in on_path]
            split = _split_up(stats, edges, len(path), mass)
        if not split:
            done_paths.append(path)
            done_mass.append(mass)
            continue
        slots += len(split) * (len(path) + 1)
        todo.extend(([*path, caller], part) for caller, part in split)
    return done_paths, np.array(done_mass, dtype=np.int64)


def _split_up(stats: _Stats, edges: list[int], depth: int, mass: int) -> list[tuple[int, int]]:
    """``mass`` split among ``edges`` (to callers not already on the path)."""
    if not edges:
        return []
    if len(edges) == 1:
        return [(int(stats.edge_caller[edges[0]]), mass)]
    weight = (stats.edge_tt if depth == 1 else stats.edge_ct)[edges]
    if not weight.sum() > 0:
        weight = stats.edge_nc[edges].astype(np.float64)
    if not weight.sum() > 0:
        weight = np.ones(len(edges))
    parts = _apportion(mass, weight)
    return [(int(stats.edge_caller[k]), int(p)) for k, p in zip(edges, parts, strict=True) if p > 0]


def _apportion(mass: int, weight: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weight`` that sum to ``mass`` (largest remainders)."""
    exact = mass * weight / weight.sum()
    parts = np.floor(exact).astype(np.int64)
    short = mass - int(parts.sum())
    if short > 0:
        parts[np.argsort(parts - exact, kind="stable")[:short]] += 1
    return parts
