"""Ingest benchmark: small profiles per second, default workers vs ``--jobs 1``, idle and busy.

Makes ``--n`` small gzipped pprof CPU profiles (``--samples`` samples each, four services,
``service=`` comments) and ingests them into a fresh store four times, in one run:

* as the machine is (whatever else runs on it), with the default worker count and with
  ``jobs=1`` (decode in this process) -- the reference;
* the same two while a CPU burner (one spinning process per CPU) runs beside it.

Each condition runs the default and ``jobs=1`` in turns, twice each, and keeps the best
of each. It prints files/s, the default's worker count, the CPU milliseconds per file of
this process and its workers, and the ratio default / ``jobs=1`` (goal: never below 1,
and at least 500 files/s). The load average is printed at the start and after each
condition. The process keeps the memory it frees, as ``profilelab ingest`` does.

usage: python benchmarks/bench_ingest.py [--n 1000] [--samples 100] [--also-jobs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import time
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


def run(label: str, paths: list[Path], out: Path, also: int | None) -> None:
    """Default and ``--jobs 1`` in turns (default, 1, 1, default): the best of two each,
    so that neither gets the quieter moment of the machine alone."""
    workers = default_workers()
    d1, o1 = ingest_rate(paths, out / "store", None), ingest_rate(paths, out / "store", 1)
    o2, d2 = ingest_rate(paths, out / "store", 1), ingest_rate(paths, out / "store", None)
    (default, cpu_d), (one, cpu_1) = max(d1, d2), max(o1, o2)
    n = len(paths)
    print(
        f"{label}: default ({workers} worker{'' if workers == 1 else 's'}) {default:.0f} files/s "
        f"(CPU {cpu_d * 1000 / n:.2f} ms/file), --jobs 1 {one:.0f} files/s "
        f"(CPU {cpu_1 * 1000 / n:.2f} ms/file): default / --jobs 1 x{default / one:.2f}; "
        f"load average {_load()}"
    )
    if also is not None:
        rate, cpu = ingest_rate(paths, out / "store", also)
        print(
            f"  --jobs {also}: {rate:.0f} files/s (CPU {cpu * 1000 / n:.2f} ms/file): "
            f"x{rate / one:.2f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "ingest")
    ap.add_argument("--also-jobs", type=int, default=None, help="also time this --jobs")
    args = ap.parse_args()
    reuse_freed_memory()  # as the ingest command does: this process ends with the benchmark
    print(f"machine: {os.cpu_count()} CPUs; {args.n} profiles x ~{args.samples} samples")
    print(f"load average before: {_load()}")
    paths = make_inputs(args.out / "inputs", args.n, args.samples)
    ingest_rate(paths[:20], args.out / "store", 1)  # warm up: imports, first allocations
    run("as the machine is", paths, args.out, args.also_jobs)
    burners = [
        multiprocessing.Process(target=_burn, daemon=True) for _ in range(os.cpu_count() or 1)
    ]
    for b in burners:
        b.start()
    try:
        time.sleep(5)  # let the one-minute load average see the burners
        run(f"with {len(burners)} CPU burners", paths, args.out, args.also_jobs)
    finally:
        for b in burners:
            b.terminate()
            b.join()
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
