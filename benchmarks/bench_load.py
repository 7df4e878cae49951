"""Benchmark: load a large pprof profile and print a flat/cum top, against go tool pprof.

Generates the steering benchmark profile when it is missing (1M samples, 200k stacks,
30k functions, seed 2: ``../shared/bench/gen_profile.py``) into ``benchmarks/out/``,
then, in this one invocation, runs as separate processes (so that each peak RSS is its
own): the top command of profilelab (``python -m profilelab top FILE`` when that command
exists, else ``profilelab.load`` plus a flat/cum group-by of samples by function), a
stage breakdown of the top command's path (wall and CPU seconds per stage, and in all:
CPU over wall is how many cores it kept busy), and ``go tool pprof -top -nodecount=20 FILE``.
Prints wall time, CPU time and peak RSS of each, the ratios, the load average at start and
end, and issue 17's goal 2 (load + top within 1.5 s wall and 1 GB peak RSS, and at least
50 times faster than ``go tool pprof`` in the same run).

usage: python benchmarks/bench_load.py [--repeat 3] [--go-repeat 1] [--no-go] [FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
SHARED_BENCH = ROOT.parent / "shared" / "bench"
# Bytecode is cached, as for an installed package (PYTHONDONTWRITEBYTECODE would make every
# run compile profilelab's modules again, a few tenths of a second).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
GEN_ARGS = ["--samples", "1000000", "--stacks", "200000", "--functions", "30000", "--seed", "2"]

# load + flat/cum by function (pprof -top semantics: flat = leaf frame, cum = any frame,
# recursion counted once per sample) when profilelab has no top command yet.
GROUP_BY_TOP = r"""
import sys
import numpy as np
import polars as pl
import profilelab

p = profilelab.load(sys.argv[1])
prof = p.profiles.filter(pl.col("is_default"))["profile_id"][0]
per_stack = (
    p.samples.filter(pl.col("profile_id") == prof)
    .group_by("stack_id").agg(pl.col("value").sum())
)
stacks = p.stacks.join(per_stack, on="stack_id")
total = stacks["value"].sum()
stacks = stacks.filter(pl.col("depth") > 0)  # explode() turns an empty list into a null
frames = p.frames.select("frame_id", pl.col("function").fill_null("?"))
fn_names, fn_code = np.unique(frames["function"].to_numpy(), return_inverse=True)
frame_ids = stacks["frame_ids"].explode()  # leaf first, stack after stack
code = frame_ids.replace_strict(frames["frame_id"], pl.Series(fn_code), return_dtype=pl.Int64)
code = code.to_numpy()
offsets = np.zeros(stacks.height + 1, dtype=np.int64)
np.cumsum(stacks["frame_ids"].list.len().to_numpy(), out=offsets[1:])
stack_of = np.repeat(np.arange(stacks.height), np.diff(offsets))
value = stacks["value"].to_numpy()
n_fn = len(fn_names)
pair = np.sort(stack_of * n_fn + code)  # sorted, not np.unique: numpy 2.4 hashes slowly
pair = pair[np.concatenate(([True], pair[1:] != pair[:-1]))]  # recursion counts once
cum = np.bincount(pair % n_fn, weights=value[pair // n_fn], minlength=n_fn)
flat = np.bincount(code[offsets[:-1]], weights=value, minlength=n_fn)
for i in np.argsort(-flat, kind="stable")[:20]:
    print(f"{flat[i]:>16.0f} {100 * flat[i] / total:6.2f}% {cum[i]:>16.0f} {fn_names[i]}")
"""

# in-process stage timings of the top command's path (wall and CPU seconds of the whole
# process, all threads, and the main thread's CPU seconds), as JSON on stdout: the read and
# gunzip run on a background thread beside the imports, as in cli/_report.load_prefetched,
# whose memory setting it also takes (when the code measured has it); then decode, build,
# and the report's steps.
BREAKDOWN = r"""
import json, resource, sys, time
t = [time.perf_counter()]; c = [time.process_time()]; m = [time.thread_time()]
def mark():
    t.append(time.perf_counter()); c.append(time.process_time()); m.append(time.thread_time())
try:
    from profilelab._malloc import keep_freed_memory
    from profilelab.cli._report import KEPT_FREE_BYTES, REUSED_BLOCK_BYTES
    keep_freed_memory(REUSED_BLOCK_BYTES, KEPT_FREE_BYTES)
except ImportError:  # code from before the command kept its freed memory
    pass
from profilelab.readers import prefetch
files = prefetch([sys.argv[1]])
import profilelab.render
from profilelab.model import builder
from profilelab.readers import _pprof_native, pprof
mark()
inp = files[0].result(); mark()
raws = pprof.read(inp); mark()
del inp, files
prof = builder.build(raws); mark()
del raws
from profilelab.ops.options import ReportOptions
from profilelab.ops.pipeline import prepare
from profilelab.ops.report_top import top
from profilelab.render import text
prepared = prepare(prof, ReportOptions()); mark()
result = top(prepared, nodefraction=0.005, edgefraction=0.001); mark()
text.top_text(prepared, result, 0.005); mark()
names = ["import", "read+gunzip", "decode", "build", "prepare", "top", "text"]
print(json.dumps({
    "stages": {
        n: [t[i + 1] - t[i], c[i + 1] - c[i], m[i + 1] - m[i]] for i, n in enumerate(names)
    },
    "compiled": _pprof_native.available(),
    "samples": prof.samples.height, "stacks": prof.stacks.height, "frames": prof.frames.height,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds, children included
    peak_mb: float  # peak resident set size of the process (and its children)
    stdout: str


def measure(cmd: list[str]) -> Run:
    """Run ``cmd`` from the repository root; its own rusage comes from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read().decode()}")
        return Run(
            wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()
        )


def ensure_profile(path: Path) -> Path:
    if path.exists():
        return path
    gen = SHARED_BENCH / "gen_profile.py"
    if not gen.exists():
        sys.exit(f"{path} is missing and {gen} is not there to generate it")
    print(f"generating {path} ...", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{SHARED_BENCH}",
             f"--python_out={tmp}", str(SHARED_BENCH / "profile.proto")],
            check=True,
        )  # fmt: skip
        env = {**os.environ, "PYTHONPATH": tmp}
        subprocess.run([sys.executable, str(gen), str(path), *GEN_ARGS], check=True, env=env)
    return path


def profilelab_top(path: Path) -> tuple[str, list[str]]:
    sys.path.insert(0, str(ROOT))
    if importlib.util.find_spec("profilelab.cli.top") is not None:
        return "python -m profilelab top", [sys.executable, "-m", "profilelab", "top", str(path)]
    return "profilelab.load + group-by", [sys.executable, "-c", GROUP_BY_TOP, str(path)]


def summarize(name: str, runs: list[Run]) -> Run:
    walls, cpus, peaks = [r.wall for r in runs], [r.cpu for r in runs], [r.peak_mb for r in runs]
    print(
        f"{name:34s} wall {statistics.median(walls):7.2f} s (min {min(walls):.2f})  "
        f"cpu {statistics.median(cpus):7.2f} s  peak RSS {max(peaks):7.0f} MB  [{len(runs)} runs]"
    )
    return Run(statistics.median(walls), statistics.median(cpus), max(peaks), runs[-1].stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", type=Path, default=OUT / "big.pb.gz")
    ap.add_argument("--repeat", type=int, default=3, help="profilelab runs (median reported)")
    ap.add_argument("--go-repeat", type=int, default=1, help="go tool pprof runs")
    ap.add_argument("--no-go", action="store_true", help="skip go tool pprof")
    args = ap.parse_args()
    path = ensure_profile(args.file)
    print(f"profile: {path} ({path.stat().st_size / 1e6:.1f} MB gzipped)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")

    label, cmd = profilelab_top(path)
    ours = summarize(f"profilelab ({label})", [measure(cmd) for _ in range(args.repeat)])
    info = json.loads(measure([sys.executable, "-c", BREAKDOWN, str(path)]).stdout)
    stages = "  ".join(f"{k} {w:.2f}/{c:.2f}/{m:.2f}" for k, (w, c, m) in info["stages"].items())
    wall, cpu, main = (sum(v[i] for v in info["stages"].values()) for i in (0, 1, 2))
    print(f"  stages, wall/cpu/main thread's cpu s: {stages}  (compiled: {info['compiled']})")
    print(
        f"  stages in all: wall {wall:.2f} s, cpu {cpu:.2f} s, cpu/wall {cpu / wall:.2f}, "
        f"main thread's cpu {main:.2f} s (the serial path when a core is free)"
    )
    print(f"  {info['samples']} sample rows, {info['stacks']} stacks, {info['frames']} frames")

    print(
        f"  goal: wall {ours.wall:.2f} s (<= 1.5: {'met' if ours.wall <= 1.5 else 'not met'}), "
        f"peak RSS {ours.peak_mb:.0f} MB (<= 1024: {'met' if ours.peak_mb <= 1024 else 'not met'})"
    )
    go = shutil.which("go")
    if args.no_go or go is None:
        print("\ngo tool pprof: skipped" + ("" if go else " (no go on PATH)"))
        print(f"load average at end {os.getloadavg()[0]:.1f}")
        return
    cmd = [go, "tool", "pprof", "-top", "-nodecount=20", str(path)]
    theirs = summarize(
        "go tool pprof -top -nodecount=20", [measure(cmd) for _ in range(args.go_repeat)]
    )
    print(
        f"\nratio go/profilelab: wall {theirs.wall / ours.wall:.1f}x, "
        f"cpu {theirs.cpu / ours.cpu:.1f}x, peak RSS {theirs.peak_mb / ours.peak_mb:.1f}x"
        f"  (goal: wall >= 50x)"
    )
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
