"""V8 CPU profiles inside Chrome traces (DevTools "Performance" recordings, Node's
``--cpu-prof`` traces): ``Profile`` + ``ProfileChunk`` events, or one ``CpuProfile`` event.

A ``Profile`` event (``args.data.startTime``) opens a profile under its ``id`` (else its
pid:tid); each ``ProfileChunk`` of that id adds ``cpuProfile.nodes``, ``cpuProfile.samples``
and ``timeDeltas`` (and may set ``startTime``/``endTime``), in ``ts`` order. A
``CpuProfile`` event holds a whole ``.cpuprofile`` in ``args.data.cpuProfile``. Each
assembled profile is decoded by the ``.cpuprofile`` reader, and its samples get the
``pid``/``tid`` (and ``thread_name``) labels of the events that declared it.

Only these few events are looked at one by one; their arrays are concatenated as lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from profilelab.model.raw import RawProfile
from profilelab.readers import cpuprofile
from profilelab.readers._input import Input
from profilelab.readers._stacks import add_sample_labels

NAMES = ("Profile", "ProfileChunk", "CpuProfile")


@dataclass
class Assembly:
    """One CPU profile being put together: the thread that declared it, and the
    ``.cpuprofile`` document (nodes, samples, timeDeltas, startTime, endTime)."""

    pid: str
    tid: str
    doc: dict[str, Any] = field(
        default_factory=lambda: {"nodes": [], "samples": [], "timeDeltas": []}
    )


def read(
    events: list[Any],
    rows: list[int],
    threads: dict[tuple[str, str], str],
    inp: Input,
    fmt: str,
) -> list[RawProfile]:
    """The CPU profiles declared by ``events[rows]`` (rows in ``ts`` order)."""
    found: dict[str, Assembly] = {}
    for i in rows:
        _add(found, events[i])
    return decode(found, threads, inp, fmt)


def decode(
    found: dict[str, Assembly], threads: dict[tuple[str, str], str], inp: Input, fmt: str
) -> list[RawProfile]:
    """Each assembled profile through the .cpuprofile reader, labelled with its thread."""
    raws = []
    for n, (key, part) in enumerate(found.items()):
        if not part.doc.get("nodes"):
            continue
        if not part.doc.get("timeDeltas"):  # samples without times: counted only
            part.doc.pop("timeDeltas", None)
        _drop_missing_nodes(part.doc)
        suffix = "" if len(found) == 1 else f" (profile {key})"
        data = json.dumps(part.doc).encode()
        raw = cpuprofile.read(Input(inp.name + suffix, data, inp.raw + f"#{n}".encode()))[0]
        labels = {"pid": part.pid, "tid": part.tid}
        thread = threads.get((part.pid, part.tid))
        if thread is not None:
            labels["thread_name"] = thread
        add_sample_labels(
            raw, {k: pa.array(np.full(raw.n_samples, v, dtype=object)) for k, v in labels.items()}
        )
        raw.source = inp.name
        raw.format = fmt
        raws.append(raw)
    return raws


def _drop_missing_nodes(doc: dict[str, Any]) -> None:
    """Chunks of a recording cut short name children, parents and sampled nodes that
    never arrived: drop those references (as speedscope does) rather than refuse the
    whole trace. A dropped sample's time goes to the next one."""
    nodes = doc["nodes"]
    known = {n.get("id") for n in nodes if isinstance(n, dict)}
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kids = node.get("children")
        if isinstance(kids, list) and not all(k in known for k in kids):
            node["children"] = [k for k in kids if k in known]
        if "parent" in node and node["parent"] not in known:
            del node["parent"]  # a root of its own
    samples, deltas = doc.get("samples"), doc.get("timeDeltas")
    if not isinstance(samples, list) or not samples:
        return
    try:
        ids = np.asarray(samples, dtype=np.int64)
        ok = np.isin(ids, np.fromiter((k for k in known if isinstance(k, int)), np.int64))
    except (TypeError, ValueError, OverflowError):
        return  # malformed: the .cpuprofile reader says what is wrong
    if ok.all():
        return
    doc["samples"] = ids[ok].tolist()
    if isinstance(deltas, list) and len(deltas) == len(samples):
        try:
            times = np.cumsum(np.asarray(deltas))[ok]
        except (TypeError, ValueError):
            return
        doc["timeDeltas"] = np.diff(times, prepend=times[:1] * 0).tolist()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _add(found: dict[str, Assembly], event: dict[str, Any]) -> None:
    pid, tid = _text(event.get("pid")), _text(event.get("tid"))
    key = _text(event.get("id")) or f"{pid}:{tid}"
    args = event.get("args")
    data = args.get("data") if isinstance(args, dict) else None
    if not isinstance(data, dict):
        return
    kind = event.get("name")
    if kind == "CpuProfile":
        whole = data.get("cpuProfile")
        if isinstance(whole, dict):
            found[key] = Assembly(pid, tid, dict(whole))
        return
    if kind == "Profile":
        part = found[key] = Assembly(pid, tid)
        for k in ("startTime", "endTime"):
            if data.get(k) is not None:
                part.doc[k] = data[k]
        return
    part_or_none = found.get(key)
    if part_or_none is None:  # a chunk of an undeclared profile: ignored, as speedscope does
        return
    part = part_or_none
    profile = data.get("cpuProfile")
    if isinstance(profile, dict):
        for k in ("nodes", "samples"):
            if isinstance(profile.get(k), list):
                part.doc[k].extend(profile[k])
    if isinstance(data.get("timeDeltas"), list):
        part.doc["timeDeltas"].extend(data["timeDeltas"])
    for k in ("startTime", "endTime"):
        if data.get(k) is not None:
            part.doc[k] = data[k]
