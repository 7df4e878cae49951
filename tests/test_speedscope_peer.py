"""speedscope's importer test suite as a peer's: for every input of a format profilelab
reads, per-function self and total equal the Jest snapshot's selfWeight/totalWeight, or
the difference is the documented choice tested here (docs/formats.md).

Inputs and snapshots are copied from jlfwong/speedscope (MIT) into tests/data/speedscope.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import polars as pl
import pytest

import profilelab
from profilelab import FormatError
from tests import speedscope_peer as sp

DATA = Path(__file__).parent / "data" / "speedscope"
SNAPS = DATA / "snapshots"


def cases(snap: str) -> list[tuple[str, str, list[sp.SnapProfile]]]:
    return [(test, file, profiles) for test, (file, profiles) in sp.load(SNAPS / snap).items()]


# --- trace events ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "file", "profiles"),
    cases("trace-event.test.ts.snap"),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_trace_events_equal_speedscope(
    test: str, file: str, profiles: list[sp.SnapProfile]
) -> None:
    profile = profilelab.load(DATA / "trace-event" / file)
    profile.check()
    for snap in profiles:
        lane = re.search(r"pid (\d+).*?tid (\d+)", snap.name)
        assert lane, snap.name
        one = sp.labelled(profile, pid=lane.group(1), tid=lane.group(2))
        # speedscope names frames "name {args}": by name, self adds up (module doc)
        want = sp.by_name(snap.frames, strip_args=True)
        # B/E/X intervals are wall/nanoseconds; the Hermes samples form is read as V8
        # CPU profiles (wall/microseconds)
        wall = one.profiles.filter(pl.col("sample_type") == "wall")["sample_unit"][0]
        got = {
            r["name"]: (r["flat"], r["cum"])
            for r in one.top(sample_index="wall").iter_rows(named=True)
        }
        scale = 1000 if wall == "nanoseconds" else 1
        assert sp.same(got, want, scale) == [], snap.name


def test_trace_events_with_args_are_one_function_per_name() -> None:
    """The documented choice the comparison above relies on: speedscope has a frame per
    (name, args); profilelab a function per name (and file, line from args)."""
    profile = profilelab.load(DATA / "trace-event" / "unbalanced-args.json")
    assert profile.frames["function"].to_list() == ["A"]
    snap = dict(sp.load(SNAPS / "trace-event.test.ts.snap"))["importTraceEvents unbalanced args"]
    assert len(snap[1][0].frames) == 2


def test_trace_samples_form_errors_are_one_line() -> None:
    doc = {"traceEvents": [], "samples": [{"ts": "1", "pid": 1, "tid": 1, "sf": 9}]}
    doc["stackFrames"] = {"1": {"name": "a"}}
    with pytest.raises(FormatError, match="unknown stack frame '9'"):
        profilelab.load(json.dumps(doc).encode())
    doc["stackFrames"] = {"9": {"name": "a", "parent": 4}}
    with pytest.raises(FormatError, match="unknown parent 4"):
        profilelab.load(json.dumps(doc).encode())


# --- folded stacks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "file", "profiles"),
    cases("bg-flamegraph.test.ts.snap"),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_folded_stacks_equal_speedscope(
    test: str, file: str, profiles: list[sp.SnapProfile]
) -> None:
    path = DATA / "stackcollapse" / file
    if file == "simple-with-invalids.txt":
        # documented choice: folded text whose first stack line is not "stack count"
        # (here "// some other comment") is not taken for folded stacks; speedscope skips
        # such lines
        with pytest.raises(FormatError, match="unrecognized format"):
            profilelab.load(path)
        return
    profile = profilelab.load(path)  # CRLF, UTF-16 LE and BE with a byte-order mark
    assert sp.same(sp.self_total(profile), sp.by_name(profiles[0].frames), 1) == []


# --- Linux perf ----------------------------------------------------------------------------


def speedscope_perf_weights(profile: profilelab.Profile) -> dict[str, dict[str, list[float]]]:
    """What speedscope's importer makes of profilelab's tables: per thread (named as it
    names them), samples of the first event weighted by the time between the midpoints
    to their neighbours (seconds), frames named by perf's symbol (``??? (binary)`` when
    unknown). {thread: {function: [self, total]}}"""
    default = profile.profiles.filter(pl.col("is_default"))["profile_id"]
    samples = profile.samples.filter(pl.col("profile_id").is_in(default.implode()))
    labels = profile.labels.group_by("label_set_id").agg(
        *(pl.col("str").filter(pl.col("key") == k).first().alias(k) for k in ("comm", "pid", "tid"))
    )
    samples = samples.join(labels, on="label_set_id", how="left").sort(
        "time_ns", maintain_order=True
    )
    frames = profile.frames.join(profile.mappings, on="mapping_id", how="left").select(
        "frame_id",
        name=pl.when(pl.col("function").is_null())
        .then(pl.concat_str(pl.lit("??? ("), pl.col("binary").fill_null("[unknown]"), pl.lit(")")))
        .otherwise("system_name"),
    )
    names = dict(frames.iter_rows())
    stacks = dict(profile.stacks.select("stack_id", "frame_ids").iter_rows())
    out: dict[str, dict[str, list[float]]] = {}
    for row_thread in samples.partition_by(["comm", "pid", "tid"], maintain_order=True):
        comm, pid, tid = (row_thread[k][0] for k in ("comm", "pid", "tid"))
        parts = [comm] + [f"{k}: {v}" for k, v in (("pid", pid), ("tid", tid)) if v and v != "0"]
        times = [t / 1e9 for t in row_thread["time_ns"]]
        weights = midpoint_weights(times)
        funcs = out.setdefault(" ".join(parts), {})
        for stack_id, w in zip(row_thread["stack_id"], weights, strict=True):
            chain = [names[f] for f in stacks[stack_id]]  # leaf first
            for n in set(chain):
                funcs.setdefault(n, [0.0, 0.0])[1] += w
            if chain:
                funcs.setdefault(chain[0], [0.0, 0.0])[0] += w
    return out


def midpoint_weights(times: list[float]) -> list[float]:
    """speedscope's StackListProfileBuilder.appendSampleWithTimestamp: a sample lasts from
    the midpoint to its predecessor to the one to its successor (1 for a lone sample)."""
    if len(times) == 1:
        return [1.0]
    mids = [times[0]] + [(a + b) / 2 for a, b in itertools.pairwise(times)]
    mids.append(times[-1])
    return [b - a for a, b in itertools.pairwise(mids)]


def perf_file(test: str) -> Path:
    name = test.removeprefix("importFromLinuxPerf ").removesuffix(" chunked")
    return DATA / "linux-perf" / name.replace("with-pids", "with-pid")


@pytest.mark.parametrize(
    ("test", "file", "profiles"),
    cases("linux-tools-perf.test.ts.snap"),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_linux_perf_equals_speedscope(test: str, file: str, profiles: list[sp.SnapProfile]) -> None:
    """profilelab's values are perf's periods; speedscope weights samples by timestamps.
    The tables keep both (values and time_ns): rebuilt from the tables with speedscope's
    rule, every thread's per-function self and total equal the snapshot."""
    profile = profilelab.load(perf_file(test))
    profile.check()
    got = speedscope_perf_weights(profile)
    for snap in profiles:
        assert snap.name in got, (snap.name, list(got))
        want = sp.by_name(snap.frames)
        mine = got[snap.name]
        for name in set(want) | set(mine):
            ws, wt = want.get(name, (0.0, 0.0))
            s, t = mine.get(name, [0.0, 0.0])
            assert math.isclose(s, ws, rel_tol=1e-9, abs_tol=1e-9), (snap.name, name)
            if wt is not None:
                assert math.isclose(t, wt, rel_tol=1e-9, abs_tol=1e-9), (snap.name, name)


def test_linux_perf_values_are_periods() -> None:
    one = profilelab.load(DATA / "linux-perf" / "one-sample.linux-perf.txt")
    assert one.samples["value"].to_list() == [1001001]
    assert one.profiles["sample_type"].to_list() == ["cpu-clock"]


# --- Chrome .cpuprofile --------------------------------------------------------------------


def test_cpuprofile_equals_speedscope_but_for_the_last_sample() -> None:
    """speedscope gives each sample the time to the next one and the last one none;
    profilelab's last sample runs to endTime (docs/formats.md). Without it, they agree."""
    path = DATA / "Chrome" / "simple.cpuprofile"
    snap = dict(sp.load(SNAPS / "chrome.test.ts.snap"))["importFromChromeCPUProfile"][1][0]
    profile = profilelab.load(path)
    assert profile.profiles.filter(pl.col("is_default"))["sample_type"].item() == "wall"
    wall = profile.profiles.filter(pl.col("sample_type") == "wall")["profile_id"].item()
    samples = profile.samples.with_row_index("_row")
    last = samples.filter(pl.col("profile_id") == wall).sort("time_ns")[-1]
    assert last["value"].item() == 1972  # endTime - the last sample's time
    trimmed = profile.replace(
        samples=samples.filter(pl.col("_row") != last["_row"].item()).drop("_row")
    )
    assert sp.same(sp.self_total(trimmed), sp.by_name(snap.frames), 1) == []
    assert sp.same(sp.self_total(profile), sp.by_name(snap.frames), 1) != []


# --- DevTools timelines: V8 CPU profiles inside trace events -------------------------------

TIMELINES = {
    "importFromChromeTimeline": "Chrome/65/simple-timeline.json",
    "importFromChromeTimeline chunked": "Chrome/65/simple-timeline.json",
    "importFromChromeTimeline Chrome 69": "Chrome/69/simple.json",
    "importFromChromeTimeline Chrome 116": "Chrome/116/Trace-20230603T221323.json",
    "importFromChromeTimeline Workers Chrome 66": "Chrome/66/worker.json",
    "importFromChromeTimeline Workers Chrome 70": "Chrome/70/worker.json",
    "importTraceEvents Chrome 141 profile with missing arg data": "Chrome/141/no-arg-data.json",
}


def timeline_path(corpus_root: Path | None, rel: str) -> Path:
    copied = DATA / "Chrome" / Path(rel).name
    if rel.endswith("no-arg-data.json"):
        return copied
    if corpus_root is None:
        pytest.skip("../shared/corpus is not present")
    return corpus_root / "jlfwong-speedscope/sample/profiles" / rel


def speedscope_cpu_self(profile: profilelab.Profile) -> list[dict[str, float]]:
    """Per embedded CPU profile, self per function weighted as speedscope weighs V8
    samples: the time to the next sample on a clock that never runs backwards, none for
    the last sample. profilelab's .cpuprofile values differ in exactly these two places
    (its last sample runs to endTime; after a negative timeDelta the next gap is measured
    from the earlier time): docs/formats.md."""
    leaf = profile.stacks.select("stack_id", frame_id=pl.col("frame_ids").list.first()).join(
        profile.frames.select("frame_id", "function"), on="frame_id", how="left"
    )
    out = []
    for pid in profile.profiles.filter(pl.col("sample_type") == "wall")["profile_id"]:
        samples = (
            profile.samples.filter(pl.col("profile_id") == pid)
            .sort("sample_index")
            .with_columns(clock=pl.col("time_ns").cum_max())
            .with_columns(w=(pl.col("clock").shift(-1) - pl.col("clock")).fill_null(0) / 1000)
            .join(leaf, on="stack_id", how="left")
        )
        totals = samples.group_by("function").agg(pl.col("w").sum())
        out.append({str(f): float(w) for f, w in totals.iter_rows() if f is not None})
    return out


@pytest.mark.parametrize("test", list(TIMELINES))
def test_devtools_timelines_equal_speedscope_for_named_functions(
    request: pytest.FixtureRequest, test: str
) -> None:
    """The CPU profiles of DevTools recordings: weighted as speedscope weighs them
    (speedscope_cpu_self), every named function's self equals speedscope's. Documented
    differences: speedscope drops (idle) and (root), stacks (program) and (garbage
    collector) on the previous sample's stack (so totals above them differ), and names
    anonymous functions "(anonymous file:line)"."""
    rel = TIMELINES[test]
    root = None
    if not rel.endswith("no-arg-data.json"):
        root = request.getfixturevalue("corpus")
    profile = profilelab.load(timeline_path(root, rel))
    profile.check()
    assert profile.profiles["format"].unique().to_list() == ["trace-event"]
    # speedscope also lists a profile whose chunks held no nodes; profilelab has none
    snaps = [s for s in dict(sp.load(SNAPS / "chrome.test.ts.snap"))[test][1] if s.frames]
    parts = speedscope_cpu_self(profile)
    assert len(parts) == len(snaps)
    for got, snap in zip(parts, snaps, strict=True):
        want = sp.by_name(snap.frames)
        named = {n for n in set(got) | set(want) if not n.startswith("(")}
        assert named
        for name in named:
            assert got.get(name, 0) == want.get(name, (0, 0))[0], (snap.name, name)
        if " - " in snap.name:  # several threads: the thread name is a label
            thread = snap.name.split(" - ", 1)[1]
            assert sp.labelled(profile, thread_name=thread).samples.height > 0
