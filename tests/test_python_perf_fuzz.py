"""Damaged pstats, trace-event and perf script inputs: a FormatError naming the input or a
valid profile, never another exception (truncations, byte flips, insertions)."""

from __future__ import annotations

import json
import marshal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import FormatError
from profilelab.readers import pstats as pstats_reader
from tests.test_formats_fuzz import damaged as damage

DATA = Path(__file__).parent / "data"

PSTATS = marshal.dumps(
    {
        ("m.py", 1, "main"): (1, 1, 0.01, 0.5, {}),
        ("m.py", 5, "f"): (3, 3, 0.2, 0.49, {("m.py", 1, "main"): (3, 3, 0.2, 0.49)}),
        ("~", 0, "<built-in method builtins.len>"): (
            9,
            9,
            0.29,
            0.29,
            {("m.py", 5, "f"): (9, 9, 0.29, 0.29)},
        ),
    }
)
TRACE = json.dumps(
    [
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "main"}},
        {"ph": "B", "name": "a", "ts": 0, "pid": 1, "tid": 2, "args": {"filename": "x.py"}},
        {"ph": "X", "name": "b", "ts": 1, "dur": 2, "pid": 1, "tid": 2},
        {"ph": "E", "name": "a", "ts": 5, "pid": 1, "tid": 2},
    ]
).encode()
HERMES = json.dumps(
    {
        "traceEvents": [],
        "samples": [
            {"ts": "10", "pid": 1, "tid": 1, "sf": 2},
            {"ts": 12, "pid": 1, "tid": 1, "sf": 1},
        ],
        "stackFrames": {"1": {"name": "[root]"}, "2": {"name": "f", "parent": 1}},
    }
).encode()
PERF = (
    b"prog 10/11 [003] 100.5: 250 cycles:\n\t 1001 leaf+0x3 (/bin/prog)\n"
    b"\t 2002 outer->inner (/bin/prog)\n\t ffffffff81000000 [unknown] ([kernel.kallsyms])\n\n"
    b"prog 10/12 100.6: 7 instructions:\n\t 4004 main (/bin/prog)\n\n"
)
SEEDS = [PSTATS, TRACE, HERMES, PERF]


def damaged() -> st.SearchStrategy[bytes]:
    """The shared damage strategy over these seeds, with the tokens of these formats."""
    inserts = (b"\n", b"->", b" 0x", b"9" * 25, b"\x00", b"]")
    return damage(SEEDS, inserts, 3)


def test_every_seed_loads() -> None:
    formats = [profilelab.load(seed).profiles["format"][0] for seed in SEEDS]
    assert formats == ["pstats", "trace-event", "trace-event", "perf-script"]


@pytest.mark.slow
@given(damaged())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_inputs_fail_cleanly_or_load(data: bytes) -> None:
    try:
        profile = profilelab.load(data, name="damaged")
    except FormatError as exc:
        assert str(exc).startswith("damaged: ") and "\n" not in str(exc)
        return
    profile.check()


def test_pstats_flame_graph_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call graph of 2^16 paths (16 layers of two functions, each calling both of the
    next layer): the rebuilt stacks stop at the path limit, flat stays exact."""
    layers, width = 16, 2
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, dict]] = {}
    for layer in range(layers):
        for k in range(width):
            callers = {
                ("g.py", layer - 1, f"f{layer - 1}_{j}"): (1, 1, 0.001, 0.001) for j in range(width)
            }
            stats[("g.py", layer, f"f{layer}_{k}")] = (2, 2, 0.001, 0.01, callers if layer else {})
    monkeypatch.setattr(pstats_reader, "MAX_PATHS", 500)
    profile = profilelab.load(marshal.dumps(stats))
    flat = {r["name"]: r["flat"] for r in profile.top().iter_rows(named=True)}
    assert set(flat.values()) == {1_000_000}  # every function's tottime, exactly
    assert profile.stacks.height < 2_000


def test_pstats_recursion_chain_is_cut_at_the_depth_limit() -> None:
    n = pstats_reader.MAX_DEPTH + 10
    stats = {
        ("c.py", i, f"f{i}"): (
            1,
            1,
            0.001,
            0.001 * (n - i),
            {("c.py", i - 1, f"f{i - 1}"): (1, 1, 0.001, 0.001 * (n - i))} if i else {},
        )
        for i in range(n)
    }
    profile = profilelab.load(marshal.dumps(stats))
    assert profile.stacks["frame_ids"].list.len().max() == pstats_reader.MAX_DEPTH
    assert profile.top()["flat"].sum() == n * 1_000_000
