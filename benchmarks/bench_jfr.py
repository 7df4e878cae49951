"""JFR decode speed against the JDK's own tools, in the same run.

Run from the checkout: ``python benchmarks/bench_jfr.py [RECORDING] [--events N]``.

1. The largest recording of Pyroscope's conformance set (``../shared/corpus``, read in
   place), or RECORDING: ``profilelab.load`` (every event, constant pool and table) against
   the JDK's ``jfr print --json`` plus ``json.loads`` of its output (the reference: what a
   Python user of the JDK's tool would run), and against ``jfr summary`` (which only counts
   events per type and does not resolve stacks).
2. The same recording's chunks repeated until they hold at least N events (default one
   million): a many-chunk recording of realistic content. ``profilelab.load`` against
   ``jfr summary`` on the same file (``jfr print`` of a million events takes minutes).

Times are CPU seconds (user + system; of the child processes for the JDK tools), the
steadier figure on a shared machine, and wall seconds; the best of ``--repeat`` runs
(default 3) for profilelab, one run for the JDK tools (their JVM start-up included: that is
what running them costs). Ratios are of CPU seconds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import profilelab
from profilelab.readers import _jfr_format as fmt
from profilelab.readers import _jfr_native, jfr

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
PYROSCOPE = CORPUS / "grafana-pyroscope/pkg/og/convert/jfr/testdata"


def largest_recording() -> Path:
    files = sorted(PYROSCOPE.glob("*.jfr.gz"), key=lambda p: len(gzip.decompress(p.read_bytes())))
    if not files:
        raise SystemExit(f"no recordings in {PYROSCOPE}; pass one on the command line")
    return files[-1]


def count_events(data: bytes) -> int:
    """Events of the kinds profilelab turns into samples, over every chunk."""
    total = 0
    for chunk in fmt.chunks(data, "x"):
        meta = fmt.read_metadata(data, chunk, "x")
        programs = fmt.compile_programs(meta, jfr.WANTED)
        scan = _jfr_native.scan(data, chunk, programs)
        sampled = [meta.by_name[n].id for n in jfr.KINDS if n in meta.by_name]
        sampled += [meta.by_name[n].id for n in ("jdk.ExecutionSample",) if n in meta.by_name]
        kinds = scan.records[:, 0] == fmt.KIND_EVENT
        total += int((kinds & (scan.records[:, 1:2] == sampled).any(axis=1)).sum())
    return total


Timing = tuple[float, float]  # (CPU seconds, wall seconds)


def best(fn, repeat: int) -> Timing:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        fn()
        runs.append((time.process_time() - c, time.perf_counter() - t))
    return min(runs)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def tool(cmd: list[str], parse_json: bool = False) -> Timing:
    """One run of a JDK tool (CPU of the child), plus parsing its JSON output here."""
    c0, c, t = _children_cpu(), time.process_time(), time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    if parse_json:
        json.loads(out)
    cpu = _children_cpu() - c0 + time.process_time() - c
    return cpu, time.perf_counter() - t


def show(label: str, t: Timing, ours: Timing | None = None) -> None:
    ratio = f"   ratio {t[0] / ours[0]:6.1f}x" if ours else ""
    print(f"  {label:26s} {t[0]:8.3f} s CPU {t[1]:8.3f} s wall{ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("recording", nargs="?", type=Path)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("jfr") is None:
        raise SystemExit("needs the JDK's jfr tool (Debian openjdk-17-jdk-headless)")
    src = args.recording or largest_recording()
    raw = src.read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    n = count_events(data)
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.jfr"
        one.write_bytes(data)
        ours = best(lambda: profilelab.load(one), args.repeat)
        print(f"{src.name}: {len(data):,} bytes, {n:,} sample events, 1 chunk")
        show("profilelab.load", ours)
        show("jfr print --json + json", tool(["jfr", "print", "--json", str(one)], True), ours)
        show("jfr summary", tool(["jfr", "summary", str(one)]), ours)

        copies = max(1, -(-args.events // max(n, 1)))
        big = Path(tmp) / "big.jfr"
        big.write_bytes(data * copies)
        ours_big = best(lambda: profilelab.load(big), args.repeat)
        size = big.stat().st_size
        print(f"{copies} chunks: {size:,} bytes, {n * copies:,} sample events")
        show("profilelab.load", ours_big)
        print(f"  ({n * copies / ours_big[0]:,.0f} events per CPU second)")
        show("jfr summary", tool(["jfr", "summary", str(big)]), ours_big)


if __name__ == "__main__":
    main()
