"""Benchmark: the two pprof decoders on the steering profile, compiled against numpy.

Decodes the 1M-sample benchmark profile (``../shared/bench/gen_profile.py``, the arguments
of ``bench_load.py``; generated into ``benchmarks/out/`` when missing) with the compiled
kernel and with the numpy fallback (``PROFILELAB_PPROF_DECODER=numpy``), after gunzip and
before the tables are built, and prints the median wall and CPU time of each, their ratio
and the load average. Both must give the same RawProfile (checked once). ``--oracle`` also
times the tests' oracle (the protobuf runtime plus Python loops, the fallback before the
numpy decoder).

usage: python benchmarks/bench_pprof_decode.py [--repeat 3] [--oracle] [FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_load import GEN_ARGS, OUT, ensure_profile  # noqa: E402

from profilelab.readers import pprof  # noqa: E402
from profilelab.readers._input import open_input  # noqa: E402


def timed(data: bytes, using: str, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        if using == "oracle":
            from tests.pprof_reference import decode_reference

            decode_reference(data, "bench.pb")
        else:
            pprof.decode(data, "bench.pb", using)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=Path, default=OUT / "big.pb.gz")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--oracle", action="store_true", help="time the tests' oracle too")
    args = ap.parse_args()
    data = open_input(ensure_profile(args.file)).data
    a, b = pprof.decode(data, "x", "native"), pprof.decode(data, "x", "numpy")
    assert a.n_samples == b.n_samples and (a.sample_stack == b.sample_stack).all()
    print(f"{args.file}: {a.n_samples} samples, {len(a.stack_offsets) - 1} stacks")
    print(f"profile: {' '.join(GEN_ARGS)}; load average before: {os.getloadavg()}")
    native = timed(data, "native", args.repeat)
    numpy = timed(data, "numpy", args.repeat)
    runs = [("native", native), ("numpy", numpy)]
    if args.oracle:
        runs.append(("oracle", timed(data, "oracle", args.repeat)))
    for name, (wall, cpu) in runs:
        print(f"{name:>7}: {wall:6.2f} s wall  {cpu:6.2f} s CPU (median of {args.repeat})")
    print(f"numpy / native: x{numpy[0] / native[0]:.1f} wall, x{numpy[1] / native[1]:.1f} CPU")
    if args.oracle:
        oracle = runs[-1][1]
        print(f"oracle / numpy: x{oracle[0] / numpy[0]:.1f} wall, x{oracle[1] / numpy[1]:.1f} CPU")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
