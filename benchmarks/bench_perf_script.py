"""Benchmark: reading a large ``perf script`` file, against stackcollapse-perf.pl.

usage: python benchmarks/bench_perf_script.py PERF_SCRIPT_TXT [--repeat 80]
       [--stackcollapse path/to/stackcollapse-perf.pl]

The input is a real perf script file (e.g. FlameGraph's test/perf-vertx-stacks-01.txt from
../shared/corpus) repeated ``--repeat`` times. profilelab's time is ``profilelab.load`` (parse
and build the canonical tables); the reference run is FlameGraph's stackcollapse-perf.pl
(Perl, CDDL: pass its path, it is not part of profilelab) folding the same file in the same
invocation. The script prints both wall times and the ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import profilelab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("input", type=Path)
    ap.add_argument("--repeat", type=int, default=80)
    ap.add_argument("--stackcollapse", type=Path)
    args = ap.parse_args()
    base = args.input.read_text().rstrip("\n") + "\n\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "perf.txt"
        path.write_text(base * args.repeat)
        size = path.stat().st_size
        start = time.perf_counter()
        profile = profilelab.load(path)
        ours = time.perf_counter() - start
        print(
            f"profilelab.load: {size / 1e6:.1f} MB, {profile.samples.height} samples, "
            f"{ours:.2f} s ({size / 1e6 / ours:.1f} MB/s)"
        )
        if args.stackcollapse:
            start = time.perf_counter()
            subprocess.run(
                ["perl", str(args.stackcollapse), str(path)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            theirs = time.perf_counter() - start
            print(f"stackcollapse-perf.pl: {theirs:.2f} s; ratio {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
