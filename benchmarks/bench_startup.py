"""Command-line start-up against its references, measured in one run (issue goal 1).

usage: python benchmarks/bench_startup.py [PROFILE] [--repeat 5]

Times, as the median of ``--repeat`` runs each, in interleaved rounds so that a change of
machine load hits every command alike:

* ``python -c "import argparse"`` and ``profilelab --help`` and every ``COMMAND --help``
  (goal: each within 4x of argparse);
* ``python -c "import polars"`` and ``profilelab top PROFILE`` on a small profile (goal:
  within 1.5x of importing Polars).

Prints each time, its ratio to its reference, and the load average at start and end: on a
shared machine only the ratios of one run mean anything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "datasets" / "checkout-api" / "before" / "cpu-00.pb.gz"


def commands() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from profilelab.cli import _subparsers, build_parser

    return sorted(_subparsers(build_parser()).choices)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    py, cli = [sys.executable], [sys.executable, "-m", "profilelab"]
    runs = {
        "import argparse": [*py, "-c", "import argparse"],
        "import polars": [*py, "-c", "import polars"],
        "--help": [*cli, "--help"],
        f"top {Path(args.profile).name}": [*cli, "top", args.profile],
        **{f"{c} --help": [*cli, c, "--help"] for c in commands()},
    }
    load_start = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, argv in runs.items():
            t = time.perf_counter()
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - t)
    load_end = os.getloadavg()
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"load average at start {load_start[0]:.1f}, at end {load_end[0]:.1f}")
    print(f"{'':28}{'median s':>9}{'ratio':>8}  goal")
    for name, t in med.items():
        if name.startswith("import"):
            print(f"{name:28}{t:9.3f}")
        elif not name.endswith("--help"):
            print(f"{name:28}{t:9.3f}{t / med['import polars']:8.2f}  <= 1.5 x import polars")
        else:
            print(f"{name:28}{t:9.3f}{t / med['import argparse']:8.2f}  <= 4 x import argparse")
    helps = [t / med["import argparse"] for n, t in med.items() if n.endswith("--help")]
    print(f"worst --help ratio {max(helps):.2f}")


if __name__ == "__main__":
    main()
