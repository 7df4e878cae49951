"""Damaged inputs of every format this module reads: a FormatError or a valid profile, never
another exception (truncations, byte flips, insertions of seed files of each format)."""

from __future__ import annotations

import io
import json
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import FormatError, QueryError
from profilelab.writers import write

SEEDS = [
    # legacy text heap with a memory map
    b"heap profile: 2: 100 [ 3: 300] @ heap_v2/524288\n1: 50 [2: 200] @ 0x401000 0x402000\n"
    b"1: 50 [1: 100] @ 0x401000\n\nMAPPED_LIBRARIES:\n00400000-00500000 r-xp 0 00:00 0 /bin/a\n",
    b"goroutine profile: total 3\n2 @ 0x401001 0x402002\n1 @ 0x403003\n",
    b"--- threadz 1 ---\n\n--- Thread 1 (name: main/1) stack: ---\n  PC: 0x401000 0x402001\n"
    b"--- Thread 2 (name: w/2) stack: ---\n  [same as previous thread]\n--- Memory map: ---\n",
    b"--- contentionz 1 ---\ncycles/second = 3000000000\nsampling period = 100\n"
    b"  1000 2 @ 0x401001 0x402002\n",
    b"--- heapz 1 ---\nformat = java\nresolution = bytes\n  7048  1 @ 0x00000003 0x00000004\n"
    b"\n 0x0000003 com.example.f (F.java:3)\n 0x0000004 GC\n",
    struct.pack("<9Q", 0, 3, 0, 10000, 0, 2, 2, 0x401000, 0x402005)
    + struct.pack("<3Q", 0, 1, 0)
    + b"00400000-00500000 r-xp 00000000 00:00 0 /bin/a\n",
    b"main;handler (server.go:42);work 7\nmain;gc 5\nmain 1\n",
    json.dumps(
        {
            "$schema": "https://www.speedscope.app/file-format-schema.json",
            "shared": {"frames": [{"name": "a", "file": "a.js", "line": 1}, {"name": "b"}]},
            "profiles": [
                {
                    "type": "sampled",
                    "name": "p",
                    "unit": "none",
                    "startValue": 0,
                    "endValue": 3,
                    "samples": [[0, 1], [0]],
                    "weights": [2, 1],
                },
            ],
        }
    ).encode(),
    json.dumps(
        {
            "$schema": "https://www.speedscope.app/file-format-schema.json",
            "shared": {"frames": [{"name": "a"}, {"name": "b"}]},
            "profiles": [
                {
                    "type": "evented",
                    "unit": "milliseconds",
                    "endValue": 9,
                    "events": [
                        {"type": "O", "frame": 0, "at": 0},
                        {"type": "O", "frame": 1, "at": 1.5},
                        {"type": "C", "frame": 1, "at": 3},
                        {"type": "C", "frame": 0, "at": 8},
                    ],
                }
            ],
        }
    ).encode(),
    json.dumps(
        {
            "nodes": [
                {"id": 1, "callFrame": {"functionName": "(root)"}, "children": [2]},
                {
                    "id": 2,
                    "callFrame": {"functionName": "f", "url": "a.js", "lineNumber": 3},
                    "hitCount": 2,
                },
            ],
            "startTime": 0,
            "endTime": 10,
            "samples": [2, 2],
            "timeDeltas": [1, 2],
        }
    ).encode(),
]


#: Bytes inserted into damaged inputs: separators and tokens of the text formats.
INSERTS = (b"\n", b";", b" 0x", b"-", b"9" * 25, b"\x00", b"]")


@st.composite
def damaged(
    draw: st.DrawFn,
    seeds: list[bytes] = SEEDS,
    inserts: tuple[bytes, ...] = INSERTS,
    max_edits: int = 4,
) -> bytes:
    """One of ``seeds`` truncated, with bits flipped, ``inserts`` inserted or bytes deleted."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_edits))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[pos:]
        elif kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[pos:pos] = draw(st.sampled_from(inserts))
        elif data:
            del data[pos : pos + draw(st.integers(1, 8))]
    return bytes(data)


@given(damaged())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_inputs_fail_cleanly_or_load(data: bytes) -> None:
    try:
        profile = profilelab.load(data, name="damaged")
    except FormatError as exc:
        assert str(exc).startswith("damaged: ")
        return
    profile.check()
    _writes_cleanly(profile)


def _writes_cleanly(profile: profilelab.Profile) -> None:
    """Every writer either writes something that reads back, or raises QueryError."""
    for fmt in ("pprof", "folded", "speedscope"):
        out = io.BytesIO()
        try:
            write(profile, out, fmt)
        except QueryError:
            continue
        if out.getvalue():
            profilelab.load(out.getvalue()).check()


def test_every_seed_loads() -> None:
    for seed in SEEDS:
        profile = profilelab.load(seed)
        profile.check()
        _writes_cleanly(profile)
