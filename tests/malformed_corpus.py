"""A corpus of malformed inputs for every reader, and the worker that checks how each ends.

``python3 tests/malformed_corpus.py OUTDIR`` writes the corpus (file names say what each
input is); ``tests/test_malformed_corpus.py`` writes it to a temporary directory and runs
every input through ``profilelab.load`` / ``profilelab.load_traces`` and the command line.

Kinds, for every format (pprof, legacy, OTLP binary and JSON, folded, speedscope sampled
and evented, Chrome ``.cpuprofile``, OTLP traces, Jaeger, Zipkin; pstats, Chrome trace
events, JFR and ``perf script`` text from their own test data): empty, truncated,
damaged bytes, truncated gzip; for the JSON formats every value kind in the wrong place
(wrong types, NaN, infinities, huge integers, lone surrogates); deep, cyclic and chained
trees; decompression bombs; hostile frame and file names; a FIFO, a symlink to
``/dev/zero`` and a directory. Valid seeds come from profilelab's own writers (one tiny
profile written as pprof, OTLP, speedscope and folded) and from the traced-service fixture.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import re
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests"):  # as pytest's rootdir and conftest set them up
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from tests import _tracefix  # noqa: E402
from tests.pprof_build import PprofBuilder  # noqa: E402
from tests.test_pprof_malformed import gzip_of_zeros  # noqa: E402

PROFILE, TRACES = "profile", "traces"
DATA = ROOT / "tests" / "data"
SPECIAL = ("fifo", "devzero", "directory")


@dataclass(frozen=True)
class Case:
    """One malformed input: a file name, what reads it, and its bytes (or a special file)."""

    name: str
    kind: str  # PROFILE or TRACES
    data: bytes = b""
    special: str | None = None  # one of SPECIAL


# ---- valid seeds --------------------------------------------------------------------------


def _pprof_seed() -> bytes:
    b = PprofBuilder([("samples", "count"), ("cpu", "nanoseconds")])
    main, work = b.function("main.main", "main.go"), b.function("main.work", "work.go")
    b.sample([b.location(work, line=7), b.location(main, line=3)], [3, 30_000_000])
    b.sample([b.location(main, line=4)], [1, 10_000_000])
    return b.bytes()


def _written(fmt: str) -> bytes:
    import profilelab
    from profilelab.writers import write

    out = io.BytesIO()
    write(profilelab.load(_pprof_seed(), name="seed.pb"), out, fmt)
    return out.getvalue()


CPUPROFILE = {
    "nodes": [
        {"id": 1, "callFrame": {"functionName": "(root)", "url": ""}, "children": [2]},
        {
            "id": 2,
            "callFrame": {"functionName": "main", "url": "a.js", "lineNumber": 1},
            "hitCount": 2,
            "children": [3],
        },
        {"id": 3, "callFrame": {"functionName": "work", "url": "a.js"}, "hitCount": 5},
    ],
    "startTime": 0,
    "endTime": 1000,
    "samples": [2, 3, 3],
    "timeDeltas": [10, 10, 10],
}

EVENTED = {
    "$schema": "https://www.speedscope.app/file-format-schema.json",
    "shared": {"frames": [{"name": "main"}, {"name": "work", "file": "w.go", "line": 3}]},
    "profiles": [
        {
            "type": "evented",
            "name": "p",
            "unit": "milliseconds",
            "startValue": 0,
            "endValue": 10,
            "events": [
                {"type": "O", "frame": 0, "at": 0},
                {"type": "O", "frame": 1, "at": 2},
                {"type": "C", "frame": 1, "at": 5},
                {"type": "C", "frame": 0, "at": 10},
            ],
        }
    ],
}

LEGACY_HEAP = (
    b"heap profile: 2: 2048 [ 4: 4096] @ heap/1048576\n"
    b"1: 1024 [2: 2048] @ 0x401000 0x402000\n"
    b"1: 1024 [2: 2048] @ 0x401000\n"
)


PERF_SCRIPT = (
    b"prog 1234 1000.000001: 250000 cpu-clock:\n"
    b"\t  401000 work+0x10 (/bin/prog)\n\t  402000 main+0x20 (/bin/prog)\n\n"
    b"prog 1234 1000.000251: 250000 cpu-clock:\n\t  402000 main+0x20 (/bin/prog)\n\n"
)


def seeds() -> dict[str, tuple[str, bytes]]:
    """Name -> (kind, valid bytes) for every format."""
    world = _tracefix.make_world(n_requests=2)
    return {
        "pprof": (PROFILE, _pprof_seed()),
        "otlp": (PROFILE, _written("otlp")),
        "otlp-json": (PROFILE, _written("otlp-json")),
        "speedscope": (PROFILE, _written("speedscope")),
        "evented": (PROFILE, json.dumps(EVENTED).encode()),
        "folded": (PROFILE, _written("folded")),
        "cpuprofile": (PROFILE, json.dumps(CPUPROFILE).encode()),
        "legacy": (PROFILE, LEGACY_HEAP),
        "otlp-traces": (TRACES, _tracefix.otlp_proto(world)),
        "otlp-traces-json": (TRACES, _tracefix.otlp_json(world)),
        "jaeger": (TRACES, _tracefix.jaeger_json(world)),
        "zipkin": (TRACES, _tracefix.zipkin_json(world)),
        # formats added later, from the test data of their own readers
        "pstats": (PROFILE, (DATA / "python" / "prog.pstats").read_bytes()),
        "trace-event": (PROFILE, (DATA / "python" / "prog.chrometrace.json").read_bytes()),
        "jfr": (PROFILE, (DATA / "jfr" / "heavy.jfr").read_bytes()),
        "perf-script": (PROFILE, PERF_SCRIPT),
    }


# ---- mutations ----------------------------------------------------------------------------

#: Values put in place of a JSON value: wrong types, non-finite and huge numbers, surrogates.
HOSTILE_VALUES: dict[str, Any] = {
    "zero": 0,
    "string": "x",
    "null": None,
    "list": [],
    "object": {},
    "list-of-int": [0],
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "huge-int": 2**70,
    "-huge-int": -(2**70),
    "huge-float": 1e300,
    "surrogate": "\ud800",
    "bool": True,
}


def _sites(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in a JSON document (pre-order)."""
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _sites(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield from _sites(v, (*path, i))


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(doc))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


def _json_cases(fmt: str, kind: str, data: bytes) -> Iterator[Case]:
    """Each hostile value at several places of the document (chosen with a fixed seed)."""
    doc = json.loads(data)
    sites = list(_sites(doc))
    rng = random.Random(fmt)
    for label, value in HOSTILE_VALUES.items():
        for k, path in enumerate(rng.sample(sites, min(1, len(sites)))):
            text = json.dumps(_replaced(doc, path, value))  # NaN/Infinity as JSON extensions
            yield Case(f"{fmt}.{label}.{k}.json", kind, text.encode())


def _byte_cases(fmt: str, kind: str, data: bytes) -> Iterator[Case]:
    rng = random.Random(fmt)
    yield Case(f"{fmt}.truncated", kind, data[: len(data) // 2])
    yield Case(f"{fmt}.truncated-gz", kind, gzip.compress(data)[:-9])
    for k in range(3):
        damaged = bytearray(data)
        for _ in range(4):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        yield Case(f"{fmt}.damaged.{k}", kind, bytes(damaged))


def _shared_cases() -> Iterator[Case]:
    yield Case("empty", PROFILE, b"")
    yield Case("garbage", PROFILE, bytes(random.Random(1).randrange(256) for _ in range(4096)))
    yield Case("deep-json-list", PROFILE, b"[" * 200_000)
    yield Case("deep-json-traces", TRACES, b'{"resourceSpans":' + b"[" * 200_000)
    yield Case("json-lines-garbage", TRACES, b'{"resourceSpans":[]}\n{"a":\n')
    yield Case("otlp-json-items-0", PROFILE, b'{"resourceProfiles":[0]}')
    yield Case("otlp-json-scope-0", PROFILE, b'{"resourceProfiles":[{"scopeProfiles":[0]}]}')
    yield Case("otlp-json-dict-list", PROFILE, b'{"resourceProfiles":[],"dictionary":[1]}')
    yield Case("otlp-traces-items-0", TRACES, b'{"resourceSpans":[0]}')
    yield Case("jaeger-data-0", TRACES, b'{"data":[{"traceID":"1","spans":[0,{"spanID":[]}]}]}')
    yield Case("zipkin-ids-objects", TRACES, b'[{"traceId":{},"id":[],"timestamp":"x"}]')


# ---- trees: deep, cyclic, chained ----------------------------------------------------------


def _cpuprofile_chain(n: int) -> bytes:
    nodes = [
        {"id": i, "callFrame": {"functionName": f"f{i}", "url": "x.js"}, "hitCount": 1}
        | ({"children": [i + 1]} if i < n else {})
        for i in range(1, n + 1)
    ]
    return json.dumps({"nodes": nodes, "startTime": 0, "endTime": 1}).encode()


def _cpuprofile_cycle(n: int) -> bytes:
    nodes = [
        {"id": i, "callFrame": {"functionName": f"f{i}"}, "hitCount": 1, "parent": i % n + 1}
        for i in range(1, n + 1)
    ]
    return json.dumps({"nodes": nodes}).encode()


def _evented_deep(depth: int) -> bytes:
    events = [{"type": "O", "frame": i % 2, "at": i} for i in range(depth)]
    events += [
        {"type": "C", "frame": i % 2, "at": depth + k} for k, i in enumerate(reversed(range(depth)))
    ]
    doc = json.loads(json.dumps(EVENTED))
    doc["profiles"][0]["events"] = events
    doc["profiles"][0]["endValue"] = 2 * depth
    return json.dumps(doc).encode()


def _zipkin_links(n: int, cycle: bool) -> bytes:
    spans = [
        {
            "traceId": "1" * 32,
            "id": f"{i + 1:016x}",
            "timestamp": 1_700_000_000_000_000 + i,
            "duration": 10,
            "name": "op",
            "localEndpoint": {"serviceName": "svc"},
        }
        | ({"parentId": f"{(i + 1) % n + 1:016x}"} if cycle or i + 1 < n else {})
        for i in range(n)
    ]
    return json.dumps(spans).encode()


def _jaeger_cycle(n: int) -> bytes:
    spans = [
        {
            "traceID": "1" * 32,
            "spanID": f"{i + 1:016x}",
            "operationName": "op",
            "startTime": 1_700_000_000_000_000,
            "duration": 5,
            "references": [
                {"refType": "CHILD_OF", "traceID": "1" * 32, "spanID": f"{(i + 1) % n + 1:016x}"}
            ],
        }
        for i in range(n)
    ]
    return json.dumps({"data": [{"traceID": "1" * 32, "spans": spans, "processes": {}}]}).encode()


def _tree_cases() -> Iterator[Case]:
    yield Case("cpuprofile.chain-6000.json", PROFILE, _cpuprofile_chain(6000))
    yield Case("cpuprofile.chain-30000.json", PROFILE, _cpuprofile_chain(30_000))
    yield Case("cpuprofile.cycle-1000.json", PROFILE, _cpuprofile_cycle(1000))
    yield Case("evented.depth-10000.json", PROFILE, _evented_deep(10_000))
    yield Case("zipkin.cycle-10000.json", TRACES, _zipkin_links(10_000, cycle=True))
    yield Case("zipkin.chain-10000.json", TRACES, _zipkin_links(10_000, cycle=False))
    yield Case("jaeger.cycle-10000.json", TRACES, _jaeger_cycle(10_000))
    yield Case("folded.stack-100000-frames", PROFILE, b";".join([b"f"] * 100_000) + b" 1\n")


# ---- numbers, bombs, names, special files ----------------------------------------------------


def _pprof_values(*values: int) -> bytes:
    b = PprofBuilder([("cpu", "nanoseconds")])
    loc = b.location(b.function("main.main"))
    for v in values:
        b.sample([loc], [v])
    return b.bytes()


def _number_cases() -> Iterator[Case]:
    near = 2**63 - 1
    yield Case("pprof.sum-past-2^63.pb", PROFILE, _pprof_values(near, near, 5))
    yield Case("pprof.sum-past--2^63.pb", PROFILE, _pprof_values(-near, -near))
    yield Case("folded.count-2^64", PROFILE, b"main;work 18446744073709551616\n")
    yield Case("folded.counts-sum-past-2^63", PROFILE, b"a 9223372036854775807\nb 9\n")


def _bomb_cases() -> Iterator[Case]:
    yield Case("bomb.zeros-2GiB.gz", PROFILE, gzip_of_zeros(2048))
    head = b'{"resourceProfiles":[' + b" " * 100
    yield Case("bomb.json-head-1GiB.gz", PROFILE, gzip_of_zeros(1024, head))
    yield Case("bomb.traces-head-1GiB.gz", TRACES, gzip_of_zeros(1024, b'{"resourceSpans":['))


def _name_cases() -> Iterator[Case]:
    nasty = ["line\nbreak", "\x1b[31mred\x1b[0m", "\u202eevil", "\ufffd\x00nul", "x" * 10_000]
    b = PprofBuilder()
    for name in nasty:
        b.sample([b.location(b.function(name, name))], [1])
    yield Case("pprof.hostile-frame-names.pb", PROFILE, b.bytes())
    yield Case("folded.hostile-names", PROFILE, b"\x1b[2J;\xed\xa0\x80;\xff\xfe 3\n")
    yield Case("name with\nnewline.folded", PROFILE, b"garbage that is not folded\n")
    yield Case("é 🔥 \u202e.pb", PROFILE, b"\x00\x01 not a profile")


def cases() -> list[Case]:
    """Every case, in a fixed order."""
    out: list[Case] = []
    for fmt, (kind, data) in seeds().items():
        out.extend(_byte_cases(fmt, kind, data))
        if data.lstrip()[:1] in (b"{", b"["):
            out.extend(_json_cases(fmt, kind, data))
    for group in (_shared_cases, _tree_cases, _number_cases, _bomb_cases, _name_cases):
        out.extend(group())
    out.extend(Case(s, kind, special=s) for s in SPECIAL for kind in (PROFILE, TRACES))
    return out


def write(outdir: Path) -> list[tuple[Path, Case]]:
    """Write every case under ``outdir``; special files are made (FIFO, symlink, directory)."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for n, case in enumerate(cases()):
        path = outdir / f"{n:03d}-{case.kind}-{case.name}"
        if case.special == "fifo":
            os.mkfifo(path)
        elif case.special == "devzero":
            path.symlink_to("/dev/zero")
        elif case.special == "directory":
            path.mkdir()
        else:
            path.write_bytes(case.data)
        written.append((path, case))
    return written


# ---- the worker: how each input ends ------------------------------------------------------


def _peak_kib() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+)", status)
    return int(match.group(1)) if match else 0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux 4.0+)


def _library(kind: str, path: str) -> str:
    """``ok``, ``error: <message>`` for a ProfileLabError, or ``crash: <traceback>``."""
    import profilelab
    from profilelab.errors import ProfileLabError

    load: Callable[[str], Any] = profilelab.load if kind == PROFILE else profilelab.load_traces
    try:
        load(path)
    except ProfileLabError as exc:
        return f"error: {exc}"
    except BaseException:  # what the corpus looks for
        return "crash: " + traceback.format_exc()
    return "ok"


def _cli(kind: str, path: str) -> tuple[int, str]:
    """Exit code and stderr of ``profilelab top PATH`` (``spans`` for traces), in process."""
    from profilelab.cli import main

    err = io.StringIO()
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet, contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("default")  # shown, as a user would see them
        try:
            code = main(["top" if kind == PROFILE else "spans", path])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc(file=err)
            code = 99
    return code, err.getvalue()


def check(kind: str, path: str) -> dict[str, Any]:
    """Run one input through the library and the command line; time and peak memory."""
    _reset_peak()
    start = time.perf_counter()
    library = _library(kind, path)
    code, stderr = _cli(kind, path)
    return {
        "path": path,
        "library": library,
        "code": code,
        "stderr": stderr,
        "seconds": round(time.perf_counter() - start, 3),
        "peak_kib": _peak_kib(),
    }


def worker() -> None:
    """Read ``KIND PATH`` lines on stdin; answer one JSON line each, flushed."""
    import profilelab.cli  # noqa: F401 - imported before the first input is timed

    for line in sys.stdin:
        kind, path = line.rstrip("\n").split(" ", 1)
        print(json.dumps(check(kind, json.loads(path))), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    elif len(sys.argv) == 2:
        for path, _ in write(Path(sys.argv[1])):
            print(path)
    else:
        sys.exit("usage: python3 tests/malformed_corpus.py OUTDIR")
