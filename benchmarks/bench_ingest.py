"""Ingest benchmark: small profiles per second, default workers vs ``--jobs 1``, idle and busy.

Makes ``--n`` small gzipped pprof CPU profiles (``--samples`` samples each, four services,
``service=`` comments) and ingests them into a fresh store four times, in one run:

* as the machine is (whatever else runs on it), with the default worker count and with
  ``jobs=1`` (decode in this process) -- the reference;
* the same two while a CPU burner (one spinning process per CPU) runs beside it.

Each condition runs the default and ``jobs=1`` in turns (``--rounds`` times each, in the
order default, 1, 1, default, ...) and keeps the best and the median of each. It prints
files/s, the default's worker count, the CPU milliseconds per file of this process and its
workers, and the ratio default / ``jobs=1`` of the best runs (goal: never below 1, and at
least 500 files/s). The load average is printed at the start and after each condition.
The process keeps the memory it frees, as ``profilelab ingest`` does.

With ``--command``, each condition also runs the ``profilelab ingest`` command as a user
does (a fresh process per run: imports, first allocations and first queries included), with
the default and ``--jobs 1`` in turns: the rate the command reports for its ingest, and the
whole command's wall time.

usage: python benchmarks/bench_ingest.py [--n 1000] [--samples 100] [--rounds 3] [--command]
       [--also-jobs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_store import SERVICES, T0  # noqa: E402
from synth import Program  # noqa: E402

import profilelab  # noqa: E402
from profilelab.store.ingest import default_workers, reuse_freed_memory  # noqa: E402


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_inputs(directory: Path, n: int, samples: int) -> list[Path]:
    marker = directory / f".done-{n}-{samples}"
    paths = [directory / SERVICES[i % 4] / f"p{i:06d}.pb.gz" for i in range(n)]
    if marker.exists():
        return paths
    shutil.rmtree(directory, ignore_errors=True)
    programs = [Program(s, seed, functions=300, stacks=400) for seed, s in enumerate(SERVICES)]
    for i, path in enumerate(paths):
        prog = programs[i % 4]
        path.parent.mkdir(parents=True, exist_ok=True)
        comments = (f"service={prog.name}",)
        path.write_bytes(prog.profile(i, samples, T0 + i * 15_000_000_000, comments))
    marker.touch()
    return paths


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def ingest_rate(paths: list[Path], store_dir: Path, jobs: int | None) -> tuple[float, float]:
    """(files/s, CPU seconds) of one ingest of ``paths`` into a fresh store."""
    shutil.rmtree(store_dir, ignore_errors=True)
    store = profilelab.open_store(store_dir)
    cpu0 = _cpu()
    started = time.perf_counter()
    report = store.ingest(paths, jobs=jobs)
    wall = time.perf_counter() - started
    assert report.ok and report.stored == len(paths), report.summary()
    return len(paths) / wall, _cpu() - cpu0


def _burn() -> None:
    while True:
        pass


def in_turns(
    rounds: int, measure: Callable[[int | None], tuple[float, float]]
) -> dict[int | None, list[tuple[float, float]]]:
    """``measure(jobs)`` of the default (None) and ``--jobs 1`` in turns (default, 1, 1,
    default, ...), ``rounds`` times each, so that neither gets the quieter moments of the
    machine alone."""
    runs: dict[int | None, list[tuple[float, float]]] = {None: [], 1: []}
    for r in range(rounds):
        for jobs in (None, 1) if r % 2 == 0 else (1, None):
            runs[jobs].append(measure(jobs))
    return runs


def run(label: str, paths: list[Path], out: Path, also: int | None, rounds: int) -> None:
    """Default and ``--jobs 1`` in turns (:func:`in_turns`): the best and the median."""
    workers = default_workers()
    runs = in_turns(rounds, lambda jobs: ingest_rate(paths, out / "store", jobs))
    (default, cpu_d), (one, cpu_1) = max(runs[None]), max(runs[1])
    med_d = statistics.median(rate for rate, _ in runs[None])
    med_1 = statistics.median(rate for rate, _ in runs[1])
    n = len(paths)
    print(
        f"{label}: default ({workers} worker{'' if workers == 1 else 's'}) {default:.0f} files/s "
        f"(median {med_d:.0f}; CPU {cpu_d * 1000 / n:.2f} ms/file), --jobs 1 {one:.0f} files/s "
        f"(median {med_1:.0f}; CPU {cpu_1 * 1000 / n:.2f} ms/file): default / --jobs 1 "
        f"x{default / one:.2f}{SAME_PATH if workers == 0 else ''}; load average {_load()}"
    )
    if also is not None:
        rate, cpu = ingest_rate(paths, out / "store", also)
        print(
            f"  --jobs {also}: {rate:.0f} files/s (CPU {cpu * 1000 / n:.2f} ms/file): "
            f"x{rate / one:.2f}"
        )


#: Said when the default chose no workers: it then decodes in this process, as ``--jobs 1``.
SAME_PATH = " (no workers: the same code path as --jobs 1, so the ratio is the machine's noise)"

_RATE = re.compile(r"\((\d+) inputs/s\)")


def command_rate(inputs: Path, store_dir: Path, jobs: int | None) -> tuple[float, float]:
    """(files/s the command reports, the whole command's seconds) of one ``profilelab
    ingest`` of ``inputs`` into a fresh store, in a fresh process."""
    shutil.rmtree(store_dir, ignore_errors=True)
    argv = [sys.executable, "-m", "profilelab", "ingest", "--store", str(store_dir)]
    argv += [] if jobs is None else ["--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    started = time.perf_counter()
    done = subprocess.run([*argv, str(inputs)], capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - started
    found = _RATE.search(done.stdout + done.stderr)
    assert found, done.stdout + done.stderr
    return float(found.group(1)), wall


def run_command(label: str, inputs: Path, out: Path, rounds: int) -> None:
    """The ``profilelab ingest`` command, default and ``--jobs 1`` in turns (:func:`in_turns`):
    medians."""
    runs = in_turns(rounds, lambda jobs: command_rate(inputs, out / "store", jobs))

    def said(jobs: int | None) -> str:
        rates = sorted(rate for rate, _ in runs[jobs])
        walls = [wall for _, wall in runs[jobs]]
        return (
            f"{statistics.median(rates):.0f} files/s (runs {', '.join(f'{x:.0f}' for x in rates)}; "
            f"whole command {statistics.median(walls):.2f} s)"
        )

    print(f"{label}, the command: default {said(None)}, --jobs 1 {said(1)}; load average {_load()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "ingest")
    ap.add_argument("--also-jobs", type=int, default=None, help="also time this --jobs")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each, in turns (3)")
    ap.add_argument(
        "--command", action="store_true", help="also time the profilelab ingest command"
    )
    args = ap.parse_args()
    reuse_freed_memory()  # as the ingest command does: this process ends with the benchmark
    print(f"machine: {os.cpu_count()} CPUs; {args.n} profiles x ~{args.samples} samples")
    print(f"load average before: {_load()}")
    paths = make_inputs(args.out / "inputs", args.n, args.samples)
    ingest_rate(paths[:20], args.out / "store", 1)  # warm up: imports, first allocations
    run("as the machine is", paths, args.out, args.also_jobs, args.rounds)
    if args.command:
        run_command("as the machine is", args.out / "inputs", args.out, args.rounds)
    burners = [
        multiprocessing.Process(target=_burn, daemon=True) for _ in range(os.cpu_count() or 1)
    ]
    for b in burners:
        b.start()
    try:
        time.sleep(5)  # let the one-minute load average see the burners
        busy = f"with {len(burners)} CPU burners"
        run(busy, paths, args.out, args.also_jobs, args.rounds)
        if args.command:
            run_command(busy, args.out / "inputs", args.out, args.rounds)
    finally:
        for b in burners:
            b.terminate()
            b.join()
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
