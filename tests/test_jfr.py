"""The JFR reader against real recordings: Pyroscope's converter, the JDK, speedscope.

* Pyroscope's conformance set (``../shared/corpus``, AGPL, read in place): every pprof file
  its JFR converter produced from the 11 async-profiler recordings, one per (sample type,
  label set), has exactly profilelab's ``top`` of the recording restricted to that type and
  label set. The label set is named by the hash in the file name (Prometheus' labels hash
  of the sample labels); the empty set's file holds every sample of the type. One
  documented difference: Pyroscope stores monitor and park durations in ticks under the
  unit nanoseconds, profilelab converts ticks to nanoseconds (equal when the recording
  counts 10^9 ticks per second).
* A recording made here by the JDK (``java -XX:StartFlightRecording``) loads with thread
  and state labels and per-sample timestamps inside the recording.
* The JDK's own reading (``jfr print --json``, tests/data/jfr/jdk-print) of the project's
  Java service recordings (datasets/java-service, no corpus needed): every sample type has
  the JDK's stacks (classes, methods, lines) with the JDK's counts and weights, per thread,
  at the JDK's times.
* speedscope's ``heavy.jfr``: per-function self and total sample counts equal speedscope's
  Jest snapshot once names are spelled its way (``java.util.Arrays:sort`` for profilelab's
  and Pyroscope's ``java/util/Arrays.sort``).
"""

from __future__ import annotations

import collections
import datetime
import functools
import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab.errors import FormatError
from profilelab.model import builder
from profilelab.model.profile import Profile
from profilelab.readers import _jfr_events, jfr
from profilelab.readers import _jfr_format as fmt
from profilelab.readers._input import open_input

DATA = Path(__file__).parent / "data" / "jfr"
HEAVY = DATA / "heavy.jfr"
PYROSCOPE = "grafana-pyroscope/pkg/og/convert/jfr/testdata"


def select(profile: Profile, sample_type: str, period_type: str | None = None) -> Profile:
    """The input (all its sample types) that holds ``sample_type`` (and period type)."""
    rows = profile.profiles.filter(pl.col("sample_type") == sample_type)
    if period_type is not None:
        rows = rows.filter(pl.col("period_type") == period_type)
    assert rows.height, f"no {sample_type}/{period_type} profile"
    sources = rows["source_id"].unique().implode()
    return profile.subset(profile.profiles.filter(pl.col("source_id").is_in(sources))["profile_id"])


# --- Pyroscope's converter ------------------------------------------------------------------


def _xxh64(data: bytes) -> int:
    xxhash = pytest.importorskip("xxhash")
    return int(xxhash.xxh64(data).intdigest())


def prometheus_hash(pairs: list[tuple[str, str]]) -> int:
    """Prometheus' labels hash (xxhash64 of name 0xff value 0xff, sorted by name)."""
    return _xxh64(b"".join(k.encode() + b"\xff" + v.encode() + b"\xff" for k, v in sorted(pairs)))


def restrict(profile: Profile, label_hash: int) -> Profile:
    """Samples whose context labels (all but thread.*) hash to ``label_hash``."""
    if label_hash == prometheus_hash([]):
        return profile
    labels = profile.labels.filter(~pl.col("key").str.starts_with("thread."))
    keep = [
        set_id
        for (set_id,), rows in labels.group_by(["label_set_id"])
        if prometheus_hash(list(zip(rows["key"], rows["str"], strict=True))) == label_hash
    ]
    return profile.replace(samples=profile.samples.filter(pl.col("label_set_id").is_in(keep)))


_PPROF_NAME = re.compile(r"\.jfr\.gz\.(?P<type>\w+)\.(?P<hash>\d+)\.pb\.gz$")


def _recording_cases(corpus: Path, pattern: str) -> list[tuple[Path, list[Path]]]:
    folder = corpus / PYROSCOPE
    if not folder.is_dir():
        pytest.skip("Pyroscope's JFR conformance set is not in the corpus")
    return [
        (rec, sorted(folder.glob(rec.name + ".*.pb.gz")))
        for rec in sorted(folder.glob(pattern + ".jfr.gz"))
    ]


def _check_recording(recording: Path, converted: list[Path]) -> int:
    labels = recording.with_name(recording.name.replace(".jfr.gz", ".labels.pb.gz"))
    snapshot = gzip.decompress(labels.read_bytes()) if labels.exists() else None
    raws = jfr.read_recording(open_input(recording), snapshot)
    loaded = builder.build(raws)
    loaded.check()
    for path in converted:
        m = _PPROF_NAME.search(path.name)
        assert m, path
        want = profilelab.load(path)
        sample_type = want.profiles["sample_type"][0]
        ours = restrict(
            select(loaded, sample_type, want.profiles["period_type"][0]), int(m["hash"])
        )
        got, expected = ours.top(sample_index=sample_type), want.top()
        if sample_type == "delay":  # Pyroscope keeps ticks; profilelab converts them
            ticks = _ticks_per_second(recording)
            got = got.with_columns(
                (pl.col(c) * ticks / 1e9).round().cast(pl.Int64) for c in ("flat", "cum")
            )
            assert got["name"].to_list() == expected["name"].to_list()
            tolerance = ours.samples.height  # one rounding per sample at most
            assert np.abs(got["flat"].to_numpy() - expected["flat"].to_numpy()).max() <= tolerance
            continue
        assert got.equals(expected), f"{path.name}\n{got}\n{expected}"
    return len(converted)


def _ticks_per_second(recording: Path) -> int:
    data = gzip.decompress(recording.read_bytes())
    return fmt.chunks(data, "x")[0].ticks_per_second


def test_pyroscope_labelled_recordings_have_pyroscopes_top(corpus: Path) -> None:
    """dump1/dump2: CPU, wall, TLAB and live objects, per Pyroscope context label set."""
    cases = _recording_cases(corpus, "dump*")
    assert len(cases) == 2
    assert sum(_check_recording(rec, pprofs) for rec, pprofs in cases) == 26


@pytest.mark.slow
def test_every_pyroscope_recording_has_pyroscopes_top(corpus: Path) -> None:
    cases = _recording_cases(corpus, "*")
    assert len(cases) == 11
    assert sum(_check_recording(rec, pprofs) for rec, pprofs in cases) == 51


def test_pyroscope_monitor_delays_are_nanoseconds(corpus: Path) -> None:
    """The documented difference: delays are converted from ticks (2.8 GHz here)."""
    [(rec, _)] = _recording_cases(corpus, "cortex-dev-01__kafka-0__cpu_lock0_alloc0__0")
    loaded = profilelab.load(rec)
    mutex = select(loaded, "delay", "mutex")
    ticks = _ticks_per_second(rec)
    assert ticks != 10**9
    want = profilelab.load(
        rec.with_name(rec.name + ".mutex_delay_nanoseconds_mutex_count.17241709254077376921.pb.gz")
    )
    ours = int(
        mutex.samples.join(
            mutex.profiles.filter(pl.col("sample_type") == "delay").select("profile_id"),
            on="profile_id",
        )["value"].sum()
    )
    assert abs(ours * ticks / 1e9 - int(want.samples["value"].sum())) <= mutex.samples.height


# --- a recording made by the JDK ----------------------------------------------------------

_PROGRAM = """
public class Spin {
    static double work(int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.sqrt(i);
        return s;
    }
    public static void main(String[] a) throws Exception {
        Thread t = new Thread(() -> { double s = 0; long end = System.nanoTime() + 1_500_000_000L;
            while (System.nanoTime() < end) s += work(100000); System.out.println(s); }, "spinner");
        t.start(); t.join();
    }
}
"""


@pytest.fixture(scope="session")
def jdk_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java (Debian openjdk-17-jdk-headless)")
    folder = tmp_path_factory.mktemp("jdk")
    (folder / "Spin.java").write_text(_PROGRAM)
    out = folder / "spin.jfr"
    subprocess.run(
        [java, f"-XX:StartFlightRecording=filename={out},settings=profile", "Spin.java"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def test_jdk_recording_loads_with_threads_states_and_times(jdk_recording: Path) -> None:
    profile = profilelab.load(jdk_recording)
    profile.check()
    cpu = select(profile, "cpu")
    labels = cpu.labels.filter(pl.col("label_set_id").is_in(cpu.samples["label_set_id"].implode()))
    assert "spinner" in labels.filter(pl.col("key") == "thread.name")["str"].to_list()
    assert set(labels.filter(pl.col("key") == "thread.state")["str"]) == {"STATE_RUNNABLE"}
    assert labels.filter(pl.col("key") == "thread.id")["str"].str.contains(r"^\d+$").all()
    times = cpu.samples["time_ns"]
    assert times.null_count() == 0
    start = int(cpu.profiles["time_ns"][0])
    assert start <= times.min() and times.max() - start < 120 * 10**9
    assert cpu.profiles["period"][0] == 10_000_000  # settings=profile samples every 10 ms
    top = cpu.top().filter(pl.col("name").str.starts_with("Spin."))
    assert top["name"].to_list()[0] in ("Spin.work", "Spin.lambda$main$0")


def test_native_scan_equals_reference_on_jdk_recording(jdk_recording: Path) -> None:
    _assert_scans_equal(jdk_recording.read_bytes())


# --- the JDK's own reading of the project's recordings -------------------------------------

JAVA_SERVICE = Path(__file__).parent.parent / "datasets" / "java-service"
JDK_PRINT = DATA / "jdk-print"
WINDOWS = sorted(p.name.split(".")[0] for p in JDK_PRINT.glob("window-*.jfr-print.json.gz"))
#: sample type -> (JDK event, the event's weight for it: None counts samples)
JDK_EVENTS: dict[str, tuple[str, str | None]] = {
    "cpu": ("jdk.ExecutionSample", None),
    "alloc_sample_objects": ("jdk.ObjectAllocationSample", None),
    "alloc_sample_bytes": ("jdk.ObjectAllocationSample", "weight"),
    "live": ("jdk.OldObjectSample", None),
}


@functools.cache
def jdk_events(window: str) -> list[dict[str, Any]]:
    """The JDK's ``jfr print --json`` of the recording's sample events (whole stacks)."""
    path = JDK_PRINT / f"{window}.jfr-print.json.gz"
    events: list[dict[str, Any]] = json.loads(gzip.decompress(path.read_bytes()))["recording"][
        "events"
    ]
    return events


@functools.cache
def jdk_loaded(window: str) -> Profile:
    profile = profilelab.load(JAVA_SERVICE / f"{window}.jfr")
    profile.check()
    return profile


def _jdk_stack(event: dict[str, Any]) -> str:
    """Root-first ``pkg/Class.method:line`` frames; the JDK's line -1 (native, unknown) is
    pprof's 0 (no line)."""
    frames = event["values"]["stackTrace"]["frames"]
    return ";".join(
        f"{f['method']['type']['name']}.{f['method']['name']}:{max(f['lineNumber'], 0)}"
        for f in reversed(frames)
    )


def _jdk_thread(event: dict[str, Any]) -> str:
    values = event["values"]
    return str((values.get("sampledThread") or values.get("eventThread"))["javaName"])


def _jdk_time_ns(event: dict[str, Any]) -> int:
    stamp = str(event["values"]["startTime"])  # 2026-12-07T01:53:53.814261348Z
    whole, _, frac = stamp.rstrip("Z").partition(".")
    seconds = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.UTC).timestamp()
    return int(seconds) * 10**9 + int(frac.ljust(9, "0"))


def _our_stacks(profile: Profile, sample_type: str) -> pl.DataFrame:
    """One row per sample of ``sample_type``: root-first stack text, thread, value, time."""
    one = select(profile, sample_type)
    ids = one.profiles.filter(pl.col("sample_type") == sample_type)["profile_id"].implode()
    frame = pl.col("system_name") + ":" + pl.col("line").cast(pl.Utf8)
    names = one.frames.select("frame_id", frame.alias("frame"))
    stacks = (
        one.stacks.select("stack_id", pl.col("frame_ids").list.reverse())
        .with_row_index("row")
        .explode("frame_ids")
        .join(names, left_on="frame_ids", right_on="frame_id", how="left", maintain_order="left")
        .group_by("stack_id", maintain_order=True)
        .agg(pl.col("frame").str.join(";").alias("stack"))
    )
    threads = one.labels.filter(pl.col("key") == "thread.name").select(
        "label_set_id", pl.col("str").alias("thread")
    )
    return (
        one.samples.filter(pl.col("profile_id").is_in(ids))
        .join(stacks, on="stack_id", how="left")
        .join(threads, on="label_set_id", how="left")
        .select("stack", "thread", "value", "time_ns")
    )


@pytest.mark.parametrize("sample_type", list(JDK_EVENTS))
@pytest.mark.parametrize("window", WINDOWS)
def test_jdk_recording_samples_equal_jfr_print(window: str, sample_type: str) -> None:
    """Per (thread, stack): the JDK's count or weight (cpu: count x the period)."""
    event, weight = JDK_EVENTS[sample_type]
    want: collections.Counter[tuple[str, str]] = collections.Counter()
    for e in jdk_events(window):
        if e["type"] == event:
            values = e["values"]
            want[(_jdk_thread(e), _jdk_stack(e))] += int(values[weight]) if weight else 1
    profile = jdk_loaded(window)
    if not want:  # no such events (window-05 has no old objects): no such sample type
        assert sample_type not in profile.profiles["sample_type"].to_list()
        return
    scale = int(select(profile, sample_type).profiles["period"][0]) if sample_type == "cpu" else 1
    ours = _our_stacks(profile, sample_type)
    got = collections.Counter[tuple[str, str]]()
    by_stack = ours.group_by("thread", "stack").agg(pl.col("value").sum())
    for thread, stack, value in by_stack.iter_rows():
        assert value % scale == 0
        got[(thread, stack)] += value // scale
    assert got == want


@pytest.mark.parametrize("window", WINDOWS)
def test_jdk_recording_sample_times_equal_jfr_print(window: str) -> None:
    """Every execution and allocation sample at the JDK's time, to the nanosecond."""
    profile = jdk_loaded(window)
    for sample_type in ("cpu", "alloc_sample_objects"):
        event = JDK_EVENTS[sample_type][0]
        want = sorted(_jdk_time_ns(e) for e in jdk_events(window) if e["type"] == event)
        assert _our_stacks(profile, sample_type)["time_ns"].sort().to_list() == want


# --- speedscope -------------------------------------------------------------------------------


def _speedscope_frames(corpus: Path) -> dict[str, tuple[int, int]]:
    snap = corpus / "jlfwong-speedscope/src/import/__snapshots__/java-flight-recorder.test.ts.snap"
    if not snap.exists():
        pytest.skip("speedscope snapshots are not in the corpus")
    first = snap.read_text().split("exports[`importFromJfr 2`]")[0]
    frames = re.findall(r'"name": "([^"]*)",\s*"selfWeight": (\d+),\s*"totalWeight": (\d+)', first)
    return {name: (int(s), int(t)) for name, s, t in frames}


def test_heavy_jfr_equals_speedscope_per_function(corpus: Path) -> None:
    want = _speedscope_frames(corpus)
    cpu = select(profilelab.load(HEAVY), "cpu")
    period = int(cpu.profiles["period"][0])
    top = cpu.top()
    # speedscope: dotted class names, ':' before the method; weights are sample counts
    spelled = top["name"].str.replace_all("/", ".").str.replace(r"\.([^.]*)$", ":$1")
    got = {
        name: (flat // period, cum // period)
        for name, flat, cum in zip(spelled, top["flat"], top["cum"], strict=True)
    }
    assert got == want


# --- bad input ----------------------------------------------------------------------------------


def _load_error(data: bytes) -> str:
    with pytest.raises(FormatError) as err:
        profilelab.load(data, name="bad.jfr")
    text = str(err.value)
    assert text.startswith("bad.jfr: ") and "\n" not in text
    return text


def test_truncated_recordings_fail_with_one_line() -> None:
    data = HEAVY.read_bytes()
    assert "truncated" in _load_error(data[:40])
    for cut in (100, 5000, len(data) // 2, len(data) - 1):
        assert "declares 355345 bytes" in _load_error(data[:cut])


def test_garbage_and_huge_sizes_fail_with_one_line() -> None:
    data = bytearray(HEAVY.read_bytes())
    assert "unrecognized format" not in _load_error(b"FLR\x00" + bytes(200))
    huge = bytearray(data)
    huge[8:16] = (1 << 62).to_bytes(8, "big")  # chunk size
    assert "declares" in _load_error(bytes(huge))
    meta = bytearray(data)
    meta[24:32] = (len(data) * 4).to_bytes(8, "big")  # metadata offset
    assert "metadata offset" in _load_error(bytes(meta))
    events = bytearray(data)
    events[68:73] = b"\xff\xff\xff\xff\x0f"  # the first event claims 4 GiB
    assert "event size" in _load_error(bytes(events))


def test_unknown_constant_reference_fails_with_one_line() -> None:
    data = bytearray(HEAVY.read_bytes())
    pos, size, defined = _first_sample_stack_field(bytes(data))
    assert size == 1
    key = min(set(range(1, 128)) - defined)  # a one-byte key that no pool defines
    data[pos] = key
    assert f"refers to java.lang.Thread {key}, which no constant pool" in _load_error(bytes(data))


def _first_sample_stack_field(data: bytes) -> tuple[int, int, set[int]]:
    """Offset and size of the thread key of the first jdk.ExecutionSample; defined keys."""
    chunk = fmt.chunks(data, "x")[0]
    meta = fmt.read_metadata(data, chunk, "x")
    sample = meta.by_name["jdk.ExecutionSample"]
    scan = fmt.scan_reference(data, chunk, fmt.compile_programs(meta, jfr.WANTED))
    rows = scan.records[(scan.records[:, 0] == 0) & (scan.records[:, 1] == sample.id)]
    for offset in rows[:, 2]:
        cur = fmt.Cursor(data, int(offset), chunk.end)
        for _ in range(3):  # size, type, startTime
            cur.varint()
        start = cur.pos
        cur.varint()
        threads = scan.records[scan.records[:, 1] == meta.by_name["java.lang.Thread"].id]
        return start, cur.pos - start, set(threads[:, 2].tolist())
    raise AssertionError("no execution sample")


# --- the compiled scanner against its reference -----------------------------------------------


def _scan_outcome(scanner, data: bytes):  # type: ignore[no-untyped-def]
    try:
        out = []
        for chunk in fmt.chunks(data, "x"):
            meta = fmt.read_metadata(data, chunk, "x")
            scan = scanner(data, chunk, fmt.compile_programs(meta, jfr.WANTED))
            strings = scan.strings if isinstance(scan.strings, list) else scan.strings.to_pylist()
            out.append((scan.records.tolist(), scan.items.tolist(), strings))
        return out
    except fmt.ScanError as exc:
        return str(exc)
    except FormatError as exc:
        return f"format: {exc}"


def _assert_scans_equal(data: bytes) -> None:
    from profilelab.readers import _jfr_native

    assert _jfr_native.available(), "setup.py build_ext did not build profilelab._native._jfr"
    assert _scan_outcome(_jfr_native.scan, data) == _scan_outcome(fmt.scan_reference, data)


def test_native_scan_equals_reference_on_heavy_jfr() -> None:
    _assert_scans_equal(HEAVY.read_bytes())


_HEAVY_EVENTS_END = int.from_bytes(HEAVY.read_bytes()[24:32], "big")  # the metadata offset


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(68, _HEAVY_EVENTS_END - 1), st.integers(0, 255)),
        min_size=1,
        max_size=4,
    )
)
def test_native_scan_equals_reference_on_damaged_bytes(changes: list[tuple[int, int]]) -> None:
    """Byte changes in the events and pools: the same records, or the same error and offset."""
    damaged = bytearray(HEAVY.read_bytes())
    for pos, byte in changes:
        damaged[pos] = byte
    _assert_scans_equal(bytes(damaged))


def test_string_constants_that_refer_to_themselves_resolve_to_null() -> None:
    """A java.lang.String constant whose value is a reference to itself (a cycle) is null."""
    meta = fmt.Metadata(
        {20: fmt.ClassDef(20, "java.lang.String")}, {"java.lang.String": fmt.ClassDef(20, "")}
    )
    meta.by_name = {c.name: c for c in meta.classes.values()}
    records = np.zeros((2, fmt.RECORD_WIDTH), dtype=np.int64)
    records[:, :3] = [[fmt.KIND_CONSTANT, 20, 5], [fmt.KIND_CONSTANT, 20, 6]]
    records[0, 3] = -5 - 2  # key 5 refers to key 5
    records[1, 3] = 1  # key 6 is the string "x"
    scan = fmt.Scan(records, np.zeros((0, fmt.ITEM_SLOTS), dtype=np.int64), ["", "x"])
    pools = _jfr_events._Pools(scan, meta, "cyc.jfr", "chunk")
    refs = np.array([-5 - 2, -6 - 2, 1, -1], dtype=np.int64)
    assert pools.take_text(pools.text(refs, "a name")).to_pylist() == [None, "x", "x", None]
    with pytest.raises(FormatError, match=r"refers to java\.lang\.String 7, which no constant"):
        pools.text(np.array([-7 - 2]), "a name")


def test_damaged_recordings_load_or_fail_cleanly() -> None:
    data = HEAVY.read_bytes()
    rng = np.random.default_rng(11)
    for _ in range(25):
        damaged = bytearray(data)
        for pos in rng.integers(68, len(data), size=4):
            damaged[int(pos)] = int(rng.integers(0, 256))
        try:
            profilelab.load(bytes(damaged), name="bad.jfr").check()
        except FormatError as exc:
            assert str(exc).startswith("bad.jfr: ")


def test_sniffed_by_magic_not_name(tmp_path: Path) -> None:
    path = tmp_path / "recording.bin"
    path.write_bytes(gzip.compress(HEAVY.read_bytes()))
    assert profilelab.load(path).profiles["format"].unique().to_list() == ["jfr"]


def test_several_chunks_load_as_one_recording() -> None:
    """Chunks are independent (their own metadata and pools): two copies, twice the samples."""
    one = profilelab.load(HEAVY)
    two = profilelab.load(HEAVY.read_bytes() * 2, name="two.jfr")
    two.check()
    assert two.samples.height == 2 * one.samples.height
    assert two.stacks.height == one.stacks.height  # equal stacks of both chunks are one stack
    assert select(two, "cpu").top()["name"].to_list() == select(one, "cpu").top()["name"].to_list()


def test_async_profiler_span_ids_become_the_span_column() -> None:
    labels = jfr._combo_labels(
        {"thread.name": "main", "thread.id": 7, "thread.state": None, "context": 3, "span": -2},
        {3: [("endpoint", "/checkout")]},
    )
    assert labels == [
        ("thread.name", "main"),
        ("thread.id", "7"),
        ("endpoint", "/checkout"),
        ("span_id", "fffffffffffffffe"),
    ]


def test_pprof_reports_pick_one_kind_of_event() -> None:
    """A recording with CPU and allocation samples: top reports the CPU samples by default,
    the allocations when asked by name, as pprof does for a profile's sample types."""
    rec = profilelab.load(HEAVY)
    assert rec.top().equals(select(rec, "cpu").top())
    alloc = rec.top(sample_index="alloc_sample_bytes")
    assert alloc.equals(select(rec, "alloc_sample_bytes").top(sample_index="alloc_sample_bytes"))
    assert alloc["flat"].sum() == 878273840
    with pytest.raises(
        profilelab.errors.QueryError, match="one of: 0=cpu, 1=alloc_sample_objects, "
    ):
        rec.top(sample_index="nope")


def test_inputs_of_different_types_still_do_not_merge(corpus: Path) -> None:
    """Two files are two inputs: pprof refuses to merge different sample types, so do we."""
    folder = corpus / PYROSCOPE
    cpu = (
        folder
        / "dump1.jfr.gz.process_cpu_cpu_nanoseconds_cpu_nanoseconds.17241709254077376921.pb.gz"
    )
    live = folder / "dump2.jfr.gz.memory_live_count_objects_count.17241709254077376921.pb.gz"
    with pytest.raises(profilelab.errors.QueryError, match="incompatible sample types"):
        profilelab.load([cpu, live]).top()
