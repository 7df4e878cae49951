"""Store at scale: a one-function trend and a selector top over a day, DuckDB and Spark.

Builds (once, cached) a store of N catalog profiles (default 100,000: 50,000 inputs of
two sample types, ~2,000 samples each, about 200 million sample rows) from the
``benchmarks/synth.py`` generator that ``bench_store.py`` uses (four services, 1,500
functions and 4,000 stacks each, a profile every 15 s, ``service=``/``version=`` labels).
Ingesting 50,000 files one by one takes a long time on a small machine, so the store is
written in bulk through the store's own commit path (``Store.write``): ``--template``
distinct inputs are generated and loaded once, then committed again and again with their
profile ids renamed and their times shifted (a batch of ``--template`` inputs per
commit), so the store is an ordinary one (partitions, catalog, deduplicated stacks) whose
sample rows repeat every ``--template`` inputs.

Then it times, each as a ratio to its target:

* trend: ``Store.series("cpu", "1m", function=F)`` over every CPU profile (target 1 s);
* top: ``Store.top('cpu{service="order"}', day)`` over one day (target 2 s);

each best of 3 in this process (catalog cached), then once in a fresh process (what a
command-line user pays: interpreter, imports, the first catalog snapshot, the query);

with DuckDB (best of 3) and, when pyspark and Java are there (``--spark``), on Spark in
local mode (after one warm-up run), checking that Spark's results equal DuckDB's. The load
average is printed at start and end.

usage: python benchmarks/bench_store_scale.py [--n 100000] [--samples 2000]
       [--dir DIR (default $PROFILELAB_SCALE_DIR or /tmp/profilelab-scale)] [--spark]
       [--template 500] [--rebuild] [--delete]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import polars as pl  # noqa: E402
from synth import Program  # noqa: E402

import profilelab  # noqa: E402
from profilelab.model.ids import digest_bytes  # noqa: E402
from profilelab.store.prepare import Item  # noqa: E402

T0 = 1_700_000_000_000_000_000
STEP = 15_000_000_000  # one input every 15 s
DAY = 86_400_000_000_000
SERVICES = ("order", "cart", "users", "payments")
TREND_TARGET, TOP_TARGET = 1.0, 2.0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def template(directory: Path, inputs: int, samples: int) -> profilelab.Profile:
    """``inputs`` distinct synthetic pprof files, loaded as one Profile."""
    directory.mkdir(parents=True, exist_ok=True)
    programs = [Program(s, seed, functions=1500, stacks=4000) for seed, s in enumerate(SERVICES)]
    paths = []
    for i in range(inputs):
        prog = programs[i % 4]
        path = directory / f"t{i:05d}.pb.gz"
        if not path.exists():
            comments = (f"service={prog.name}", "version=v1")
            path.write_bytes(prog.profile(i, samples, T0 + i * STEP, comments))
        paths.append(path)
    return profilelab.load(paths)


def _renamed(prof: profilelab.Profile, k: int, shift_ns: int) -> profilelab.Profile:
    """Batch ``k``: the template's profiles with new ids and times ``shift_ns`` later."""
    salt = digest_bytes(f"scale batch {k}".encode())
    pid = pl.col("profile_id").xor(pl.lit(salt, pl.Int64))
    return prof.replace(
        profiles=prof.profiles.with_columns(
            pid, pl.col("source_id").xor(pl.lit(salt, pl.Int64)), pl.col("time_ns") + shift_ns
        ),
        samples=prof.samples.with_columns(pid),
    )


def build(root: Path, n: int, samples: int, per_batch: int) -> profilelab.Store:
    """The store of ``n`` catalog profiles (``n / 2`` inputs), cached under ``root``."""
    marker = root / f".built-{n}-{samples}-{per_batch}"
    store_dir = root / "store"
    if marker.exists():
        return profilelab.open_store(store_dir, create=False)
    shutil.rmtree(store_dir, ignore_errors=True)
    for old in root.glob(".built-*"):
        old.unlink()
    started = time.perf_counter()
    base = template(root / "template", per_batch, samples)
    print(f"  template: {per_batch} inputs loaded in {time.perf_counter() - started:.1f}s")
    store = profilelab.open_store(store_dir)
    inputs = n // 2
    for k in range(-(-inputs // per_batch)):
        prof = _renamed(base, k, k * per_batch * STEP)
        keep = min(per_batch, inputs - k * per_batch)
        if keep < per_batch:  # the last batch: its first inputs only
            first = prof.profiles.sort("time_ns").head(keep * 2)["profile_id"]
            prof = prof.replace(
                profiles=prof.profiles.filter(pl.col("profile_id").is_in(first.implode())),
                samples=prof.samples.filter(pl.col("profile_id").is_in(first.implode())),
            )
        store.write([Item(prof, digest_bytes(f"scale input batch {k}".encode()))])
        if k % 10 == 9:
            done = (k + 1) * per_batch * 2
            print(f"  {done} profiles ({time.perf_counter() - started:.0f}s, load {_load()})")
    marker.touch()
    print(f"  built in {time.perf_counter() - started:.0f}s")
    return store


def best_of(runs: int, fn):  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


FRESH = """
import sys, time
t0 = time.perf_counter()
import profilelab
t1 = time.perf_counter()
store = profilelab.open_store(sys.argv[1], create=False)
store.snapshot()
t2 = time.perf_counter()
out = eval(sys.argv[2])
t3 = time.perf_counter()
print("RESULT", t1 - t0, t2 - t1, t3 - t2, out.height)
"""


def fresh(root: Path, call: str) -> str:
    """One question asked by a new process: its wall time and parts."""
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    got = (
        subprocess.run(
            [sys.executable, "-c", FRESH, str(root), call],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        .stdout.rsplit("RESULT", 1)[-1]
        .split()
    )  # after DuckDB's progress bar, if any
    wall = time.perf_counter() - started
    imp, snap, query = (float(x) for x in got[:3])
    return (
        f"{wall:.2f}s wall (imports {imp:.2f}s, first snapshot {snap:.2f}s, "
        f"query {query:.2f}s, {got[3]} rows)"
    )


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _index_bytes(root: Path) -> int:
    return dir_bytes(root / "functions") if (root / "functions").is_dir() else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="catalog profiles (2 per input)")
    ap.add_argument("--samples", type=int, default=2_000)
    ap.add_argument("--template", type=int, default=500, help="distinct inputs per commit")
    default_dir = os.environ.get("PROFILELAB_SCALE_DIR") or "/tmp/profilelab-scale"
    ap.add_argument("--dir", type=Path, default=Path(default_dir))
    ap.add_argument("--spark", action="store_true", help="also on Spark (local mode)")
    ap.add_argument("--spark-master", default="local[*]")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--delete", action="store_true", help="delete the store at the end")
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} CPUs; load average at start: {_load()}")
    if args.rebuild:
        shutil.rmtree(args.dir, ignore_errors=True)
    store = build(args.dir, args.n, args.samples, args.template)
    started = time.perf_counter()
    snap = store.snapshot()
    open_s = time.perf_counter() - started
    cat = snap.catalog
    rows = int(cat["n_samples"].sum())
    print(
        f"store: {cat.height} profiles, {rows / 1e6:.0f} M sample rows, "
        f"{len(snap.segments)} segments, {dir_bytes(store.root) / 1e6:.0f} MB "
        f"({_index_bytes(store.root) / 1e6:.0f} MB of them the function index); "
        f"snapshot {open_s:.2f}s"
    )
    one = cat.sort("time_ns")["profile_id"][len(cat) // 2]
    probe = cat.filter(pl.col("profile_id") == one)
    store.query("cpu", probe["time_ns"][0], probe["time_ns"][0] + 1).check()

    span = int(cat["time_ns"].max()) - T0
    day0 = T0 + DAY // 2 if span >= 2 * DAY else T0  # a day inside the store
    day = (day0, day0 + DAY)
    selector = 'cpu{service="order"}'
    top_s, top = best_of(3, lambda: store.top(selector, *day))
    function = top["function"][0]
    trend_s, trend = best_of(3, lambda: store.series("cpu", "1m", function=function))
    n_day = store.profiles(selector, *day).height
    print(
        f"duckdb trend: cum of {function} per minute over {store.profiles('cpu').height} CPU "
        f"profiles: {trend_s:.3f}s ({trend.height} points), x{trend_s / TREND_TARGET:.2f} of "
        f"the {TREND_TARGET:.0f} s target"
    )
    print(
        f"duckdb top: {selector} over a day ({n_day} profiles): {top_s:.3f}s "
        f"({top.height} functions), x{top_s / TOP_TARGET:.2f} of the {TOP_TARGET:.0f} s target"
    )
    print(
        "fresh process, trend: "
        + fresh(store.root, f"store.series('cpu', '1m', function={function!r})")
    )
    print(
        "fresh process, top: " + fresh(store.root, f"store.top({selector!r}, {day[0]}, {day[1]})")
    )
    if args.spark:
        from profilelab.store.plans import Spark

        engine = Spark(master=args.spark_master)
        started = time.perf_counter()
        engine.get_session()
        start_s = time.perf_counter() - started
        print(f"spark ({args.spark_master}): session started in {start_s:.1f}s")
        store.top(selector, *day, engine=engine)  # warm-up: the JVM compiles the readers
        s_top_s, s_top = best_of(1, lambda: store.top(selector, *day, engine=engine))
        s_trend_s, s_trend = best_of(
            1, lambda: store.series("cpu", "1m", function=function, engine=engine)
        )
        print(
            f"spark trend: {s_trend_s:.2f}s (x{s_trend_s / trend_s:.1f} DuckDB), equal: "
            f"{s_trend.equals(trend)}; spark top: {s_top_s:.2f}s (x{s_top_s / top_s:.1f} "
            f"DuckDB), equal: {s_top.equals(top)}"
        )
    print(f"load average at end: {_load()}")
    if args.delete:
        shutil.rmtree(args.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
