"""Every code block of README.md and docs/*.md runs, on the shipped data.

A page runs in document order in a fresh working directory that holds the files its examples
name (``cpu.pb.gz``, ``dumps/``, ``v1/``, ``traces.json``, ``rules.yaml``, ...), copied from
the shipped datasets (``datasets/``) and test corpus (``tests/data/corpus``); see
:func:`sandbox`. ``python`` blocks share one namespace per page; every line of a ``bash``,
``sh`` or ``console`` block is a command: ``profilelab ...`` runs in-process (globs expanded
as a shell would) and must exit 0, or 3 where the line's comment promises "exit status 3";
the long-running ones (``lab``, ``serve``, ``scrape``) and the scripts (``bash dev/...``,
``python datasets/generators/...``) are parsed and checked for existence, and a
``python -c`` client is compiled, not started.
``console`` lines that start with ``$`` are followed by their exact output, which must match.
"""

from __future__ import annotations

import glob
import gzip
import importlib.util
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import utc_timezone

import profilelab
from profilelab.cli import build_parser, main
from profilelab.writers import write

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DATASETS = ROOT / "datasets"
SHIPPED = ROOT / "tests" / "data" / "corpus"
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in DOCS.glob("*.md"))]
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHELL = {"bash", "sh", "console"}
#: Pages whose examples take more than a few seconds (a Spark session, a whole report).
SLOW_PAGES = {"docs/store.md", "docs/notebooks.md", "docs/analysis.md"}
HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
#: Commands that serve until stopped: parsed (their flags must be valid), not started.
SERVERS = {"lab", "serve", "scrape"}


def blocks(page: str, kind: str | None = None) -> list[Any]:
    """(language, body, line number) of every code block of ``page`` (a path from the
    repository root, or a name in docs/); with ``kind``, the bodies in that language."""
    path = ROOT / page if (ROOT / page).is_file() else DOCS / page
    text = path.read_text(encoding="utf-8")
    found = [(m[1], m[2], text.count("\n", 0, m.start()) + 1) for m in _BLOCK.finditer(text)]
    return found if kind is None else [body for lang, body, _ in found if lang == kind]


def shell_commands(lang: str, body: str) -> list[tuple[str, str | None]]:
    """(command, expected output or None) of a shell block: ``$`` lines and what follows
    them in a ``console`` block, every non-empty line of a ``bash``/``sh`` block."""
    if lang != "console":
        return [(line, None) for line in body.splitlines() if line.strip()]
    out = []
    for part in re.split(r"^\$ ", body, flags=re.M)[1:]:
        cmd, _, rest = part.partition("\n")
        out.append((cmd, rest if rest else None))
    return out


def sandbox(root: Path) -> None:
    """The files the examples name, made from the shipped datasets."""

    def put(name: str, src: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / name)

    before = sorted((DATASETS / "checkout-api/before").glob("*.pb.gz"))
    after = sorted((DATASETS / "checkout-api/after").glob("*.pb.gz"))
    for name in ("cpu.pb.gz", "old.pb.gz", "before.pb.gz", "a.pb.gz"):
        put(name, before[0])
    for name in ("new.pb.gz", "after.pb.gz", "b.pb.gz"):
        put(name, after[0])
    put("old/cpu.prof", before[1])
    for i, path in enumerate(before + after):
        put(f"captures/cpu-{i:02}.pb.gz", path)
    heaps = sorted((DATASETS / "heap-leak").glob("heap-*.pb.gz"))
    put("heap.pb.gz", heaps[-1])
    for path in heaps:
        put(path.name, path)
    put("legacy.heap", SHIPPED / "google-pprof/profile/testdata/gobench.heap")
    put("recording.jfr", DATASETS / "java-service/window-00.jfr")
    perf = SHIPPED / "jlfwong-speedscope/sample/profiles/linux-perf"
    put("perf.txt", perf / "simple-with-pid.linux-perf.txt")  # `perf script` output
    order = DATASETS / "order-service"
    for version, dirs in (("v2.3.5", ("v1", "v235")), ("v2.3.6", ("v2", "v236"))):
        for path in sorted((order / version).rglob("*.pb.gz")):
            for d in dirs:
                put(f"{d}/{path.parent.name}-{path.name}", path)
    shutil.copytree(order / "v2.3.5", root / "dumps/v2.3.5")
    shutil.copytree(order / "v2.3.6", root / "dumps/v2.3.6")
    for i, path in enumerate(sorted(order.rglob("v2.3.*/*/*.pb.gz"))):
        put(f"cpu-{i:02}.pb.gz", path)
    traced = DATASETS / "traced-order-service"
    (root / "traces.json").write_bytes(gzip.decompress((traced / "traces.json.gz").read_bytes()))
    handle = profilelab.load_traces(root / "traces.json").with_duration()
    handle = handle.filter(pl.col("name") == "order.handle").sort("duration_ns")
    lines = []  # a latency histogram whose buckets carry exemplars of real traces
    for le, count, row in (("0.005", 900, handle.height // 2), ("+Inf", 1000, -1)):
        span = handle.row(row, named=True)
        exemplar = f"{span['duration_ns'] / 1e9:.6f} {span['start_ns'] / 1e9:.3f}"
        lines.append(
            f'http_server_duration_seconds_bucket{{le="{le}"}} {count} '
            f'# {{trace_id="{span["trace_id"]}"}} {exemplar}'
        )
    (root / "metrics.txt").write_text("\n".join(lines) + "\n")
    otlp = sorted((order / "otlp").rglob("*"))
    put("capture.pb.bin", next(p for p in otlp if p.is_file()))
    with open(root / "capture.json", "wb") as f:
        write(profilelab.load(root / "capture.pb.bin"), f, "otlp-json")
    put("rules.yaml", ROOT / "examples/rules.yaml")
    for name in ("tests", "datasets", "examples"):  # for the examples that name them
        (root / name).symlink_to(ROOT / name)


def run_command(line: str, where: str) -> str:
    """Run one shell line of a page; returns what ``profilelab`` printed."""
    comment = line.partition(" #")[2]
    code = line.split(" | ")[0].split(" > ")[0]  # a pipe's first command, without redirection
    words = shlex.split(code, comments=True)
    quoted = {w for q in "'\"" for w in re.findall(f"{q}([^{q}]*){q}", code)}
    if words[:2] == ["python", "-c"]:  # a client program talking to a server: compiled only
        compile(words[2], where, "exec")
        return ""
    if words[0] == "bash" or words[0] == "python":
        assert (ROOT / words[1]).is_file(), f"{where}: no script {words[1]}"
        return ""
    assert words[0] == "profilelab", f"{where}: not a profilelab command: {line}"
    argv = [m for w in words[1:] for m in _expand(w, quoted)]
    if argv[0] in SERVERS or argv[:2] == ["store", "serve"]:
        build_parser(argv[0]).parse_args(argv)
        return ""
    allowed = {0, 3} if "exit status 3" in comment else {0}
    status = main(argv)
    assert status in allowed, f"{where}: `{line}` exited {status}"
    return ""


def _expand(word: str, quoted: set[str]) -> list[str]:
    """An unquoted glob's matches, as a shell expands them (the word itself if none)."""
    if "*" not in word or word in quoted:
        return [word]
    return sorted(glob.glob(word)) or [word]


@pytest.fixture
def at_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    sandbox(tmp_path)
    monkeypatch.chdir(tmp_path)
    with utc_timezone():
        yield tmp_path


def _marks(page: str) -> list[pytest.MarkDecorator]:
    """``slow`` for the slow pages, ``spark`` for those whose examples start a Spark session."""
    spark = any("pyspark" in body for body in blocks(page, "python"))
    return [pytest.mark.slow] * (page in SLOW_PAGES) + [pytest.mark.spark] * spark


@pytest.mark.parametrize("page", [pytest.param(p, marks=_marks(p)) for p in PAGES])
def test_every_block_runs(page: str, at_sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    found = blocks(page)
    for lang, body, line in found:
        where = f"{page}:{line}"
        if lang == "python" and "pyspark" in body and not HAVE_SPARK:
            continue  # Spark examples need pyspark and Java (pip install profilelab[spark])
        if lang == "python":
            exec(compile(body, where, "exec"), namespace)
        elif lang in SHELL:
            for cmd, expected in shell_commands(lang, body):
                capsys.readouterr()
                run_command(cmd, where)
                if expected is not None:
                    assert capsys.readouterr().out == expected, f"{where}: output of `{cmd}`"
        capsys.readouterr()
    if page not in ("docs/architecture.md", "docs/schema.md"):
        assert any(lang == "python" or lang in SHELL for lang, _, _ in found), page
