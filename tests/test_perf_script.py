"""perf script text: the folded stacks written from it equal stackcollapse-perf.pl's.

The 13 inputs and the script's outputs (test/results/<name>-collapsed-<opt>.txt) are
brendangregg/FlameGraph's test suite (CDDL): read from ../shared/corpus, never copied.
Without it, the same checks run on the project's own recordings (tests/data/perf-script),
against perf's own folding of them.
"""

from __future__ import annotations

import collections
import functools
import gzip
import io
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import profilelab
from profilelab import FormatError
from profilelab.cli import main
from profilelab.writers.folded import write
from tests.speedscope_peer import labelled

FLAMEGRAPH = "brendangregg-FlameGraph/test"
NAMES = [
    "perf-cycles-instructions-01",
    "perf-dd-stacks-01",
    "perf-funcab-cmd-01",
    "perf-funcab-pid-01",
    "perf-iperf-stacks-pidtid-01",
    "perf-java-faults-01",
    "perf-java-stacks-01",
    "perf-java-stacks-02",
    "perf-js-stacks-01",
    "perf-mirageos-stacks-01",
    "perf-numa-stacks-01",
    "perf-rust-Yamakaky-dcpu",
    "perf-vertx-stacks-01",
]
#: stackcollapse-perf.pl option -> the folded writer's options (the script always roots
#: stacks at the command name and names unsymbolized frames by their binary)
OPTIONS: dict[str, dict[str, object]] = {
    "pid": {"root": "pid"},
    "tid": {"root": "tid"},
    "kernel": {"annotate": {"kernel"}},
    "jit": {"annotate": {"jit"}},
    "all": {"annotate": {"kernel", "jit"}},
    "addrs": {"unknown": "binary-address"},
}


@functools.cache
def load(path: Path) -> profilelab.Profile:
    return profilelab.load(path)


def folded(text: str) -> collections.Counter[str]:
    out: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        if line:
            stack, count = line.rsplit(" ", 1)
            out[stack] += int(count)
    return out


def written(profile: profilelab.Profile, opt: str) -> collections.Counter[str]:
    kw = {"root": "comm", "unknown": "binary", **OPTIONS[opt]}
    out = io.BytesIO()
    write(profile, out, **kw)  # type: ignore[arg-type]
    return folded(out.getvalue().decode())


def unterminated_record(text: str) -> str | None:
    """The last record when the file ends without the empty line that ends a record
    (stackcollapse-perf.pl drops it; profilelab keeps it)."""
    if text.endswith("\n\n"):
        return None
    return text.rstrip("\n").rsplit("\n\n", 1)[-1] + "\n"


def strip_java_l(stacks: collections.Counter[str]) -> collections.Counter[str]:
    """What the current script makes of java-PID stacks: ``Lpkg/Class`` loses its ``L``
    (the result files for --pid/--tid were made when only a process named exactly
    ``java`` was tidied)."""
    out: collections.Counter[str] = collections.Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        if frames[0].startswith("java"):
            frames = [frames[0]] + [
                f[1:] if f.startswith("L") and "/" in f else f for f in frames[1:]
            ]
        out[";".join(frames)] += n
    return out


@pytest.mark.parametrize("opt", list(OPTIONS))
@pytest.mark.parametrize("name", NAMES)
def test_folded_equals_stackcollapse_perf(corpus: Path, name: str, opt: str) -> None:
    path = corpus / FLAMEGRAPH / f"{name}.txt"
    profile = load(path)
    profile.check()
    want = folded((corpus / FLAMEGRAPH / "results" / f"{name}-collapsed-{opt}.txt").read_text())
    if opt in ("pid", "tid"):
        want = strip_java_l(want)
    text = path.read_text()
    last = unterminated_record(text)
    if last is not None:  # documented difference: the last record is kept
        want += written(profilelab.load(last.encode()), opt)
    assert written(profile, opt) == want


def test_documented_differences_are_real(corpus: Path) -> None:
    """Both differences above occur in the suite (so the allowances are not vacuous)."""
    texts = {n: (corpus / FLAMEGRAPH / f"{n}.txt").read_text() for n in NAMES}
    assert sum(unterminated_record(t) is not None for t in texts.values()) == 6
    pid = folded(
        (corpus / FLAMEGRAPH / "results" / "perf-vertx-stacks-01-collapsed-pid.txt").read_text()
    )
    assert strip_java_l(pid) != pid


def test_events_labels_and_times(corpus: Path) -> None:
    """Two events in one file are two sample types; pid/tid/comm/cpu are labels."""
    two = profilelab.load(corpus / FLAMEGRAPH / "perf-cycles-instructions-01.txt")
    assert two.profiles["sample_type"].to_list() == ["instructions", "cycles"]
    assert two.profiles.filter(pl.col("is_default"))["sample_type"].to_list() == ["instructions"]
    assert labelled(two, comm="noploop", tid="21796", cpu="1").samples.height > 0
    first = two.samples.sort("time_ns")["time_ns"][0]
    assert first == 1410597_984841000
    iperf = profilelab.load(corpus / FLAMEGRAPH / "perf-iperf-stacks-pidtid-01.txt")
    assert labelled(iperf, pid="27409", tid="28744", comm="iperf").samples.height > 0
    dd = profilelab.load(corpus / FLAMEGRAPH / "perf-dd-stacks-01.txt")
    assert dd.profiles["sample_unit"].to_list() == ["nanoseconds"]  # cpu-clock periods
    assert dd.samples["value"].sum() % 10101010 == 0


def test_kernel_and_jit_frames_keep_their_binary(corpus: Path) -> None:
    java = profilelab.load(corpus / FLAMEGRAPH / "perf-java-stacks-01.txt")
    frames = java.frames.join(java.mappings, on="mapping_id", how="left")
    kernel = frames.filter(pl.col("binary") == "[kernel.kallsyms]")
    assert kernel.height and (kernel["address"] > 0xFFFF_FFFF_0000_0000).all()
    jit = frames.filter(pl.col("binary").str.contains(r"^/tmp/perf-\d+\.map$"))
    assert jit.height and jit["function"].null_count() < jit.height
    # symbols as perf printed them stay the system name; names are tidied
    tidied = frames.filter(pl.col("function") != pl.col("system_name"))
    assert tidied.height and tidied["system_name"].str.contains(r"[(;']").all()


# --- the project's own recordings against perf's own folding (no corpus needed) ------------

#: ``perf script`` text of the project's Go and Node.js programs, and what perf's own
#: stackcollapse.py script folds from the same recordings (it reads perf.data, not the text
#: profilelab reads): tests/data/perf-script, made by tests/data/make/make_evidence.py.
OWN = Path(__file__).parent / "data" / "perf-script"
OWN_NAMES = ["goprofiles", "node-work"]
#: stackcollapse.py option (--include-pid, --include-pid --include-tid, --kernel) -> the
#: folded writer's options
PERF_OPTIONS: dict[str, dict[str, object]] = {
    "comm": {"root": "comm"},
    "pid": {"root": "pid"},
    "tid": {"root": "tid"},
    "kernel": {"root": "comm", "annotate": {"kernel"}},
}


def own(name: str) -> profilelab.Profile:
    return load(OWN / f"{name}.perf.gz")


def perf_folded(name: str, option: str) -> collections.Counter[str]:
    path = OWN / f"{name}.stackcollapse-{option}.txt.gz"
    return folded(gzip.decompress(path.read_bytes()).decode())


def stacks_as_perf_folds(profile: profilelab.Profile, option: str) -> collections.Counter[str]:
    """The loaded stacks folded the way perf's script folds: a root frame from the comm, pid
    and tid labels, frames named as perf printed them (the system name; ``[unknown]``
    without a symbol), ``_[k]`` on frames of ``[kernel.kallsyms]``, one count per sample."""
    name = (
        pl.when(pl.col("system_name").fill_null("") == "")
        .then(pl.lit("[unknown]"))
        .otherwise(pl.col("system_name"))
        .str.replace_all(";", ":", literal=True)
    )
    if option == "kernel":
        name = pl.when(pl.col("binary") == "[kernel.kallsyms]").then(name + "_[k]").otherwise(name)
    frames = profile.frames.join(profile.mappings, on="mapping_id", how="left")
    names = dict(frames.select("frame_id", name).iter_rows())
    stacks = dict(profile.stacks.select("stack_id", "frame_ids").iter_rows())
    labels = profile.labels.pivot("key", index="label_set_id", values="str")
    counts = (
        profile.samples.group_by("stack_id", "label_set_id").len().join(labels, on="label_set_id")
    )
    out: collections.Counter[str] = collections.Counter()
    for row in counts.iter_rows(named=True):
        root = row["comm"].replace(" ", "_")
        if option in ("pid", "tid"):
            root += f"-{row['pid']}"
        if option == "tid":
            root += f"/{row['tid']}"
        leaf_first = [names[f] for f in stacks[row["stack_id"]]]
        out[";".join([root, *reversed(leaf_first)])] += row["len"]
    return out


def as_writer_names(
    stacks: collections.Counter[str], profile: profilelab.Profile, option: str
) -> collections.Counter[str]:
    """perf's folded stacks with its names as the folded writer writes them: each symbol
    tidied as profilelab tidies it (system name -> function, the naming rule of
    tests/test_ops_demangle_names.py) and, with ``kernel``, ``_[k]`` also on ``[vdso]``
    frames (the writer marks every ``[...]`` binary, as stackcollapse-perf.pl does; perf's
    own script only ``[kernel.kallsyms]``)."""
    frames = profile.frames.join(profile.mappings, on="mapping_id", how="left")
    named = frames.filter(pl.col("function").is_not_null())
    rename = dict(named.select("system_name", "function").unique().iter_rows())
    vdso = set(frames.filter(pl.col("binary") == "[vdso]")["system_name"].to_list())
    out: collections.Counter[str] = collections.Counter()
    for stack, n in stacks.items():
        root, *names = stack.split(";")
        for i, frame in enumerate(names):
            symbol = frame.removesuffix("_[k]")
            mark = "_[k]" if symbol != frame or (option == "kernel" and symbol in vdso) else ""
            names[i] = rename.get(symbol, symbol) + mark
        out[";".join([root, *names])] += n
    return out


@pytest.mark.parametrize("option", list(PERF_OPTIONS))
@pytest.mark.parametrize("name", OWN_NAMES)
def test_stacks_equal_perfs_own_folding(name: str, option: str) -> None:
    profile = own(name)
    profile.check()
    want = perf_folded(name, option)
    assert sum(want.values()) == profile.samples.height > 50
    assert stacks_as_perf_folds(profile, option) == want


@pytest.mark.parametrize("option", list(PERF_OPTIONS))
@pytest.mark.parametrize("name", OWN_NAMES)
def test_folded_writer_equals_perfs_own_folding(name: str, option: str) -> None:
    profile = own(name)
    [period] = profile.samples["value"].unique().to_list()  # cpu-clock: one period
    out = io.BytesIO()
    write(profile, out, unknown="binary", **PERF_OPTIONS[option])  # type: ignore[arg-type]
    got = folded(out.getvalue().decode())
    assert all(n % period == 0 for n in got.values())
    assert {s: n // period for s, n in got.items()} == as_writer_names(
        perf_folded(name, option), profile, option
    )


def test_own_recordings_events_labels_and_times() -> None:
    """Current perf prints event modifiers (``cpu-clock:ppp``): still a time, in ns."""
    for name, hz in (("goprofiles", 999), ("node-work", 199)):
        profile = own(name)
        text = gzip.decompress((OWN / f"{name}.perf.gz").read_bytes()).decode()
        header = re.compile(r"^(\S+) +(\d+)/(\d+) +\[(\d+)\] +(\d+)\.(\d+): +(\d+) (\S+):", re.M)
        first = header.search(text)
        assert first is not None
        comm, pid, tid, cpu, sec, frac, period, event = first.groups()
        assert event.startswith("cpu-clock:")
        assert profile.profiles.select("sample_type", "sample_unit").rows() == [
            (event, "nanoseconds")
        ]
        assert int(period) == 10**9 // hz == profile.samples["value"][0]
        assert profile.samples["time_ns"].min() == int(sec) * 10**9 + int(frac.ljust(9, "0"))
        assert labelled(profile, comm=comm, pid=pid, tid=tid, cpu=str(int(cpu))).samples.height
        assert profile.samples.height == len(header.findall(text))


def test_own_kernel_jit_and_unknown_frames_keep_their_binary() -> None:
    node = own("node-work")
    frames = node.frames.join(node.mappings, on="mapping_id", how="left")
    kernel = frames.filter(pl.col("binary") == "[kernel.kallsyms]")
    assert kernel.height and (kernel["address"] > 0xFFFF_FFFF_0000_0000).all()
    jit = frames.filter(pl.col("binary").str.contains(r"^/tmp/perf-\d+\.map$"))
    assert jit.height and jit["function"].str.starts_with("JS:").all()
    unknown = frames.filter(pl.col("function").is_null())  # perf's [unknown] symbols
    assert unknown.height and unknown["address"].null_count() == 0


def test_convert_cli_folded_equals_perfs_own_folding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.folded"
    flags = ["--root", "tid", "--unknown", "binary"]
    assert main(["convert", str(OWN / "node-work.perf.gz"), str(out), *flags]) == 0
    profile = own("node-work")
    period = profile.samples["value"][0]
    got = {s: n // period for s, n in folded(out.read_text()).items()}
    assert got == as_writer_names(perf_folded("node-work", "tid"), profile, "tid")


PERF = """\
prog 10/11 [003] 100.000000500:    250 cycles:
\t    1001 leaf (/bin/prog)
\t    2002 outer->inner+0x10 (/bin/prog)
\t    3003 [unknown] (/lib/libc.so.6)
\t    4004 main (/bin/prog)

prog 10/12 [001] 100.5: 100 cycles:
\t    4004 main (/bin/prog)
"""


def test_inlined_frames_unknown_symbols_and_the_last_record() -> None:
    profile = profilelab.load(PERF.encode())
    profile.check()
    assert profile.profiles["format"].to_list() == ["perf-script"]
    assert labelled(profile, tid="12", cpu="1").samples["value"].to_list() == [100]
    stacks = written(profile, "all")
    assert stacks == {
        "prog;main;[libc.so.6];outer;inner;leaf": 250,
        "prog;main": 100,
    }
    out = io.BytesIO()
    write(profile, out, unknown="binary-address", annotate={"inline"}, root="tid")
    assert "prog-10/11;main;[libc.so.6 <3003>];outer;inner_[i];leaf 250" in out.getvalue().decode()
    plain = io.BytesIO()
    write(profile, plain)  # without options: no root, unsymbolized frames by address
    assert "main;0x3003;outer;inner;leaf 250" in plain.getvalue().decode()
    assert sorted(profile.samples["time_ns"].to_list()) == [100_000_000_500, 100_500_000_000]


INLINED = """\
prog 10/11 [003] 100.0: 5 cycles:
\t    1001 leaf (/bin/prog)
\t    2002 deepest (/bin/prog) (inlined)
\t    2002 inner (/bin/prog) (inlined)
\t    2002 outer+0x10 (/bin/prog)
\t    4004 main (/bin/prog)

"""


def test_lines_perf_marks_inlined_join_their_caller() -> None:
    profile = profilelab.load(INLINED.encode())
    profile.check()
    at_caller = profile.frames.filter(pl.col("address") == 0x2002)  # one location, 3 lines
    assert sorted(at_caller["function"].to_list()) == ["deepest", "inner", "outer"]
    inlined = at_caller.filter(pl.col("inlined"))["function"]
    assert sorted(inlined.to_list()) == ["deepest", "inner"]
    out = io.BytesIO()
    write(profile, out, root="comm", annotate={"inline"})
    assert out.getvalue().decode() == "prog;main;outer;inner_[i];deepest_[i];leaf 5\n"


def test_convert_cli_writes_stackcollapse_folded(corpus: Path, tmp_path: Path) -> None:
    path = corpus / FLAMEGRAPH / "perf-funcab-pid-01.txt"
    out = tmp_path / "out.folded"
    cmd = [sys.executable, "-m", "profilelab", "convert", str(path), str(out)]
    flags = ["--root", "comm", "--annotate", "all", "--unknown", "binary"]
    subprocess.run([*cmd, *flags], check=True, capture_output=True)
    want = folded(
        (corpus / FLAMEGRAPH / "results/perf-funcab-pid-01-collapsed-all.txt").read_text()
    )
    assert folded(out.read_text()) == want
    bad = subprocess.run(
        [*cmd[:-1], str(tmp_path / "x.pb.gz"), "--root", "pid"], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "options of the folded output" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prog 10 1.0: cycles:\n\t1 main (/bin/prog)\n", None),
        ("prog 10 1.0: cycles:\n\t1 main (/bin/prog)\n\nnot a perf line at all\n", None),
    ],
)
def test_stray_lines_are_skipped(text: str, expected: None) -> None:
    profile = profilelab.load(text.encode())
    assert profile.samples.height == 1


def test_perf_without_records_is_a_clear_error() -> None:
    text = "# header only\nprog 10 1.0: cycles:\n\t1 main (/bin/prog)\n"
    assert profilelab.load(text.encode()).samples.height == 1
    with pytest.raises(FormatError, match="unrecognized format"):
        profilelab.load(b"# just comments\n# more\n")


def test_timestamps_do_not_overflow_or_parse_as_floats() -> None:
    text = "ab 1 99999999.123456789: 5 cycles:\n\t1 f (/b)\n\n"
    profile = profilelab.load(text.encode())
    assert profile.samples["time_ns"].to_list() == [99999999_123456789]
    assert re.fullmatch(r"\d+", str(profile.samples["value"][0]))
