"""Writers and text readers on big inputs; prints times and ratios to references.

Run from the checkout: ``python benchmarks/bench_formats.py [PPROF_FILE]``. References in
the same run: the pprof *reader* on the same profile (writing should cost no more than
reading), and ``go tool pprof -proto`` (parse + write in Go) when Go is installed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

import profilelab
from profilelab.writers import write
from profilelab.writers.pprof import encode

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
DEFAULT = CORPUS / "google-pprof/internal/proftest/testdata/large.cpu"


def timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def replicate(p: profilelab.Profile, times: int) -> profilelab.Profile:
    """The same samples ``times`` over (new sample indexes): a bigger profile, same tables."""
    n = int(p.samples["sample_index"].max()) + 1
    parts = [p.samples.with_columns(pl.col("sample_index") + i * n) for i in range(times)]
    return p.replace(samples=pl.concat(parts))


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    data = path.read_bytes()
    t_read = timed(lambda: profilelab.load(data))
    p = profilelab.load(data)
    t_write = timed(lambda: encode(p))
    print(f"{path.name}: {p.samples.height} sample values, {p.frames.height} frames")
    print(f"  read pprof   {t_read * 1e3:8.1f} ms")
    print(f"  write pprof  {t_write * 1e3:8.1f} ms   ({t_write / t_read:.2f}x the read)")
    go = shutil.which("go")
    if go:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "out.pb.gz"
            cmd = [go, "tool", "pprof", "-proto", "-output", str(out), str(path)]
            t_go = timed(lambda: subprocess.run(cmd, capture_output=True, check=True))
        print(f"  go tool pprof -proto (parse+write) {t_go * 1e3:8.1f} ms")
    big = replicate(p, 50)
    t_big = timed(lambda: encode(big), repeat=1)
    print(f"  write pprof, {big.samples.height} sample values: {t_big:.2f} s")
    buf = io.BytesIO()
    t_fold = timed(lambda: write(big, io.BytesIO(), "folded"), repeat=1)
    write(big, buf, "folded")
    folded_lines = buf.getvalue().count(b"\n")
    many = b"".join([buf.getvalue()] * 200)
    t_read_folded = timed(lambda: profilelab.load(many), repeat=1)
    print(
        f"  write folded (big) {t_fold:.2f} s; read folded, {200 * folded_lines} lines: "
        f"{t_read_folded:.2f} s"
    )


if __name__ == "__main__":
    main()
