#!/usr/bin/env python3
"""Remake the project's own evidence in tests/data/evidence, then its go tool pprof goldens.

    python tests/data/make/make_evidence.py            # every kind whose tool is installed
    python tests/data/make/make_evidence.py go node    # just these kinds

The conformance tests read these inputs whether or not the full corpus (../shared/corpus)
is beside the clone: they stand in for the kinds of input only its AGPL and CDDL files
cover (Go heap/allocs/goroutine/mutex/block/threadcreate and labelled CPU profiles, Java,
Python, Node.js, perf). Everything here is made by this project's programs and licensed
with it:

* ``go/``: ``tests/data/make/goprofiles`` (standard library only) writes one profile of each
  kind ``runtime/pprof`` has, from a workload with pprof labels, span ids, inlined frames,
  contention, parked goroutines and stacks deeper than the runtime records.
* ``java/``: the JDK's own recording of the project's Java service
  (``datasets/java-service/window-00.jfr``, ``-XX:StartFlightRecording``), one pprof file per
  sample type, written by ``profilelab convert``.
* ``python/``: py-spy's and cProfile's recordings of ``tests/data/python/prog.py``, as pprof.
* ``node/``: ``node --cpu-prof`` of ``tests/data/make/node/work.js``, as pprof.
* ``perf/``: ``perf record -g`` + ``perf script`` of the Go program, as pprof.
* ``pyroscope/``: what the pyroscope-io SDK pushes (pprof, pyroscope-rs) while profiling
  ``tests/data/make/pyroscope_app.py``, captured on loopback.
* ``tests/data/perf-script/`` (kind ``perf-script``): ``perf script`` text of the Go program
  and of ``node --perf-basic-prof`` (kernel, JIT and unsymbolized frames), with perf's own
  folding of the same recordings (its ``stackcollapse.py`` script, per root option) as the
  oracle the perf script tests compare with. No goldens: text, not pprof.
* ``tests/data/jfr/jdk-print/`` (kind ``jfr-print``): the JDK's own reading of the Java
  service's recordings (``datasets/java-service/window-*.jfr``), ``jfr print --json`` of
  their execution, allocation and old-object samples with whole stacks, as the oracle of
  the JFR reader's samples, stacks, lines, threads and times (tests/test_jfr.py).

Profiles are samples of real runs: a re-run gives similar files, never identical ones, so
the goldens are remade with them (``tests/golden/generate.py --own``, Go's ``go tool
pprof``); the differences from pprof the old files showed are listed, by case id, in
``KNOWN`` of tests/test_golden_pprof.py: check them after a re-run. Needs go; the other
kinds are skipped, with a line, when their tool is missing.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = ROOT / "tests" / "data" / "evidence"
JFR = ROOT / "datasets" / "java-service" / "window-00.jfr"
PYTHON = ROOT / "tests" / "data" / "python"


def run(*args: str | Path, cwd: Path | None = None, **kw: object) -> None:
    print("+", " ".join(map(str, args)), flush=True)
    subprocess.run([str(a) for a in args], cwd=cwd, check=True, **kw)  # type: ignore[call-overload]


def convert(src: Path, dst: Path, *opts: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run(sys.executable, "-m", "profilelab", "convert", *opts, src, dst, env=env)


def go_binary(tmp: Path) -> Path:
    exe = tmp / "goprofiles"
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-trimpath"}
    run("go", "build", "-o", exe, ".", cwd=HERE / "goprofiles", env=env)
    return exe


def make_go(tmp: Path) -> None:
    run(go_binary(tmp), "-out", OUT / "go", "-seconds", "3")


def make_java(tmp: Path) -> None:
    import profilelab

    types = profilelab.load(JFR).profiles["sample_type"].to_list()
    for index, name in enumerate(types):
        convert(JFR, OUT / "java" / f"window-00.{name}.pb.gz", "--sample-index", str(index))


def make_python(tmp: Path) -> None:
    convert(PYTHON / "prog.speedscope.json", OUT / "python" / "prog.py-spy.pb.gz")
    convert(PYTHON / "prog.pstats", OUT / "python" / "prog.cprofile.pb.gz")


def make_node(tmp: Path) -> None:
    run(
        "node",
        "--cpu-prof",
        "--cpu-prof-dir",
        tmp / "node",
        "--cpu-prof-interval",
        "2000",
        HERE / "node" / "work.js",
    )
    (prof,) = (tmp / "node").glob("*.cpuprofile")
    convert(prof, OUT / "node" / "work.pb.gz")


def make_pyroscope(tmp: Path) -> None:
    """Every pprof the pyroscope-io SDK pushes while ``pyroscope_app.py`` runs, as sent."""
    from profilelab.store.pyroscope import PUSH_PATH, PushRequest

    raw: list[bytes] = []

    class Capture(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == PUSH_PATH:
                req = PushRequest.FromString(body)
                raw.extend(s.raw_profile for series in req.series for s in series.samples)
            self.send_response(200)
            self.send_header("Content-Type", "application/proto")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        run(sys.executable, HERE / "pyroscope_app.py", url, timeout=120)
    finally:
        server.shutdown()
    for i, data in enumerate(raw):
        packed = data if data[:2] == b"\x1f\x8b" else gzip.compress(data, mtime=0)
        (OUT / "pyroscope" / f"push-{i}.pb.gz").write_bytes(packed)


def make_perf(tmp: Path) -> None:
    exe = go_binary(tmp)
    data = tmp / "perf.data"
    run(
        "perf",
        "record",
        "-q",
        "-F",
        "499",
        "-g",
        "-o",
        data,
        "--",
        exe,
        "-out",
        tmp,
        "-seconds",
        "1",
    )
    script = tmp / "goprofiles.perf"
    with script.open("wb") as out:
        run("perf", "script", "-i", data, stdout=out)
    convert(script, OUT / "perf" / "goprofiles.pb.gz")


PERF_SCRIPT = ROOT / "tests" / "data" / "perf-script"
#: perf script fields: the header stackcollapse-perf.pl reads (``comm pid/tid [cpu] time:
#: period event:``), then ``address symbol+offset (binary)`` frames
PERF_FIELDS = "comm,pid,tid,cpu,time,period,event,ip,sym,symoff,dso"
#: root option -> the arguments of perf's stackcollapse.py that make it
STACKCOLLAPSE = {
    "comm": [],
    "pid": ["--include-pid"],
    "tid": ["--include-pid", "--include-tid"],
    "kernel": ["--kernel"],
}


def _stackcollapse_script() -> Path:
    """perf's own stackcollapse.py (Debian: /usr/lib/perf-core/scripts/python)."""
    for base in ("/usr/lib/perf-core", "/usr/libexec/perf-core", "/usr/share/perf-core"):
        script = Path(base) / "scripts" / "python" / "stackcollapse.py"
        if script.is_file():
            return script
    raise SystemExit("make_evidence: perf's scripts/python/stackcollapse.py is not installed")


def _perf_record(tmp: Path, name: str, hz: int, *cmd: str | Path) -> None:
    """Record ``cmd`` with call stacks; keep its perf script text and perf's foldings."""
    data = tmp / f"{name}.data"
    run(
        "perf", "record", "-q", "--sample-cpu", "-F", str(hz), "-g", "-o", data, "--", *cmd, cwd=tmp
    )
    text = subprocess.run(
        ["perf", "script", "-F", PERF_FIELDS, "-i", str(data)], check=True, capture_output=True
    ).stdout
    (PERF_SCRIPT / f"{name}.perf.gz").write_bytes(gzip.compress(text, mtime=0))
    for option, args in STACKCOLLAPSE.items():
        cmd_ = ["perf", "script", "-i", str(data), "-s", str(_stackcollapse_script())]
        folded = subprocess.run([*cmd_, "--", *args], check=True, capture_output=True).stdout
        out = PERF_SCRIPT / f"{name}.stackcollapse-{option}.txt.gz"
        out.write_bytes(gzip.compress(folded, mtime=0))


def make_perf_script(tmp: Path) -> None:
    exe = go_binary(tmp)
    (tmp / "go").mkdir(exist_ok=True)
    _perf_record(tmp, "goprofiles", 999, exe, "-out", tmp / "go", "-seconds", "1")
    work = HERE / "node" / "work.js"
    _perf_record(tmp, "node-work", 199, "node", "--perf-basic-prof", work)


JDK_PRINT = ROOT / "tests" / "data" / "jfr" / "jdk-print"
#: the events the JFR reader makes sample types of (cpu; alloc_sample_*; live)
JFR_EVENTS = "jdk.ExecutionSample,jdk.ObjectAllocationSample,jdk.OldObjectSample"


def make_jfr_print(tmp: Path) -> None:
    for recording in sorted(JFR.parent.glob("window-*.jfr")):
        printed = subprocess.run(
            ["jfr", "print", "--json", "--events", JFR_EVENTS, "--stack-depth", "2048", recording],
            check=True,
            capture_output=True,
        ).stdout
        out = JDK_PRINT / f"{recording.stem}.jfr-print.json.gz"
        out.write_bytes(gzip.compress(printed, mtime=0))


def destination(kind: str) -> Path:
    return {"perf-script": PERF_SCRIPT, "jfr-print": JDK_PRINT}.get(kind, OUT / kind)


#: kind -> (the program it needs, or None, how to make it)
KINDS: dict[str, tuple[str | None, Callable[[Path], None]]] = {
    "go": ("go", make_go),
    "java": (None, make_java),
    "python": (None, make_python),
    "node": ("node", make_node),
    "perf": ("perf", make_perf),
    "pyroscope": ("pyroscope", make_pyroscope),
    "perf-script": ("perf", make_perf_script),
    "jfr-print": ("jfr", make_jfr_print),
}


def _missing(tool: str | None) -> bool:
    if tool == "pyroscope":
        return importlib.util.find_spec("pyroscope") is None
    return tool is not None and shutil.which(tool) is None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kinds", nargs="*", choices=[*KINDS, []], help="default: all")
    kinds = ap.parse_args().kinds or list(KINDS)
    if shutil.which("go") is None:
        print("make_evidence: go is needed (go tool pprof makes the goldens)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            tool, make = KINDS[kind]
            if _missing(tool):
                print(f"make_evidence: {tool} is not installed: {kind}/ kept as it is")
                continue
            shutil.rmtree(destination(kind), ignore_errors=True)
            destination(kind).mkdir(parents=True)
            (Path(tmp) / kind).mkdir()
            make(Path(tmp))
    if set(kinds) - {"perf-script", "jfr-print"}:  # the pprof kinds: remake their goldens
        run(
            sys.executable,
            ROOT / "tests" / "golden" / "generate.py",
            "--own",
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
