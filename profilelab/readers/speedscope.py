"""speedscope JSON reader (https://www.speedscope.app/file-format-schema.json), sampled profiles.

Each profile becomes one input with one sample type: ``samples/count`` for unit ``none``,
``space/bytes`` for bytes, ``time/nanoseconds`` for time units (converted, so fractional
milliseconds survive as integers); the profile's name is kept as the profile label
``speedscope.profile``. Frames keep their name, file, line and column. When every profile
of a file has a sample type of its own (one profile per sample type, as ``profilelab
convert`` and pprof converters write them), they are the sample types of one input instead,
the active profile's type being the default.

* ``"sampled"``: each weight is one sample.
* ``"evented"``: each interval between two events is one sample of the frames open during
  it, weighted by its duration (:mod:`profilelab.readers._speedscope_evented`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.errors import FormatError
from profilelab.model.ids import digest_bytes
from profilelab.model.raw import RawProfile
from profilelab.readers import _json
from profilelab.readers import _speedscope_evented as evented
from profilelab.readers._input import Input
from profilelab.readers._stacks import NamedStacks, build_raw, reversed_lists

FORMAT = "speedscope"
_TIME_UNITS = {"nanoseconds": 1.0, "microseconds": 1e3, "milliseconds": 1e6, "seconds": 1e9}


def read(inp: Input) -> list[RawProfile]:
    doc = _load(inp)
    frames = _frames(doc, inp.name)
    profiles = doc.get("profiles")
    if not isinstance(profiles, list) or not profiles:
        raise FormatError(f"{inp.name}: speedscope file has no profiles")
    parts = [_part(prof, i, frames, inp.name) for i, prof in enumerate(profiles)]
    types = [part.sample_type for part in parts]
    if len(parts) > 1 and len({t for t, _ in types}) == len(types):
        # one profile per sample type (as profilelab and pprof converters write them): the
        # sample types of one input, not inputs to merge
        raw = _combined(parts, frames, inp.name, doc.get("activeProfileIndex"))
        raw.source_id = inp.content_id()
        return [raw]
    raws = []
    for i, part in enumerate(parts):
        raw = _raw([part], frames, inp.name)
        suffix = b"" if len(parts) == 1 else f"#{i}".encode()
        raw.source_id = digest_bytes(inp.raw + suffix)
        raws.append(raw)
    return raws


def _load(inp: Input) -> dict[str, Any]:
    doc = _json.loads(inp.data, f"{inp.name}: speedscope file")
    if not isinstance(doc, dict):
        raise FormatError(f"{inp.name}: speedscope file must be a JSON object")
    return doc


def _frames(doc: dict[str, Any], name: str) -> NamedStacks:
    """The shared frames (stacks are filled in per profile)."""
    frames = (
        (doc.get("shared") or {}).get("frames") if isinstance(doc.get("shared"), dict) else None
    )
    if not isinstance(frames, list):
        raise FormatError(f"{name}: speedscope file has no shared.frames list")
    if not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in frames):
        raise FormatError(f"{name}: every speedscope frame needs a string 'name'")

    def ints(key: str) -> np.ndarray:
        vals = [f.get(key) for f in frames]
        if not all(v is None or (isinstance(v, int | float) and abs(v) < 2**62) for v in vals):
            raise FormatError(f"{name}: speedscope frame '{key}' must be a number")
        return np.array([int(v or 0) for v in vals], dtype=np.int64)

    files = [f.get("file") for f in frames]
    if not all(v is None or isinstance(v, str) for v in files):
        raise FormatError(f"{name}: speedscope frame 'file' must be a string")
    return NamedStacks(
        frame_name=pa.array([f["name"] for f in frames], pa.string()),
        stack_offsets=np.zeros(1, np.int64),
        stack_frames=np.zeros(0, np.int64),
        frame_file=pa.array(files, pa.string()),
        frame_line=ints("line"),
        frame_column=ints("col"),
    )


@dataclass
class _Part:
    """One speedscope profile: stacks (CSR, leaf first), stack per sample, integer values."""

    offsets: np.ndarray
    leaf_first: np.ndarray
    sample_stack: np.ndarray
    values: np.ndarray
    sample_type: tuple[str, str]
    name: str | None


def _part(prof: Any, i: int, frames: NamedStacks, name: str) -> _Part:
    where = f"{name}: speedscope profile {i}"
    if not isinstance(prof, dict):
        raise FormatError(f"{where} is not an object")
    if prof.get("type") == "evented":
        ev = evented.intervals(
            prof.get("events"), prof.get("endValue"), len(frames.frame_name), where
        )
        offsets, leaf_first, sample_stack, weights = (
            ev.stack_offsets,
            ev.stack_frames,
            ev.sample_stack,
            ev.weights,
        )
    elif prof.get("type") == "sampled":
        offsets, root_first, weights = _sampled(prof, len(frames.frame_name), where)
        leaf_first = reversed_lists(offsets, root_first)  # speedscope stacks are root first
        sample_stack = np.arange(len(offsets) - 1, dtype=np.int64)
    else:
        raise FormatError(f"{where}: unknown profile type {str(prof.get('type'))[:40]!r}")
    sample_type, scale = _sample_type(prof.get("unit"))
    values = _scaled(weights, scale, where)
    label = prof["name"] if isinstance(prof.get("name"), str) else None
    return _Part(offsets, leaf_first, sample_stack, values, sample_type, label)


def _raw(parts: list[_Part], frames: NamedStacks, name: str) -> RawProfile:
    """One RawProfile of ``parts``, each holding the samples of its own sample type (the
    values of the other types are 0 in its samples)."""
    lengths = [len(p.offsets) - 1 for p in parts]
    stack_base = np.concatenate([[0], np.cumsum(lengths)])[:-1]
    frame_base = np.cumsum([0] + [int(p.offsets[-1]) for p in parts])[:-1]
    offsets = np.concatenate(
        [[0]] + [p.offsets[1:] + base for p, base in zip(parts, frame_base, strict=True)]
    )
    n = [len(p.sample_stack) for p in parts]
    values = np.zeros((sum(n), len(parts)), dtype=np.int64)
    row = np.concatenate([[0], np.cumsum(n)])
    for k, part in enumerate(parts):
        values[row[k] : row[k + 1], k] = part.values
    stacks = NamedStacks(
        frame_name=frames.frame_name,
        stack_offsets=offsets.astype(np.int64),
        stack_frames=np.concatenate([p.leaf_first for p in parts]).astype(np.int64),
        frame_file=frames.frame_file,
        frame_line=frames.frame_line,
        frame_column=frames.frame_column,
        # no system name: names are shown as written (py-spy's "<module>")
        frame_system_name=pa.nulls(len(frames.frame_name), pa.string()),
    )
    sample_stack = np.concatenate(
        [p.sample_stack + base for p, base in zip(parts, stack_base, strict=True)]
    )
    raw = build_raw(
        stacks,
        sample_stack,
        values,
        source=name,
        fmt=FORMAT,
        sample_types=[p.sample_type for p in parts],
    )
    if len(parts) == 1 and parts[0].name is not None:
        raw.profile_labels = [("speedscope.profile", parts[0].name)]
    return raw


def _combined(parts: list[_Part], frames: NamedStacks, name: str, active: Any) -> RawProfile:
    """Profiles of distinct sample types as one input; the active profile's is the default."""
    raw = _raw(parts, frames, name)
    if isinstance(active, int) and not isinstance(active, bool) and 0 <= active < len(parts):
        raw.default_sample_type = parts[active].sample_type[0]
    return raw


def _sampled(
    prof: dict[str, Any], n_frames: int, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stack offsets, frames root first, weights) of a sampled profile."""
    samples, weights = prof.get("samples"), prof.get("weights")
    if not isinstance(samples, list) or not isinstance(weights, list):
        raise FormatError(f"{where}: 'samples' and 'weights' must be lists")
    if len(samples) != len(weights):
        raise FormatError(f"{where}: {len(samples)} samples but {len(weights)} weights")
    try:  # Arrow converts the nested lists in C, not element by element in Python
        lists = pa.array(samples, type=pa.list_(pa.int64()))
        values = _weights(pa.array(weights))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        raise FormatError(
            f"{where}: samples must be lists of frame indices, weights numbers"
        ) from None
    frames = lists.flatten()
    if lists.null_count or frames.null_count or values is None:
        raise FormatError(f"{where}: null sample, frame index or weight")
    flat = frames.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = lists.offsets.to_numpy().astype(np.int64)
    if len(flat) and (flat.min() < 0 or flat.max() >= n_frames):
        raise FormatError(f"{where}: frame index out of range (there are {n_frames} frames)")
    return offsets, flat, values


def _weights(arr: pa.Array) -> np.ndarray | None:
    """Weights as int64 when they are integers (exact), else float64; None when one is null."""
    if arr.null_count:
        return None
    if pa.types.is_integer(arr.type):
        return arr.to_numpy(zero_copy_only=False).astype(np.int64)
    if not pa.types.is_floating(arr.type) and len(arr):
        raise TypeError("weights must be numbers")
    return arr.to_numpy(zero_copy_only=False).astype(np.float64)


def _scaled(weights: np.ndarray, scale: float, where: str) -> np.ndarray:
    """Integer weights in the sample type's unit (exact for integers not rescaled)."""
    if weights.dtype == np.int64 and scale == 1.0:
        return weights
    values = np.rint(weights.astype(np.float64) * scale)
    if len(values) and (np.isnan(values).any() or np.abs(values).max() >= 2.0**63):
        raise FormatError(f"{where}: weight out of range")
    return values.astype(np.int64)


def _sample_type(unit: Any) -> tuple[tuple[str, str], float]:
    """The sample type for a speedscope unit, and the factor to it (times in nanoseconds,
    so that fractional milliseconds survive as integers)."""
    if unit in _TIME_UNITS:
        return ("time", "nanoseconds"), _TIME_UNITS[unit]
    if unit == "bytes":
        return ("space", "bytes"), 1.0
    return ("samples", "count"), 1.0
