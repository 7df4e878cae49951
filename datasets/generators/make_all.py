#!/usr/bin/env python3
"""Rebuild every dataset under datasets/ by running the Go programs next to this script.

    python datasets/generators/make_all.py                 # all datasets, full size
    python datasets/generators/make_all.py heap-leak       # just one
    python datasets/generators/make_all.py --quick --out /tmp/ds   # small, for tests

Each dataset directory is deleted and rebuilt. The Go programs use the standard library
only (no module downloads: GOPROXY=off) and are built with -trimpath so that file names in
the profiles do not depend on the checkout's location. Workloads use fixed seeds, but CPU
profiles are statistical samples of a real run, and heap profiles sample allocations at
random: a re-run gives statistically similar files, never byte-identical ones.

The environment (Go version, machine, date) and every command with its output are written
to <out>/generation.log. Steps that run after generation (for example converting the
profiles to OTLP) are listed in POST_STEPS: add a function there to extend the pipeline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent


@dataclass(frozen=True)
class Run:
    """One invocation of a generator binary (the output directory is added as -out)."""

    program: str
    args: str
    quick_args: str


TRACED = "-mode traced -version v2.3.5 -region eu-west-1 -instance order-euw1-0 -hz 200 -rate 400"
TWO_INSTANCES = "-instances us-east-1/order-use1-0,eu-west-1/order-euw1-0"

# One entry per dataset: the runs that build it, in order (later runs append to index.csv).
# Arguments are (full, quick), written as command-line strings.
DATASETS: dict[str, list[Run]] = {
    "checkout-api": [
        Run(
            "checkout-api",
            f"-variant {variant} -profiles 3 -window 2s -hz 200",
            f"-variant {variant} -profiles 1 -window 300ms -hz 200",
        )
        for variant in ("before", "after")
    ],
    "heap-leak": [
        Run(
            "heap-leak",
            "-snapshots 12 -interval 500ms -logins 800 -pages 3000",
            "-snapshots 3 -interval 100ms -logins 200 -pages 500",
        )
    ],
    "goroutine-leak": [
        Run(
            "goroutine-leak",
            f"-variant {variant} -snapshots 12 -interval 500ms",
            f"-variant {variant} -snapshots 3 -interval 100ms",
        )
        for variant in ("leaking", "fixed")
    ],
    "order-service": [
        Run(
            "order-service",
            f"-mode fleet -version {version} -profiles 6 -window 3s -hz 200 -rate 400",
            f"-mode fleet -version {version} -profiles 2 -window 400ms -hz 200 -rate 400 "
            + TWO_INSTANCES,
        )
        for version in ("v2.3.5", "v2.3.6")
    ],
    "traced-order-service": [
        Run(
            "order-service",
            f"{TRACED} -slow 0.05 -profiles 4 -window 3s",
            f"{TRACED} -slow 0.05 -profiles 2 -window 500ms",
        )
    ],
    "traced-detour-service": [
        Run(
            "order-service",
            f"{TRACED} -detour -slow 0.1 -rate 100 -profiles 3 -window 3s",
            f"{TRACED} -detour -slow 0.1 -rate 100 -profiles 2 -window 500ms",
        )
    ],
}

PostStep = Callable[[str, Path, "Log"], None]


def write_otlp_copies(name: str, target: Path, log: Log) -> None:
    """Write every profile of the dataset again as gzipped binary OTLP under ``otlp/``."""
    import gzip
    import io

    import polars as pl

    import profilelab
    from profilelab.datasets import otlp_file
    from profilelab.writers import write

    files = pl.read_csv(target / "index.csv")["file"].to_list()
    for file in files:
        buf = io.BytesIO()
        write(profilelab.load(target / file), buf, "otlp")
        out = target / otlp_file(file)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(gzip.compress(buf.getvalue(), compresslevel=9, mtime=0))
    log.write(f"{name}: wrote {len(files)} OTLP copies under otlp/")


#: Functions run after a dataset is generated: (name, dataset directory, log).
POST_STEPS: list[PostStep] = [write_otlp_copies]


class Log:
    """Appends to generation.log and echoes to stdout."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("a", encoding="utf-8")

    def write(self, text: str) -> None:
        print(text, flush=True)
        self.file.write(text + "\n")
        self.file.flush()


def go_env() -> dict[str, str]:
    """The environment for go: no module proxy, no third-party modules."""
    # GOTOOLCHAIN=local stops newer go commands from downloading another toolchain.
    return dict(os.environ, GOPROXY="off", GOTOOLCHAIN="local", CGO_ENABLED="0")


def describe_machine() -> list[str]:
    """Lines describing the toolchain and machine, for generation.log."""
    go = subprocess.run(["go", "version"], capture_output=True, text=True, check=True)
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"go: {go.stdout.strip()}",
        f"machine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({cpu})",
        f"python: {platform.python_version()}",
    ]


def build(programs: set[str], bindir: Path, log: Log) -> None:
    """go build -trimpath each generator into bindir."""
    for program in sorted(programs):
        cmd = ["go", "build", "-trimpath", "-o", str(bindir / program), f"./{program}"]
        log.write(f"$ go build -trimpath -o $BIN/{program} ./{program}")
        subprocess.run(cmd, cwd=HERE, env=go_env(), check=True)


def generate(name: str, out: Path, bindir: Path, quick: bool, log: Log) -> None:
    """Delete and rebuild one dataset directory."""
    target = out / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    log.write(f"\n## {name}")
    for run in DATASETS[name]:
        args = (run.quick_args if quick else run.args).split()
        cmd = [str(bindir / run.program), *args, "-out", str(target)]
        log.write(f"$ {run.program} {' '.join(args)} -out {name}")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=go_env())
        for line in proc.stdout.splitlines():
            log.write("  " + line)
        # StartCPUProfile warns when the rate was set beforehand (dsutil.CPUProfile).
        noise = "cannot set cpu profile rate"
        for line in proc.stderr.splitlines():
            if noise not in line:
                log.write("  stderr: " + line)
        if proc.returncode:
            raise SystemExit(f"{run.program} failed with exit code {proc.returncode}")
    for step in POST_STEPS:
        step(name, target, log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"datasets to build (default: {list(DATASETS)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where dataset dirs go")
    parser.add_argument("--quick", action="store_true", help="tiny runs, for tests")
    opts = parser.parse_args(argv)
    names = opts.names or list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
    if shutil.which("go") is None:
        parser.error("the Go toolchain (go) is not on PATH")
    opts.out.mkdir(parents=True, exist_ok=True)
    log_path = opts.out / "generation.log"
    if set(names) == set(DATASETS):
        log_path.unlink(missing_ok=True)
    log = Log(log_path)
    log.write(f"# make_all.py {' '.join(sys.argv[1:])}")
    for line in describe_machine():
        log.write(line)
    with tempfile.TemporaryDirectory(prefix="profilelab-gen-") as tmp:
        bindir = Path(tmp)
        build({run.program for n in names for run in DATASETS[n]}, bindir, log)
        for name in names:
            generate(name, opts.out, bindir, opts.quick, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
