"""Time ``top`` on a big profile, against ``go tool pprof -top`` on the same file.

usage: python benchmarks/bench_top.py PROFILE [--repeat 5]

Make a 1M-sample profile with the shared generator (needs its ``profile_pb2``, compiled
from ``../shared/bench/profile.proto`` with ``grpc_tools.protoc``):

    python ../shared/bench/gen_profile.py /tmp/1m.pb.gz --samples 1000000 --stacks 20000 \\
        --functions 5000

Prints the median wall time of each step and the ratio of profilelab's report time (after
load) to pprof's whole run (parse + report), measured in this same command.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import profilelab
from profilelab.render import report


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    t = time.perf_counter()
    prof = profilelab.load(args.profile)
    load_s = time.perf_counter() - t
    print(f"load: {load_s:.2f}s  ({prof.samples.height} sample rows, {prof.stacks.height} stacks)")
    top_s = median_time(lambda: prof.top(), args.repeat)
    text_s = median_time(lambda: report(prof, "top"), args.repeat)
    focus_s = median_time(lambda: prof.top(focus="orders", granularity="lines"), args.repeat)
    print(f"Profile.top():                  {top_s:.3f}s")
    print(f"text top (pprof's layout):      {text_s:.3f}s")
    print(f"top --focus orders --lines:     {focus_s:.3f}s")
    if shutil.which("go"):
        cmd = ["go", "tool", "pprof", "-symbolize=none", "-top", str(args.profile)]
        go_s = median_time(
            lambda: subprocess.run(cmd, capture_output=True, check=True), max(1, args.repeat // 2)
        )
        print(f"go tool pprof -top (whole run): {go_s:.3f}s")
        print(f"ratio text top / go tool pprof: {text_s / go_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
