"""speedscope JSON reader (https://www.speedscope.app/file-format-schema.json), sampled profiles.

Each ``"sampled"`` profile becomes one input with one sample type: ``samples/count`` for
unit ``none``, ``space/bytes`` for bytes, ``time/<unit>`` for time units, each weight one
sample; the profile's name is kept as the profile label ``speedscope.profile``. Frames keep
their name, file, line and column. ``"evented"`` profiles are refused with a FormatError
(converting open/close events to samples is not implemented).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.errors import FormatError
from profilelab.model.ids import digest_bytes
from profilelab.model.raw import RawProfile
from profilelab.readers._input import Input
from profilelab.readers._stacks import NamedStacks, build_raw, reversed_lists

FORMAT = "speedscope"
_SCHEMA_MARK = b"speedscope.app/file-format-schema.json"
_TIME_UNITS = {"nanoseconds", "microseconds", "milliseconds", "seconds"}


def sniff(data: bytes) -> bool:
    head = data[:4096].lstrip()
    return head[:1] == b"{" and _SCHEMA_MARK in head


def read(inp: Input) -> list[RawProfile]:
    doc = _load(inp)
    frames = _frames(doc, inp.name)
    profiles = doc.get("profiles")
    if not isinstance(profiles, list) or not profiles:
        raise FormatError(f"{inp.name}: speedscope file has no profiles")
    raws = []
    for i, prof in enumerate(profiles):
        raw = _profile(prof, i, frames, inp.name)
        suffix = b"" if len(profiles) == 1 else f"#{i}".encode()
        raw.source_id = digest_bytes(inp.raw + suffix)
        raws.append(raw)
    return raws


def _load(inp: Input) -> dict[str, Any]:
    try:
        doc = json.loads(inp.data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"{inp.name}: speedscope file is not valid JSON: {exc}") from None
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


def _profile(prof: Any, i: int, frames: NamedStacks, name: str) -> RawProfile:
    where = f"{name}: speedscope profile {i}"
    if not isinstance(prof, dict):
        raise FormatError(f"{where} is not an object")
    if prof.get("type") == "evented":
        raise FormatError(f"{where}: evented speedscope profiles are not supported (only sampled)")
    if prof.get("type") != "sampled":
        raise FormatError(f"{where}: unknown profile type {prof.get('type')!r}")
    samples, weights = prof.get("samples"), prof.get("weights")
    if not isinstance(samples, list) or not isinstance(weights, list):
        raise FormatError(f"{where}: 'samples' and 'weights' must be lists")
    if len(samples) != len(weights):
        raise FormatError(f"{where}: {len(samples)} samples but {len(weights)} weights")
    n_frames = len(frames.frame_name)
    try:  # Arrow converts the nested lists in C, not element by element in Python
        lists = pa.array(samples, type=pa.list_(pa.int64()))
        values = _weights(pa.array(weights))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        raise FormatError(
            f"{where}: samples must be lists of frame indices, weights numbers"
        ) from None
    if lists.null_count or values is None:
        raise FormatError(f"{where}: null sample or weight out of range")
    flat = lists.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = lists.offsets.to_numpy().astype(np.int64)
    if len(flat) and (flat.min() < 0 or flat.max() >= n_frames):
        raise FormatError(f"{where}: frame index out of range (there are {n_frames} frames)")
    stacks = NamedStacks(
        frame_name=frames.frame_name,
        stack_offsets=offsets,
        stack_frames=reversed_lists(offsets, flat),  # speedscope stacks are root first
        frame_file=frames.frame_file,
        frame_line=frames.frame_line,
        frame_column=frames.frame_column,
    )
    raw = build_raw(
        stacks,
        np.arange(len(samples), dtype=np.int64),
        values.reshape(-1, 1),
        source=name,
        fmt=FORMAT,
        sample_types=[_sample_type(prof.get("unit"))],
    )
    if isinstance(prof.get("name"), str):
        raw.profile_labels = [("speedscope.profile", prof["name"])]
    return raw


def _weights(arr: pa.Array) -> np.ndarray | None:
    """Integer weights as they are; fractional ones rounded; None if null or too large."""
    if arr.null_count:
        return None
    if pa.types.is_integer(arr.type):
        return arr.to_numpy(zero_copy_only=False).astype(np.int64)
    if not pa.types.is_floating(arr.type) and len(arr):
        raise TypeError("weights must be numbers")
    values = np.rint(arr.to_numpy(zero_copy_only=False).astype(np.float64))
    if np.isnan(values).any() or (np.abs(values) >= 2**62).any():
        return None
    return values.astype(np.int64)


def _sample_type(unit: Any) -> tuple[str, str]:
    if unit in _TIME_UNITS:
        return ("time", str(unit))
    if unit == "bytes":
        return ("space", "bytes")
    return ("samples", "count")


def register_format() -> None:
    from profilelab.readers import Format, register

    register(Format(FORMAT, sniff, read), first=True)
