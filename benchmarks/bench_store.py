"""Store benchmark: ingest rate, size on disk, per-function time series latency.

Makes N gzipped pprof CPU profiles (default 10,000 of ~2,000 samples: four services, one
synthetic program each, every profile its own seed, a time 15 s after the previous one,
and ``service=`` / ``version=`` pprof comments that become labels), then measures, each
against a reference run in the same invocation:

* ingest: inputs/s of ``Store.ingest`` (an input is one pprof file holding two sample types,
  so two catalog profiles) vs ``profilelab.load`` of a sample of the same files, one by one;
* size: store bytes on disk vs the gzipped pprof files;
* series: one function's cum per 1-minute step over every profile (``Store.series``) vs a
  plain scan of every sample value of the same files in DuckDB.

usage: python benchmarks/bench_store.py [--n 10000] [--samples 2000] [--jobs N] [--out DIR]
The profiles are cached in ``--out`` (default benchmarks/out/store) between runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from synth import Program  # noqa: E402

import profilelab  # noqa: E402
from profilelab.store.ingest import default_workers  # noqa: E402

T0 = 1_700_000_000_000_000_000
SERVICES = ("order", "cart", "users", "payments")


def make_inputs(directory: Path, n: int, samples: int) -> list[Path]:
    """The benchmark's profiles (generated once; reused while the count matches)."""
    marker = directory / f".done-{n}-{samples}"
    paths = [directory / SERVICES[i % 4] / f"p{i:06d}.pb.gz" for i in range(n)]
    for done in directory.glob(f".done-*-{samples}"):
        if int(done.name.split("-")[1]) >= n:  # a larger set made earlier: use its first n
            return paths
    shutil.rmtree(directory, ignore_errors=True)
    programs = [Program(s, seed, functions=1500, stacks=4000) for seed, s in enumerate(SERVICES)]
    started = time.perf_counter()
    for i, path in enumerate(paths):
        prog = programs[i % 4]
        path.parent.mkdir(parents=True, exist_ok=True)
        comments = (f"service={prog.name}", f"version=v1.{i // 2500}")
        path.write_bytes(prog.profile(i, samples, T0 + i * 15_000_000_000, comments))
        if i and i % 1000 == 0:
            print(f"  generated {i} profiles ({time.perf_counter() - started:.0f}s)", flush=True)
    marker.touch()
    return paths


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bench_load(paths: list[Path], k: int) -> float:
    """Reference: profilelab.load of ``k`` files, one at a time, in this process (files/s)."""
    sample = paths[:: max(1, len(paths) // k)][:k]
    started = time.perf_counter()
    for p in sample:
        profilelab.load(p)
    return len(sample) / (time.perf_counter() - started)


def best_of(runs: int, fn):  # type: ignore[no-untyped-def]
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=2_000)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "store")
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} CPUs; profiles: {args.n} x ~{args.samples} samples")
    print(f"load average before: {_load()}")
    paths = make_inputs(args.out / "inputs", args.n, args.samples)
    gz_bytes = sum(p.stat().st_size for p in paths)

    load_rate = bench_load(paths, min(200, len(paths)))
    store_dir = args.out / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    store = profilelab.open_store(store_dir)
    started = time.perf_counter()
    report = store.ingest(paths, jobs=args.jobs)
    ingest_s = time.perf_counter() - started
    assert report.ok and report.stored == len(paths), report.summary()
    ingest_rate = report.stored / ingest_s
    print(
        f"ingest: {report.summary()} (jobs: {args.jobs or default_workers() or 1}; "
        f"load average {_load()})"
    )
    print(
        f"  {ingest_rate:.0f} profiles/s vs profilelab.load {load_rate:.0f} files/s in one "
        f"process: x{ingest_rate / load_rate:.2f}"
    )
    raw_bytes = dir_bytes(store_dir)
    compact_s, _ = best_of(1, lambda: store.compact())
    store_bytes = dir_bytes(store_dir)
    print(
        f"size: store {store_bytes / 1e6:.1f} MB (before compaction {raw_bytes / 1e6:.1f} MB, "
        f"compaction {compact_s:.1f}s) vs gzipped pprof {gz_bytes / 1e6:.1f} MB: "
        f"x{store_bytes / gz_bytes:.3f}"
    )

    function = store.sql(
        "select f.function from samples s join stacks using (stack_id) "
        "join frames f on f.frame_id = frame_ids[1] group by 1 order by sum(s.value) desc limit 1"
    ).item()
    series_s, series = best_of(3, lambda: store.series("cpu", "1m", function=function))
    files = [str(store.root / f) for f in store.snapshot().files("samples/")]
    import duckdb

    con = duckdb.connect()
    scan_s, _ = best_of(
        3,
        lambda: con.sql("select sum(value) from read_parquet($f)", params={"f": files}).fetchall(),
    )
    print(
        f"series: cum of {function} per 1-minute step over {store.profiles('cpu').height} "
        f"profiles: {series_s:.3f}s ({series.height} points) vs a DuckDB scan of every sample "
        f"value {scan_s:.3f}s: x{series_s / scan_s:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
