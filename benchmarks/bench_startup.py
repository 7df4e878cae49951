"""Command-line start-up against its references, measured in one run (issue goal 1).

usage: python benchmarks/bench_startup.py [PROFILE] [--repeat 5] [--against CHECKOUT]

Times, as the median of ``--repeat`` runs each, in interleaved rounds so that a change of
machine load hits every command alike:

* ``python -c "import argparse"`` and ``profilelab --help`` and every ``COMMAND --help``
  (goal: each within 4x of argparse);
* ``python -c "import polars"`` and ``profilelab top PROFILE`` on a small profile (goal:
  within 1.5x of importing Polars), and beside them, as a floor rather than a goal, the
  import of Polars and NumPy that ``top`` of a pprof makes (it loads no pyarrow).

``--against CHECKOUT`` adds ``top PROFILE`` run from another checkout (its compiled
extensions built), in the same rounds: a before/after comparison within one run.

Prints each time (wall and CPU: user + system of the child), its ratio to its reference,
and the load average at start and end: on a shared machine only the ratios of one run mean
anything, and the CPU ratios are the steadier ones. Bytecode is written and one untimed
round runs first, so that profilelab's modules load from ``__pycache__`` as an installed
package's do (``PYTHONDONTWRITEBYTECODE`` would make every run compile them all).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "datasets" / "checkout-api" / "before" / "cpu-00.pb.gz"
#: The libraries ``top`` of a pprof imports, as it imports them (OpenBLAS on one thread):
#: how close ``top`` can come to ``import polars`` while its path needs NumPy.
FLOOR = "floor: polars numpy"
AGAINST = "top, --against"
_FLOOR_CODE = "import os; os.environ.setdefault('OPENBLAS_NUM_THREADS', '1'); import polars, numpy"


def commands() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from profilelab.cli import _subparsers, build_parser

    return sorted(_subparsers(build_parser()).choices)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--against", metavar="CHECKOUT", help="also time top from this checkout")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    envs = (
        {AGAINST: {**env, "PYTHONPATH": str(Path(args.against).resolve())}} if args.against else {}
    )
    py, cli = [sys.executable], [sys.executable, "-m", "profilelab"]
    profile = str(Path(args.profile).resolve())  # the commands run in their checkouts
    top = f"top {Path(profile).name}"
    runs = {
        "import argparse": [*py, "-c", "import argparse"],
        "import polars": [*py, "-c", "import polars"],
        FLOOR: [*py, "-c", _FLOOR_CODE],
        "--help": [*cli, "--help"],
        top: [*cli, "top", profile],
        **({AGAINST: [*cli, "top", profile]} if args.against else {}),
        **{f"{c} --help": [*cli, c, "--help"] for c in commands()},
    }
    # each command runs in its checkout: ``python -m`` puts the working directory first on
    # sys.path, before PYTHONPATH (run from this checkout, --against timed this one again)
    cwds = {name: envs.get(name, env)["PYTHONPATH"] for name in runs}
    for name, argv in runs.items():  # untimed: writes the bytecode caches
        subprocess.run(
            argv, env=envs.get(name, env), cwd=cwds[name], stdout=subprocess.DEVNULL, check=True
        )
    load_start = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, argv in runs.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(
                argv, env=envs.get(name, env), cwd=cwds[name], stdout=subprocess.DEVNULL, check=True
            )
            times[name].append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    load_end = os.getloadavg()
    med = {name: statistics.median(ts) for name, ts in times.items()}
    cpu = {name: statistics.median(ts) for name, ts in cpus.items()}
    print(f"load average at start {load_start[0]:.1f}, at end {load_end[0]:.1f}")
    print(f"{'':28}{'wall s':>8}{'ratio':>7}{'cpu s':>8}{'ratio':>7}  goal")
    for name, t in med.items():
        ref = "import polars" if not name.endswith("--help") else "import argparse"
        if name.startswith("import"):
            print(f"{name:28}{t:8.3f}{'':7}{cpu[name]:8.3f}")
            continue
        goal = "<= 1.5 x import polars" if ref == "import polars" else "<= 4 x import argparse"
        if name == FLOOR:  # not a goal: what top's libraries alone cost
            goal = "(floor of top today)"
        if name == AGAINST:
            goal = f"(top from {args.against})"
        print(
            f"{name:28}{t:8.3f}{t / med[ref]:7.2f}{cpu[name]:8.3f}{cpu[name] / cpu[ref]:7.2f}"
            f"  {goal}"
        )
    helps = [t / med["import argparse"] for n, t in med.items() if n.endswith("--help")]
    print(f"worst --help ratio (wall) {max(helps):.2f}")


if __name__ == "__main__":
    main()
