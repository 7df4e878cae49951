"""py-spy outputs (raw folded, speedscope, chrometrace) and Chrome trace events: recorded by
the real py-spy in the tests, and committed fixtures it made (tests/data/python/README)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import profilelab
from profilelab import FormatError
from tests.speedscope_peer import labelled

DATA = Path(__file__).parent / "data" / "python"
FORMATS = {"raw": "folded", "speedscope": "speedscope", "chrometrace": "trace-event"}


@pytest.fixture(scope="session")
def pyspy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{py-spy format: file} recorded by the real py-spy from tests/data/python/prog.py."""
    exe = shutil.which("py-spy")
    if exe is None:
        pytest.skip("py-spy is not installed (pip install py-spy; the 'dev' extra has it)")
    out = tmp_path_factory.mktemp("pyspy")
    prog = out / "prog.py"
    prog.write_text((DATA / "prog.py").read_text().replace("main(1.0)", "main(0.6)"))
    files = {}
    for fmt in FORMATS:
        files[fmt] = out / f"prog.{fmt}"
        cmd = [exe, "record", "-r", "100", "-o", str(files[fmt]), "--format", fmt]
        done = subprocess.run(
            [*cmd, "--", sys.executable, str(prog)], capture_output=True, timeout=60
        )
        if done.returncode != 0 or not files[fmt].exists():
            pytest.skip(f"py-spy cannot record here: {done.stderr.decode()[-200:]}")
    return files


def hottest(profile: profilelab.Profile) -> str:
    return str(profile.top()["name"][0])


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_pyspy_recordings_load_with_the_hot_function(pyspy: dict[str, Path], fmt: str) -> None:
    profile = profilelab.load(pyspy[fmt])
    profile.check()
    assert profile.profiles["format"].to_list() == [FORMATS[fmt]]
    # raw keeps py-spy's "name (file:line)" frames, as flamegraph.pl shows them
    assert hottest(profile).startswith("hot_loop")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("prog.folded", "folded"),
        ("prog.speedscope.json", "speedscope"),
        ("prog.chrometrace.json", "trace-event"),
        ("prog.pstats", "pstats"),
    ],
)
def test_committed_python_fixtures(name: str, fmt: str) -> None:
    profile = profilelab.load(DATA / name)
    profile.check()
    assert profile.profiles["format"].to_list()[0] == fmt
    assert hottest(profile).startswith("hot_loop")


def test_chrometrace_lanes_times_and_files() -> None:
    """py-spy's chrometrace: one lane per thread as pid/tid labels, times from ts, frames
    with the file and line py-spy puts in args."""
    doc = json.loads((DATA / "prog.chrometrace.json").read_text())
    profile = profilelab.load(DATA / "prog.chrometrace.json")
    pid, tid = str(doc[0]["pid"]), str(doc[0]["tid"])
    assert labelled(profile, pid=pid, tid=tid).samples.height == profile.samples.height
    times = profile.samples["time_ns"]
    assert times.null_count() == 0 and times.is_sorted()
    stamps = sorted(e["ts"] for e in doc)
    assert times.min() == stamps[0] * 1000
    # the intervals cover the trace from its first to its last event
    assert profile.samples["value"].sum() <= (stamps[-1] - stamps[0]) * 1000
    hot = profile.frames.filter(pl.col("function") == "hot_loop")
    assert hot["file"].str.ends_with("prog.py").all() and (hot["line"] > 0).all()


def event(ph: str, name: str, ts: float, tid: int = 1, **kw: object) -> dict[str, object]:
    return {"ph": ph, "name": name, "ts": ts, "pid": 7, "tid": tid, **kw}


def test_trace_events_nest_per_thread_with_names() -> None:
    events = [
        {"ph": "M", "name": "thread_name", "pid": 7, "tid": 2, "args": {"name": "worker"}},
        event("X", "main", 0, dur=10),
        event("X", "child", 2, dur=3),
        event("B", "job", 0, tid=2),
        event("E", "job", 4, tid=2),
        event("i", "instant", 1),  # ignored
    ]
    profile = profilelab.load(json.dumps({"traceEvents": events}).encode())
    profile.check()
    top = {r["name"]: (r["flat"], r["cum"]) for r in profile.top().iter_rows(named=True)}
    assert top == {"main": (7000, 10000), "child": (3000, 3000), "job": (4000, 4000)}
    worker = labelled(profile, tid="2", thread_name="worker")
    assert worker.samples["value"].sum() == 4000
    assert profile.profiles["sample_type"].to_list() == ["wall"]
    assert profile.profiles["sample_unit"].to_list() == ["nanoseconds"]


def test_chrome_trace_with_a_cpu_profile_inside_is_not_a_cpuprofile() -> None:
    """A DevTools trace holds "nodes" and "callFrame" in its first bytes: it is a trace."""
    chunk = {"cpuProfile": {"nodes": [{"id": 1, "callFrame": {"functionName": "(root)"}}]}}
    events = [
        event("P", "ProfileChunk", 0, args={"data": chunk}),
        event("X", "RunTask", 0, dur=5),
    ]
    profile = profilelab.load(json.dumps({"traceEvents": events}).encode())
    assert profile.profiles["format"].to_list() == ["trace-event"]
    assert profile.top()["name"].to_list() == ["RunTask"]


def test_devtools_trace_reads_its_cpu_profile() -> None:
    """Profile + ProfileChunk events are read instead of the trace's other events; chunks
    that name nodes which never arrived lose those references."""
    nodes = [
        {"id": 1, "callFrame": {"functionName": "(root)"}},
        {"id": 2, "parent": 1, "callFrame": {"functionName": "work", "url": "a.js"}},
        {"id": 3, "parent": 99, "callFrame": {"functionName": "orphan"}},
    ]
    chunk = {"cpuProfile": {"nodes": nodes, "samples": [2, 2, 42, 2]}, "timeDeltas": [5] * 4}
    events = [
        {"ph": "M", "name": "thread_name", "pid": 7, "tid": 1, "args": {"name": "Main"}},
        event("P", "Profile", 0, id="0x1", args={"data": {"startTime": 100}}),
        event("P", "ProfileChunk", 1, id="0x1", args={"data": chunk}),
        event("X", "RunTask", 0, dur=50),
    ]
    profile = profilelab.load(json.dumps({"traceEvents": events}).encode())
    profile.check()
    assert profile.profiles["format"].unique().to_list() == ["trace-event"]
    top = profile.top(sample_index="wall")
    assert top["name"].to_list() == ["work"]  # RunTask is not read; sample 42 dropped
    assert top["flat"].to_list() == [15]  # 3 samples; the dropped one's time goes on
    assert labelled(profile, pid="7", tid="1", thread_name="Main").samples.height > 0


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ('{"traceEvents": 3}', "needs a list of events"),
        ('[{"ph": "B", "ts": "x"}, {"ph": "E"}]', "trace event 0 needs a finite, numeric 'ts'"),
        ('[{"ph": "B", "ts": 1}, {"ph": "E"}]', "trace event 1 needs a finite, numeric 'ts'"),
        ('[{"ph": "B", "ts": 1}, 3]', "must be an object with a string 'ph'"),
        ('[{"ph": "B", "ts": 1}, {"ts": 2}]', "must be an object with a string 'ph'"),
        ('{"traceEvents": [{"ph": "X", "ts": 1e999}]}', "trace event 0 needs a finite"),
        ('[{"ph": "B", "ts": 1}, {"ph": "E", "ts": ', "not valid JSON"),
    ],
)
def test_malformed_trace_events_fail_clearly(doc: str, expected: str) -> None:
    with pytest.raises(FormatError, match=r"^<bytes>: ") as info:
        profilelab.load(doc.encode())
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_deep_trace_is_iterative() -> None:
    """2,000 nested events: no recursion anywhere, one stack of 2,000 frames."""
    n = 2_000
    events = [event("B", f"f{i}", i) for i in range(n)] + [event("E", "", n + i) for i in range(n)]
    for e in events[n:]:
        del e["name"]  # unnamed ends close the innermost event
    profile = profilelab.load(json.dumps(events).encode())
    assert profile.stacks["frame_ids"].list.len().max() == n
    assert profile.samples["value"].sum() == (2 * n - 1) * 1000


@pytest.mark.parametrize(
    "name", ["prog.pstats", "prog.chrometrace.json", "prog.folded", "prog.speedscope.json"]
)
def test_python_names_are_not_simplified_as_cplusplus(name: str) -> None:
    """pprof simplifies names that look like demangled C++ (``<...>``) when they equal
    their system name; Python's ``<module>`` must survive in the text report."""
    from profilelab.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["top", str(DATA / name), "--nodecount", "50"])
    assert "<module>" in out.getvalue() and "<unknown>" not in out.getvalue()
