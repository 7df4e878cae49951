"""Check that two checkouts store the same content: ingest the same inputs with each, compare.

Ingests, in a fresh process per checkout (``PYTHONPATH`` set to it), the first ``--files``
profiles of ``bench_ingest.py`` and every file of the conformance corpus under 3 MB
(``../shared/corpus``; pprof, OTLP and the other formats, the bad ones included) into a
fresh store each, in one ``Store.ingest`` call with ``--jobs`` (default 1), then compares:

* the ingest reports: counts, and each failed input with its message;
* every Parquet file of the two stores, paired by directory and commit order (files are
  named by their commit, so the names differ): the catalog without the columns a commit
  sets (segment, file names, ingest time), the samples, the function index and the
  dictionaries (stacks, frames, mappings, labels), row for row, in stored order, and each
  file's Parquet schema.

Prints the differences (none: "identical") and exits 1 when there are any. A speed change
that is not meant to change what is stored must leave this at "identical".

usage: python benchmarks/compare_stores.py --base /work/base [--other .] [--files 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Catalog columns a commit sets from its own id, files and clock.
COMMIT_COLUMNS = ("segment", "samples_file", "functions_file", "ingested_ns")
#: The store's table directories, each compared file by file.
TABLES = ("catalog", "samples", "functions", "stacks", "frames", "mappings", "labels")

_INGEST = """
import json, sys
import profilelab
from profilelab.store.ingest import reuse_freed_memory
reuse_freed_memory()
store_dir, jobs, listing = sys.argv[1], int(sys.argv[2]), sys.argv[3]
paths = open(listing).read().splitlines()
report = profilelab.open_store(store_dir).ingest(paths, jobs=jobs)
print(json.dumps({
    "inputs": report.inputs, "stored": report.stored, "skipped": report.skipped,
    "profiles": report.profiles, "samples": report.samples, "failed": report.failed,
    "segments": len(report.segments),
}))
"""


def inputs(files: int, corpus: Path) -> list[str]:
    sys.path.insert(0, str(HERE))
    from bench_ingest import make_inputs

    bench = make_inputs(HERE / "out" / "ingest" / "inputs", max(files, 500), 100)[:files]
    found = sorted(p for p in corpus.rglob("*") if p.is_file() and p.stat().st_size < 3 << 20)
    return [str(p) for p in bench] + [str(p) for p in found]


def ingest(checkout: Path, store: Path, jobs: int, listing: Path) -> dict[str, object]:
    """The ingest report of ``checkout``'s code, run in a process of its own."""
    shutil.rmtree(store, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = [sys.executable, "-c", _INGEST, str(store), str(jobs), str(listing)]
    done = subprocess.run(cmd, env=env, cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"ingest with {checkout} failed:\n{done.stderr}")
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def files_by_place(store: Path, table: str) -> dict[str, list[Path]]:
    """The Parquet files of one table, per directory (relative), in commit order."""
    out: dict[str, list[Path]] = {}
    for path in sorted((store / table).rglob("*.parquet")):
        out.setdefault(str(path.parent.relative_to(store)), []).append(path)
    return {place: sorted(paths, key=lambda p: p.name) for place, paths in out.items()}


def compare_table(a: Path, b: Path, table: str) -> list[str]:
    import polars as pl
    import pyarrow.parquet as pq

    diffs: list[str] = []
    left, right = files_by_place(a, table), files_by_place(b, table)
    if sorted(left) != sorted(right):
        only = sorted(set(left) ^ set(right))
        return [f"{table}: directories differ: {only[:5]}"]
    for place in sorted(left):
        if len(left[place]) != len(right[place]):
            diffs.append(f"{place}: {len(left[place])} files against {len(right[place])}")
            continue
        for fa, fb in zip(left[place], right[place], strict=True):
            sa, sb = pq.read_schema(fa), pq.read_schema(fb)
            if not sa.remove_metadata().equals(sb.remove_metadata()):
                diffs.append(f"{place}/{fa.name}: Parquet schema differs")
            da, db = pl.read_parquet(fa), pl.read_parquet(fb)
            if table == "catalog":
                da, db = da.drop(COMMIT_COLUMNS), db.drop(COMMIT_COLUMNS)
            if not da.equals(db):
                diffs.append(f"{place}/{fa.name} vs {fb.name}: rows differ")
    return diffs


def compare_reports(ra: dict[str, object], rb: dict[str, object]) -> list[str]:
    diffs = [f"report {k}: {ra[k]} against {rb[k]}" for k in ra if k != "failed" and ra[k] != rb[k]]
    fa = [tuple(x) for x in ra["failed"]]  # type: ignore[attr-defined]
    fb = [tuple(x) for x in rb["failed"]]  # type: ignore[attr-defined]
    diffs += [f"failed only with the base: {x}" for x in fa if x not in fb]
    diffs += [f"failed only with the other: {x}" for x in fb if x not in fa]
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="the reference checkout")
    ap.add_argument("--other", type=Path, default=HERE.parent, help="the checkout to check")
    ap.add_argument("--files", type=int, default=300, help="bench_ingest.py profiles")
    ap.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared" / "corpus")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "compare")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    listing = args.out / "inputs.txt"
    listing.write_text("\n".join(inputs(args.files, args.corpus)) + "\n")
    stores = (args.out / "base", args.out / "other")
    ra = ingest(args.base.resolve(), stores[0], args.jobs, listing)
    rb = ingest(args.other.resolve(), stores[1], args.jobs, listing)
    print(f"base:  {json.dumps({k: v for k, v in ra.items() if k != 'failed'})}")
    print(f"other: {json.dumps({k: v for k, v in rb.items() if k != 'failed'})}")
    print(f"failures: {len(ra['failed'])} / {len(rb['failed'])}")  # type: ignore[arg-type]
    diffs = compare_reports(ra, rb)
    for table in TABLES:
        got = compare_table(*stores, table)
        n = sum(len(v) for v in files_by_place(stores[0], table).values())
        print(f"{table}: {n} files, {'identical' if not got else f'{len(got)} differences'}")
        diffs += got
    for d in diffs[:40]:
        print("  " + d)
    print("identical" if not diffs else f"{len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
