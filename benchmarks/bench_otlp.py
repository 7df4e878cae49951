"""Benchmark: load the 1M-sample profile as pprof and as binary OTLP, in one run; print the ratio.

The input is the steering benchmark profile (1M samples, 200k stacks, 30k functions, two
sample types, span and endpoint labels), made by ``../shared/bench/gen_profile.py``::

    python -m grpc_tools.protoc -I../shared/bench --python_out=/tmp/benchgen \\
        ../shared/bench/profile.proto
    PYTHONPATH=/tmp/benchgen python ../shared/bench/gen_profile.py /tmp/big.pb.gz \\
        --samples 1000000 --stacks 200000 --functions 30000 --seed 2

``--generate`` does both into a temporary directory when the file is missing. The pprof
file is loaded, converted to OTLP with the ``otlp`` writer, and both are loaded again
(best of ``--repeat``); the tables are checked equal before the times are printed.

``--json`` also writes the profile as OTLP/JSON and loads that: the ratio of its load to
the binary OTLP load is the issue's goal 5 (at most 2).

usage: python benchmarks/bench_otlp.py [PATH] [--repeat N] [--json] [--generate]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import profilelab  # noqa: E402
from profilelab.model.profile import Profile  # noqa: E402
from profilelab.writers.otlp import to_otlp, to_otlp_json  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"
GEN_ARGS = ["--samples", "1000000", "--stacks", "200000", "--functions", "30000", "--seed", "2"]


def generate(path: Path) -> None:
    """Make the benchmark profile with the shared generator (needs grpcio-tools)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{BENCH}", f"--python_out={tmp}",
             str(BENCH / "profile.proto")],
            check=True,
        )  # fmt: skip
        env = {"PYTHONPATH": tmp}
        subprocess.run(
            [sys.executable, str(BENCH / "gen_profile.py"), str(path), *GEN_ARGS],
            check=True,
            env=env,
        )


def best(fn: Callable[[], Profile], repeat: int) -> tuple[float, float, Profile]:
    """Best wall-clock and best CPU (process) time of ``repeat`` runs, and the result.

    CPU time is printed too because on a shared machine wall time mostly measures the
    other processes."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    assert result is not None
    return min(walls), min(cpus), result


def same_tables(a: Profile, b: Profile) -> bool:
    """Same stacks, frames, label sets and per-type totals (profile/source ids differ)."""
    key = ["sample_type", "sample_index"]
    va = a.samples.join(a.profiles.select("profile_id", "sample_type"), on="profile_id")
    vb = b.samples.join(b.profiles.select("profile_id", "sample_type"), on="profile_id")
    cols = ["stack_id", "value", "label_set_id", "trace_id", "span_id"]
    return (
        a.stacks.sort("stack_id").equals(b.stacks.sort("stack_id"))
        and set(a.labels["label_set_id"]) == set(b.labels["label_set_id"])
        and va.select(*key, *cols).sort(key).equals(vb.select(*key, *cols).sort(key))
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", nargs="?", default="/tmp/big.pb.gz")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="also time OTLP/JSON")
    ap.add_argument("--generate", action="store_true", help="make PATH when it is missing")
    args = ap.parse_args()
    path = Path(args.path)
    if not path.exists():
        if not args.generate:
            sys.exit(f"{path} is missing: make it as the docstring says, or pass --generate")
        generate(path)
    load_start = os.getloadavg()
    w_pprof, c_pprof, p = best(lambda: profilelab.load(path), args.repeat)
    data = b""

    def write_otlp() -> Profile:
        nonlocal data
        data = to_otlp(p)
        return p

    w_write, c_write, _ = best(write_otlp, 1)
    w_otlp, c_otlp, q = best(lambda: profilelab.load(data), args.repeat)
    if not same_tables(p, q):
        sys.exit("OTLP tables differ from the pprof tables")
    print(f"input: {path} ({path.stat().st_size / 1e6:.1f} MB), {p}")
    print(f"{'':18}{'wall s':>9}{'cpu s':>9}")
    print(f"pprof load        {w_pprof:9.2f}{c_pprof:9.2f}")
    print(f"otlp write        {w_write:9.2f}{c_write:9.2f}   {len(data) / 1e6:.1f} MB")
    print(f"otlp load         {w_otlp:9.2f}{c_otlp:9.2f}")
    print(f"ratio otlp/pprof  {w_otlp / w_pprof:9.2f}{c_otlp / c_pprof:9.2f}")
    if args.json:
        text = b""

        def write_json() -> Profile:
            nonlocal text
            text = to_otlp_json(p)
            return p

        w_jw, c_jw, _ = best(write_json, 1)
        w_json, c_json, _ = best(lambda: profilelab.load(text), args.repeat)
        print(f"otlp-json write   {w_jw:9.2f}{c_jw:9.2f}   {len(text) / 1e6:.1f} MB")
        print(f"otlp-json load    {w_json:9.2f}{c_json:9.2f}")
        print(f"ratio json/pprof  {w_json / w_pprof:9.2f}{c_json / c_pprof:9.2f}")
        print(f"ratio json/otlp   {w_json / w_otlp:9.2f}{c_json / c_otlp:9.2f}   goal <= 2")
    load_end = os.getloadavg()
    print(f"load average at start {load_start[0]:.1f}, at end {load_end[0]:.1f}")


if __name__ == "__main__":
    main()
