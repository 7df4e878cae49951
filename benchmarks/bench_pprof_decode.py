"""Benchmark: the two pprof decoders on the steering profile, compiled against numpy.

Decodes the 1M-sample benchmark profile (``../shared/bench/gen_profile.py``, the arguments
of ``bench_load.py``; generated into ``benchmarks/out/`` when missing) with the compiled
kernel and with the numpy fallback (``PROFILELAB_PPROF_DECODER=numpy``), after gunzip and
before the tables are built, and prints the median wall and CPU time of each, their ratio
and the load average. Both must give the same RawProfile (checked once).

usage: python benchmarks/bench_pprof_decode.py [--repeat 3] [FILE]
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
        pprof.decode(data, "bench.pb", using)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=Path, default=OUT / "bench_1m.pb.gz")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = open_input(ensure_profile(args.file)).data
    a, b = pprof.decode(data, "x", "native"), pprof.decode(data, "x", "numpy")
    assert a.n_samples == b.n_samples and (a.sample_stack == b.sample_stack).all()
    print(f"{args.file}: {a.n_samples} samples, {len(a.stack_offsets) - 1} stacks")
    print(f"profile: {' '.join(GEN_ARGS)}; load average before: {os.getloadavg()}")
    native = timed(data, "native", args.repeat)
    numpy = timed(data, "numpy", args.repeat)
    for name, (wall, cpu) in (("native", native), ("numpy", numpy)):
        print(f"{name:>7}: {wall:6.2f} s wall  {cpu:6.2f} s CPU (median of {args.repeat})")
    print(f"numpy / native: x{numpy[0] / native[0]:.1f} wall, x{numpy[1] / native[1]:.1f} CPU")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
