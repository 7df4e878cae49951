# ruff: noqa: E501  (the case tables below keep one case per line)
"""The golden cases: which ``go tool pprof`` command each expected output comes from.

Shared by ``generate.py`` (writes ``manifest.json`` and ``expected/``) and the tests. A case
is one corpus file, one report and pprof's flags; the same flags translate to profilelab's
options with :func:`options_for`. Inputs whose license forbids copying their outputs
(``grafana-pyroscope*``, AGPL) are in the manifest without an expected file: the tests run
``go tool pprof`` for them at test time.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import OWN_PREFIXES

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MANIFEST = HERE / "manifest.json"
EXPECTED = HERE / "expected"
AGPL_PREFIX = "grafana-pyroscope"

# pprof's driver golden commands (corpus MANIFEST section 3a) that profilelab implements, as
# (input in _derived/google-pprof-driver-inputs, report, peek regex, flags); graph formats
# (-dot, -tree) become -top with the same filters: the nodes and values are the same.
# fmt: off
DRIVER_CASES: list[tuple[str, str, str | None, list[str]]] = [
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-functions']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-functions', '-noinlines']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-filefunctions', '-noinlines']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-addresses', '-noinlines']),
    ('cpusmall.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-addresses', '-nodecount=4']),
    ('unknown.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-functions', '-nodecount=5']),
    ('heap_alloc.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-alloc_objects']),
    ('heap.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-files']),
    ('heap.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-files', '-focus=[12]00', '-taghide=[X3]00']),
    ('heap.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-inuse_objects']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-lines', '-cum', '-hide=line[X3]0']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-lines', '-cum', '-show=[12]00']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-lines', '-cum', '-hide=line[X3]0', '-focus=[12]00']),
    ('heap.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-lines', '-cum', '-focus=[24]00']),
    ('heap.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-cum', '-focus=[24]00']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-lines', '-cum', '-show_from=line2']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-functions']),
    ('cpu.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-functions']),
    ('heap.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-lines', '-focus=[12]00']),
    ('heap_sizetags.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-unit=minimum']),
    ('contention.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-addresses', '-ignore=[X3]002', '-focus=[X1]000']),
    ('contention.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-files', '-cum']),
    ('cpu.demangled.pb.gz', 'tags', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20']),
    ('cpu.demangled.pb.gz', 'tags', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-tagignore=tag[13]', '-tagfocus=key[12]']),
    ('heap.demangled.pb.gz', 'tags', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20']),
    ('heap.demangled.pb.gz', 'tags', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-unit=bytes']),
    ('cpu.demangled.pb.gz', 'traces', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20']),
    ('cpu.demangled.pb.gz', 'traces', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-addresses']),
    ('heap_tags.demangled.pb.gz', 'traces', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20']),
    ('heap_alloc.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-alloc_space', '-focus=[234]00']),
    ('heap_alloc.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-alloc_space', '-tagshow=[2]00']),
    ('heap_alloc.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-alloc_space', '-hide=line.*1?23?']),
    ('heap.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-inuse_space', '-tagfocus=1mb:2gb']),
    ('heap.demangled.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-inuse_space', '-tagfocus=30kb:', '-tagignore=1mb:2mb']),
    ('cpu.demangled.pb.gz', 'peek', 'line.*01', ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20']),
    ('heap_request.demangled.pb.gz', 'tags', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-tagfocus=400kb:']),
    ('heap_request.demangled.pb.gz', 'tags', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-tagfocus=+400kb:']),
    ('heap_request.demangled.pb.gz', 'tags', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20', '-tagfocus=400kb:']),
    ('long_name_funcs.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20']),
    ('long_name_funcs.pb.gz', 'top', None, ['-compact_labels', '-nodefraction=0.05', '-edgefraction=0.01', '-nodecount=20']),
    ('report_testProfile.pb.gz', 'top', None, ['-lines', '-sample_index=1', '-nodecount=0', '-nodefraction=0']),
]
# fmt: on

# Graph and source reports (``-dot``, ``-tree``, ``-callgrind``, ``-list``), as (input, report,
# list regex, flags). The driver flags are those of pprof's golden files
# (google-pprof/internal/driver/testdata/pprof.*.dot|tree|callgrind, corpus MANIFEST 3a);
# ``-source_path`` is relative to the input's folder. An input under ``datasets/`` is a
# shipped dataset (this repository), listed against its generator's source.
_D = "_derived/google-pprof-driver-inputs/"
_H = ["-compact_labels", "-nodefraction=0.05", "-edgefraction=0.01", "-divide_by=1"]
_H20 = [*_H, "-nodecount=20"]
_DRIVER_SRC = "-source_path=../../google-pprof/internal/driver"
_REPORT_SRC = ["-source_path=../../google-pprof/internal/report", "-trim_path=/some/path"]
_ORDER = "datasets/order-service/v2.3.6/order-euw1-0/cpu-00.pb.gz"
# fmt: off
GRAPH_CASES: list[tuple[str, str, str | None, list[str]]] = [
    (_D + "cpu.demangled.pb.gz", "dot", None, [*_H20, "-functions", "-flat"]),
    (_D + "cpu.demangled.pb.gz", "dot", None, [*_H20, "-functions", "-flat", "-call_tree"]),
    (_D + "heap.demangled.pb.gz", "dot", None, [*_H20, "-lines", "-flat", "-focus=[12]00"]),
    (_D + "heap_sizetags.demangled.pb.gz", "dot", None, [*_H20, "-unit=minimum"]),
    (_D + "contention.demangled.pb.gz", "dot", None, [*_H20, "-addresses", "-flat", "-ignore=[X3]002", "-focus=[X1]000"]),
    (_D + "contention.demangled.pb.gz", "dot", None, [*_H20, "-files", "-cum"]),
    (_D + "heap_alloc.demangled.pb.gz", "dot", None, [*_H20, "-alloc_space", "-flat", "-focus=[234]00"]),
    (_D + "heap_alloc.demangled.pb.gz", "dot", None, [*_H20, "-alloc_space", "-flat", "-tagshow=[2]00"]),
    (_D + "heap_alloc.demangled.pb.gz", "dot", None, [*_H20, "-alloc_space", "-flat", "-hide=line.*1?23?"]),
    (_D + "heap.demangled.pb.gz", "dot", None, [*_H20, "-inuse_space", "-flat", "-tagfocus=1mb:2gb"]),
    (_D + "heap.demangled.pb.gz", "dot", None, [*_H20, "-inuse_space", "-flat", "-tagfocus=30kb:", "-tagignore=1mb:2mb"]),
    (_D + "long_name_funcs.pb.gz", "dot", None, _H20),
    (_D + "report_testProfile.pb.gz", "dot", None, ["-call_tree", "-lines", "-sample_index=1", "-trim_path=/some/path", "-nodecount=0", "-nodefraction=0", "-edgefraction=0"]),
    (_D + "cpusmall.pb.gz", "tree", None, [*_H, "-addresses", "-flat", "-nodecount=4"]),
    (_D + "heap.demangled.pb.gz", "tree", None, [*_H20, "-lines", "-cum", "-focus=[24]00"]),
    (_D + "heap.demangled.pb.gz", "tree", None, [*_H20, "-relative_percentages", "-cum", "-focus=[24]00"]),
    (_D + "cpu.demangled.pb.gz", "tree", None, [*_H20, "-lines", "-cum", "-show_from=line2"]),
    (_D + "cpu.demangled.pb.gz", "callgrind", None, _H20),
    (_D + "cpu.demangled.pb.gz", "callgrind", None, [*_H20, "-call_tree"]),
    (_D + "heap.demangled.pb.gz", "callgrind", None, _H20),
    (_D + "report_testProfile.pb.gz", "list", ".", [*_REPORT_SRC, "-sample_index=1"]),
    (_D + "cpu.demangled.pb.gz", "list", "line[13]000", [_DRIVER_SRC, *_H20]),
    (_D + "cpu.demangled.pb.gz", "list", "line2000", [_DRIVER_SRC, *_H20, "-noinlines"]),
    (_D + "heap.demangled.pb.gz", "list", ".", [_DRIVER_SRC, *_H20, "-inuse_objects"]),
    (_D + "cpu.demangled.pb.gz", "list", "line", ["-source_path=/nonexistent"]),
    (_ORDER, "list", "main\\.(riskScore|applyPriceRules)$", ["-source_path=../../../generators"]),
    ("google-pprof/internal/report/testdata/sample.cpu", "list", ".", ["-source_path=/nonexistent"]),
    ("parca-dev-parca/pkg/query/testdata/fib.pb.gz", "list", "Fibonacci", ["-noinlines"]),
    (_ORDER, "dot", None, []),
    (_ORDER, "tree", None, ["-lines", "-nodecount=15"]),
    (_ORDER, "callgrind", None, []),
    ("datasets/heap-leak/heap-05.pb.gz", "dot", None, ["-sample_index=alloc_space"]),
]
# fmt: on


# Option combinations on real corpus profiles, as (corpus file, report, peek regex, flags);
# -base/-diff_base name a file in the input's folder.
_MANY = "parca-dev-parca/pkg/query/testdata/many/"
_SAMPLE = "google-pprof/internal/report/testdata/sample.cpu"
_FIB = "parca-dev-parca/pkg/query/testdata/fib.pb.gz"
_ALL = ["-nodecount=1000000", "-nodefraction=0"]
EXTRA_CASES: list[tuple[str, str, str | None, list[str]]] = [
    (
        _MANY + "1644509299337903000.pb.gz",
        "top",
        None,
        [*_ALL, "-sample_index=alloc_space", "-base=1644509272337470000.pb.gz"],
    ),
    (
        _MANY + "1644509299337903000.pb.gz",
        "top",
        None,
        [*_ALL, "-sample_index=inuse_space", "-diff_base=1644509272337470000.pb.gz"],
    ),
    (
        _MANY + "1644509299337903000.pb.gz",
        "top",
        None,
        [*_ALL, "-sample_index=1", "-unit=bytes", "-normalize", "-base=1644509290338056000.pb.gz"],
    ),
    (
        _MANY + "1644509299337903000.pb.gz",
        "tags",
        None,
        ["-sample_index=inuse_space", "-diff_base=1644509272337470000.pb.gz"],
    ),
    (
        _MANY + "1644509281339135000.pb.gz",
        "traces",
        None,
        ["-sample_index=alloc_objects", "-diff_base=1644509272337470000.pb.gz"],
    ),
    (
        _MANY + "1644509299337903000.pb.gz",
        "peek",
        "ristretto",
        ["-sample_index=alloc_space", "-base=1644509293338714000.pb.gz"],
    ),
    (_SAMPLE, "top", None, [*_ALL, "-cum", "-lines"]),
    (_SAMPLE, "top", None, ["-noinlines", "-addresses", "-nodecount=30"]),
    (_SAMPLE, "top", None, [*_ALL, "-filefunctions", "-focus=map", "-ignore=evacuate"]),
    (_SAMPLE, "top", None, [*_ALL, "-files", "-hide=runtime\\.add"]),
    (_SAMPLE, "top", None, [*_ALL, "-show=runtime", "-sample_index=samples"]),
    (_SAMPLE, "top", None, [*_ALL, "-show_from=mapassign"]),
    (_SAMPLE, "top", None, [*_ALL, "-prune_from=runtime\\.mapiter"]),
    (_SAMPLE, "traces", None, ["-lines", "-focus=evacuate"]),
    (_FIB, "top", None, [*_ALL, "-noinlines", "-unit=ms"]),
    (_FIB, "top", None, ["-lines", "-nodecount=15", "-cum"]),
    (_FIB, "peek", "Fibonacci", ["-filefunctions"]),
    (
        "_derived/google-pprof-driver-inputs/contention.pb.gz",
        "top",
        None,
        [*_ALL, "-mean", "-sample_index=delay"],
    ),
    (
        "_derived/google-pprof-driver-inputs/contention.pb.gz",
        "traces",
        None,
        ["-mean", "-total_delay"],
    ),
    (
        "parca-dev-parca/pkg/parca/testdata/labels.pb.gz",
        "top",
        None,
        [*_ALL, "-tagfocus=api=query"],
    ),
    (
        "parca-dev-parca/pkg/query/testdata/profile-with-labels.pb.gz",
        "tags",
        None,
        ["-tagignore=thread_name=.*worker.*", "-tagshow=thread"],
    ),
    (
        "datadog-dd-trace-go/profiler/internal/fastdelta/testdata/heap.pprof",
        "top",
        None,
        ["-sample_index=inuse_space", "-tagfocus=bytes=1kb:", "-nodecount=25"],
    ),
]


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # corpus-relative path
    kind: str  # top, tags, peek, traces
    flags: list[str] = field(default_factory=list)  # pprof flags besides the report flag
    regex: str | None = None  # for peek

    @property
    def agpl(self) -> bool:
        return self.file.startswith(AGPL_PREFIX)

    @property
    def own(self) -> bool:
        """An input of this repository (a shipped dataset or the project's own evidence)."""
        return self.file.startswith(OWN_PREFIXES)

    def path(self, corpus: Path) -> Path:
        """The input: a corpus file, or a file of this repository."""
        return REPO / self.file if self.own else corpus / self.file

    def pprof_args(self) -> list[str]:
        if self.kind in ("peek", "list"):
            head = [f"-{self.kind}={self.regex}"]
        else:
            head = [f"-{self.kind}"]
        # pprof's default symbolization without its local-binary lookup (which would read
        # whatever binaries this machine has at the profile's mapping paths): names are
        # demangled/simplified as by default; equal to the default on every corpus case.
        return ["-symbolize=remote", *head, *self.flags]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "kind": self.kind,
            "flags": self.flags,
            "regex": self.regex,
        }


_GZIP_OVER = 64 * 1024  # big outputs are stored gzipped to keep the repository small


def write_expected(case: Case, text: str) -> None:
    data = text.encode("utf-8")
    if len(data) > _GZIP_OVER:
        (EXPECTED / f"{case.id}.txt.gz").write_bytes(gzip.compress(data, mtime=0))
    else:
        (EXPECTED / f"{case.id}.txt").write_bytes(data)


def read_expected(case: Case) -> str | None:
    """The committed expected output of ``case`` (None for AGPL inputs)."""
    plain, packed = EXPECTED / f"{case.id}.txt", EXPECTED / f"{case.id}.txt.gz"
    if plain.exists():
        return plain.read_text(encoding="utf-8")
    if packed.exists():
        return gzip.decompress(packed.read_bytes()).decode("utf-8")
    return None


def load_manifest() -> tuple[str, list[Case]]:
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    cases = [Case(c["id"], c["file"], c["kind"], c["flags"], c["regex"]) for c in data["cases"]]
    return data["go_version"], cases


def go_env() -> dict[str, str]:
    """Environment that makes pprof's output reproducible: UTC times, no local binaries."""
    return {**os.environ, "TZ": "UTC", "PPROF_BINARY_PATH": "/nonexistent"}


def run_pprof(corpus: Path, case: Case) -> str:
    """``go tool pprof`` for ``case`` (raises on failure)."""
    path = case.path(corpus)
    proc = subprocess.run(
        ["go", "tool", "pprof", *case.pprof_args(), path.name],
        cwd=path.parent,
        env=go_env(),
        capture_output=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"go tool pprof failed for {case.id}: {proc.stderr.decode()[-500:]}")
    return proc.stdout.decode("utf-8", errors="replace")


def with_peek_regex(case: Case, outputs: dict[str, str]) -> Case:
    """A corpus peek case with its regex, derived from its top case's output."""
    if case.kind != "peek" or case.regex:
        return case
    top = outputs.get(case.id.replace(".peek.", ".top."))
    regex = peek_regex(top) if top is not None else None
    return Case(case.id, case.file, case.kind, case.flags, regex)


def run_all(corpus: Path, cases: list[Case], threads: int = 2) -> dict[str, str]:
    """pprof's output of every case (peek cases whose regex cannot be derived are left out)."""
    first = [c for c in cases if c.kind != "peek" or c.regex]
    with ThreadPoolExecutor(threads) as pool:
        texts = pool.map(lambda c: run_pprof(corpus, c), first)
        out = dict(zip([c.id for c in first], texts, strict=True))
        peeks = [with_peek_regex(c, out) for c in cases if c.kind == "peek" and not c.regex]
        peeks = [c for c in peeks if c.regex]
        texts = pool.map(lambda c: run_pprof(corpus, c), peeks)
        out.update(zip([c.id for c in peeks], texts, strict=True))
    return out


_FLAG_TO_OPTION = {
    "sample_index": "sample_index",
    "nodecount": "nodecount",
    "nodefraction": "nodefraction",
    "edgefraction": "edgefraction",
    "unit": "unit",
    "focus": "focus",
    "ignore": "ignore",
    "hide": "hide",
    "show": "show",
    "show_from": "show_from",
    "prune_from": "prune_from",
    "tagfocus": "tagfocus",
    "tagignore": "tagignore",
    "tagshow": "tagshow",
    "taghide": "taghide",
    "trim_path": "trim_path",
}
_GRANULARITIES = ("functions", "filefunctions", "files", "lines", "addresses")
_LEGACY_INDEX = {
    "alloc_objects": "alloc_objects",
    "alloc_space": "alloc_space",
    "inuse_objects": "inuse_objects",
    "inuse_space": "inuse_space",
    "contentions": "contentions",
    "total_delay": "delay",
}
_BOOLEANS = (
    "noinlines",
    "cum",
    "compact_labels",
    "mean",
    "normalize",
    "call_tree",
    "relative_percentages",
)
_IGNORED = ("flat", "divide_by", "symbolize", "base", "diff_base")


def options_for(flags: list[str], folder: Path | None = None) -> dict[str, Any]:
    """profilelab ReportOptions keyword arguments equivalent to pprof ``flags``.

    ``-source_path`` directories are relative to ``folder`` (pprof runs there).
    """
    out: dict[str, Any] = {}
    for flag in flags:
        key, _, value = flag.lstrip("-").partition("=")
        if key == "source_path":
            dirs = [
                d if d.startswith("/") or folder is None else str(folder / d)
                for d in value.split(":")
            ]
            out["source_path"] = ":".join(dirs)
        elif key in _FLAG_TO_OPTION:
            conv: Any = {"nodecount": int, "nodefraction": float, "edgefraction": float}.get(
                key, str
            )
            out[_FLAG_TO_OPTION[key]] = conv(value)
        elif key in _GRANULARITIES:
            out["granularity"] = key
        elif key in _BOOLEANS:
            out[key] = True
        elif key in _LEGACY_INDEX:
            out["sample_index"] = _LEGACY_INDEX[key]
        elif key not in _IGNORED:
            raise ValueError(f"no profilelab option for pprof flag {flag}")
    return out


def base_of(case: Case) -> tuple[str | None, bool]:
    """(corpus path of the -base/-diff_base file, is it a diff base)."""
    for flag in case.flags:
        key, _, value = flag.lstrip("-").partition("=")
        if key in ("base", "diff_base"):
            return str(Path(case.file).parent / value), key == "diff_base"
    return None, False


def cli_args(case: Case) -> list[str]:
    """The ``python -m profilelab`` arguments equivalent to ``case``."""
    args = [case.kind] + ([case.regex] if case.regex else [])
    for key, value in options_for(case.flags).items():
        name = "--" + key.replace("_", "-")
        args += [name] if value is True else [name, str(value)]
    return [*args, case.file]


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


_ROW = re.compile(r"^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)  (.*)$")
_INLINE = re.compile(r" \((partial-)?inline\)$")


def top_rows(text: str) -> list[tuple[str, int, int]]:
    """(name, flat, cum) rows of a ``-top`` report printed with ``-unit=<sample unit>``."""
    rows = []
    body = text.split("\n      flat  flat%   sum%        cum   cum%\n", 1)
    if len(body) < 2:
        return rows
    for line in body[1].split("\n")[:-1]:
        m = _ROW.match(line)
        if m:
            rows.append((m.group(6), _int(m.group(1)), _int(m.group(4))))
        elif rows:  # a function name with a newline in it (the corpus has one)
            name, flat, cum = rows[-1]
            rows[-1] = (name + "\n" + line, flat, cum)
        else:
            raise ValueError(f"unexpected top line: {line!r}")
    return [(_INLINE.sub("", name), flat, cum) for name, flat, cum in rows]


def _int(text: str) -> int:
    m = re.match(r"^-?\d+", text)
    if m is None:
        raise ValueError(f"not an integer value: {text!r}")
    return int(m.group(0))


def peek_regex(top_text: str) -> str | None:
    """The nodes a corpus peek case looks at: the three first rows of the top report."""
    # Names that cannot be a command-line argument (a NUL byte) are skipped.
    names = [name for name, _, _ in top_rows(top_text) if name.isprintable()][:3]
    if not names:
        return None
    return "^(" + "|".join(quote_meta(n) for n in names) + ")$"


# profilelab stores span labels as sample columns and reports them under the column name.
_SPAN_KEYS = {
    "trace id": "trace_id",
    "span id": "span_id",
    "profile_id": "span_id",
    "pyroscope.profile.id": "span_id",
    "local root span id": "local_root_span_id",
}


def tags_sections(text: str) -> dict[str, tuple[str, list[str]]]:
    """A -tags report as {key: (total line, sorted value lines)}.

    Two documented differences are normalized: pprof orders values whose |value| ties with
    opposite signs at random (Go map order), and profilelab names span-id labels by their
    column (``profile_id`` -> ``span_id``).
    """
    out: dict[str, tuple[str, list[str]]] = {}
    for block in text.strip("\n").split("\n\n"):
        lines = block.split("\n")
        key, _, total = lines[0].strip().partition(": Total ")
        key = _SPAN_KEYS.get(key, key)
        out[key] = (total, sorted(line.strip() for line in lines[1:]))
    return out


def peek_blocks(text: str) -> list[tuple[str, list[str], list[str]]]:
    """A -peek report as (node line, sorted caller lines, sorted callee lines) blocks.

    pprof orders edges whose |weight| ties with opposite signs at random (Go's unstable
    sort over map order); this form compares reports regardless of that order.
    """
    sep = "----------------------------------------------------------+-------------"
    blocks = []
    for block in text.split(sep + "\n")[2:]:
        lines = [line for line in block.split("\n") if line]
        mid = next(
            (
                i
                for i, line in enumerate(lines)
                if line.rstrip().endswith("|") is False and "                | " in line
            ),
            None,
        )
        if mid is None:
            continue
        blocks.append((lines[mid], sorted(lines[:mid]), sorted(lines[mid + 1 :])))
    return blocks
