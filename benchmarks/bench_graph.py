"""Time ``profilelab graph --format svg`` on a big profile, against a reference in the same run.

usage: python benchmarks/bench_graph.py PROFILE [--repeat 3] [--pprof]

Make the 1M-sample profile as ``benchmarks/bench_top.py`` says (shared generator). Prints
the wall time of the whole command (``python -m profilelab graph FILE --format svg``: start,
load, report, Graphviz), its steps in-process (load, DOT text, ``dot -Tsvg``), and the ratio
against ``python -m profilelab top FILE`` (load + top) measured in this same command; with
``--pprof`` also against ``go tool pprof -svg`` on the same file (about a minute per run).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import profilelab  # noqa: E402
from profilelab.render import graphviz, report  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_top import median_time  # noqa: E402


def command(*args: str) -> Callable[[], object]:
    env_cmd = [sys.executable, "-m", "profilelab", *args]
    return lambda: subprocess.run(env_cmd, capture_output=True, check=True, cwd=ROOT)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pprof", action="store_true", help="also time go tool pprof -svg")
    args = ap.parse_args()
    if shutil.which("dot") is None:
        print("Graphviz's dot is not installed")
        return 1
    path = str(args.profile.resolve())
    t = time.perf_counter()
    prof = profilelab.load(path)
    print(f"load (in-process):              {time.perf_counter() - t:.2f}s")
    dot_s = median_time(lambda: report(prof, "dot"), args.repeat)
    text = report(prof, "dot")
    svg_s = median_time(lambda: graphviz.render(text, "svg"), args.repeat)
    print(f"DOT text (after load):          {dot_s:.3f}s")
    print(f"dot -Tsvg of that text:         {svg_s:.3f}s")
    graph_s = median_time(command("graph", path, "--format", "svg", "-o", "/dev/null"), args.repeat)
    top_s = median_time(command("top", path), args.repeat)
    print(f"profilelab graph --format svg:  {graph_s:.2f}s (whole command)")
    print(f"profilelab top (load + top):    {top_s:.2f}s (whole command)")
    print(f"ratio graph svg / top:          {graph_s / top_s:.2f}")
    if args.pprof and shutil.which("go"):
        cmd = ["go", "tool", "pprof", "-symbolize=none", "-svg", "-output=/dev/null", path]
        go_s = median_time(lambda: subprocess.run(cmd, capture_output=True, check=True), 1)
        print(f"go tool pprof -svg:             {go_s:.2f}s (whole run)")
        print(f"ratio graph svg / pprof -svg:   {graph_s / go_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
