"""The "samples" form of the trace-event format (Hermes, React Native): a JSON object with
``samples`` (``ts``, ``pid``, ``tid``, ``sf``: the sampled stack frame) and
``stackFrames`` (id -> ``name``, ``category``, optional ``parent``) beside ``traceEvents``.

Each (pid, tid) lane becomes one V8-style CPU profile decoded by the ``.cpuprofile``
reader: stack frames are its nodes (named by ``name``), the samples its samples, each
weighted by the time to the lane's next sample (the last one by none), as speedscope
weighs them; ``pid``/``tid``/``thread_name`` labels as for other trace events. A sample
naming an unknown frame, a frame whose parent is unknown, or a cycle of parents is one
FormatError.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from profilelab.errors import FormatError
from profilelab.model.raw import RawProfile
from profilelab.readers import _trace_cpuprofile as cpu
from profilelab.readers._input import Input
from profilelab.readers._trace_columns import lane_column


def is_samples_form(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("samples"), list)
        and isinstance(doc.get("stackFrames"), dict)
    )


def read(
    doc: dict[str, Any], threads: dict[tuple[str, str], str], inp: Input, fmt: str
) -> list[RawProfile]:
    nodes, position = _nodes(doc["stackFrames"], inp.name)
    lanes = _samples(doc["samples"], position, inp.name)
    found: dict[str, cpu.Assembly] = {}
    for (pid, tid), lane in lanes.group_by(["pid", "tid"], maintain_order=True):
        ts = lane["ts"].to_numpy()
        doc_lane = {
            "nodes": nodes,
            "samples": lane["node"].to_list(),
            "startTime": int(ts[0]),
            "endTime": int(ts[-1]),
            "timeDeltas": np.diff(ts, prepend=ts[0]).tolist(),
        }
        found[f"{pid}:{tid}"] = cpu.Assembly(str(pid), str(tid), doc_lane)
    return cpu.decode(found, threads, inp, fmt)


def _nodes(frames: dict[str, Any], name: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """.cpuprofile nodes (ids 1..n, parent links) from the stack frames; id by frame key."""
    position = {str(k): i + 1 for i, k in enumerate(frames)}
    nodes = []
    for key, frame in frames.items():
        if not isinstance(frame, dict) or not isinstance(frame.get("name"), str):
            raise FormatError(f"{name}: trace stack frame {key!r} needs a string 'name'")
        node: dict[str, Any] = {
            "id": position[str(key)],
            "callFrame": {"functionName": frame["name"] or "(anonymous)", "url": ""},
        }
        parent = frame.get("parent")
        if parent is not None:
            if str(parent) not in position:
                raise FormatError(
                    f"{name}: trace stack frame {key!r} has unknown parent {parent!r}"
                )
            node["parent"] = position[str(parent)]
        nodes.append(node)
    return nodes, position


def _samples(samples: list[Any], position: dict[str, int], name: str) -> pl.DataFrame:
    """pid, tid, ts (microseconds), node per sample, file order."""
    if not all(isinstance(s, dict) for s in samples):
        raise FormatError(f"{name}: trace samples must be objects")
    frame = pl.DataFrame(
        {
            "pid": pl.Series(lane_column(samples, "pid")),
            "tid": pl.Series(lane_column(samples, "tid")),
            "ts": pl.Series(lane_column(samples, "ts")).cast(pl.Float64, strict=False),
            "sf": pl.Series(lane_column(samples, "sf")),
        }
    )
    keys = pl.DataFrame(
        {"sf": list(position), "node": list(position.values())},
        schema={"sf": pl.Utf8, "node": pl.Int64},
    )
    frame = frame.join(keys, on="sf", how="left", maintain_order="left")
    if frame["ts"].null_count() or not frame["ts"].is_finite().all():
        raise FormatError(f"{name}: every trace sample needs a numeric 'ts'")
    unknown = frame.filter(pl.col("node").is_null())
    if unknown.height:
        raise FormatError(f"{name}: a trace sample names unknown stack frame {unknown['sf'][0]!r}")
    return frame.with_columns(pl.col("ts").round().cast(pl.Int64))
