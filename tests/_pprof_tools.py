"""Test helpers: corpus file lists, table comparison, running ``go tool pprof``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from profilelab import Profile, load
from profilelab._proto import pprof_pb2
from profilelab.readers.sniff import looks_like_legacy as sniff_legacy
from profilelab.readers.sniff import looks_like_pprof as sniff_pprof
from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parent.parent

_TEXT_SUFFIXES = {".md", ".string", ".json", ".src", ".rpt", ".dot", ".txt"}

#: Columns that derive from the input's bytes or name, not its content.
SOURCE_DERIVED = {
    "profiles": ["profile_id", "source_id", "source"],
    "samples": ["profile_id"],
}


def pprof_corpus_files() -> list[str]:
    """Corpus files that look like pprof (gzip or protobuf), relative to the corpus, then
    the project's own evidence (``tests/data/evidence``), named by its repository path."""
    return _pprof_files(CORPUS) + [f"{EVIDENCE}/{rel}" for rel in _pprof_files(ROOT / EVIDENCE)]


EVIDENCE = "tests/data/evidence"


def _pprof_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix in _TEXT_SUFFIXES:
            continue
        if "driver/testdata/pprof." in str(path) or path.name.startswith("source"):
            continue
        head = path.read_bytes()[:4096]
        if sniff_legacy(head):
            continue
        if head[:2] == b"\x1f\x8b" or sniff_pprof(head):
            found.append(str(path.relative_to(root)))
    return found


def comparable(profile: Profile) -> dict[str, pl.DataFrame]:
    """Every table without its source-derived columns."""
    return {name: df.drop(SOURCE_DERIVED.get(name, [])) for name, df in profile.tables()}


_ROW_KEYS = {
    "frames": ["frame_id"],
    "stacks": ["stack_id"],
    "mappings": ["mapping_id"],
    "labels": ["label_set_id", "key", "str", "num", "unit"],
}


def assert_same_tables(a: Profile, b: Profile, *, same_order: bool = True) -> None:
    """Tables equal (without source-derived columns); ``same_order=False`` compares rows
    as sets for the tables keyed by content ids."""
    left, right = comparable(a), comparable(b)
    for name in left:
        lt, rt = left[name], right[name]
        if not same_order and name in _ROW_KEYS:
            lt, rt = lt.sort(_ROW_KEYS[name]), rt.sort(_ROW_KEYS[name])
        assert lt.equals(rt), f"table {name} differs"


def go_pprof(*args: str | Path) -> str:
    """Output of ``go tool pprof -symbolize=none ARGS`` (skips when Go is missing)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed")
    result = subprocess.run(
        [go, "tool", "pprof", "-symbolize=none", *map(str, args)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode("utf-8", errors="replace")


_SPAN_KEYS = {
    "trace_id": "trace_id",
    "trace id": "trace_id",
    "span_id": "span_id",
    "span id": "span_id",
    "profile_id": "span_id",
    "pyroscope.profile.id": "span_id",
    "local root span id": "local_root_span_id",
    "local_root_span_id": "local_root_span_id",
}
_DECIMAL = {"span id", "local root span id", "trace id"}
_LABEL = re.compile(r"(\S[^\[\]]*?):\[([^\]]*)\]")


def _span_labels(line: str) -> str:
    """A ``-raw`` label line with span keys and ids normalized as profilelab reads them."""
    out = []
    for key, value in _LABEL.findall(line):
        if key in _SPAN_KEYS:
            if key in _DECIMAL and value.isdigit():
                value = f"{int(value):016x}"
            key, value = _SPAN_KEYS[key], value.lower()
        out.append(f"{key}:[{value}]")
    return " ".join(sorted(out))


def canonical_raw(text: str) -> str:
    """``go tool pprof -raw`` output with the differences pprof -> tables -> pprof allows:

    span label keys normalized (``profile_id`` -> ``span_id``, Datadog decimal ids -> hex),
    and ``[dflt]`` dropped from the last sample type (the default either way).
    """
    lines = text.splitlines()
    out = []
    in_samples = False
    for i, line in enumerate(lines):
        if line == "Samples:":
            in_samples = True
            header = lines[i + 1]
            if header.endswith("[dflt]"):
                lines[i + 1] = header[: -len("[dflt]")]
        elif line == "Locations":
            in_samples = False
        if in_samples and line.startswith(" " * 16) and ":[" in line:
            line = " " * 16 + _span_labels(line.strip())
        out.append(line)
    return "\n".join(out)


def top(profile: Profile, sample_type: str | None = None) -> dict[str, tuple[int, int]]:
    """pprof's -top by function name: {name: (flat, cum)}, recursion counted once in cum,
    functions whose flat and cum are both 0 left out.

    Names as the folded writer writes them (``;`` and line breaks replaced). With several
    sample types, ``sample_type`` picks one (default: the profile's default type).
    """
    from profilelab.writers.folded import folded_names

    rows = profile.profiles
    if sample_type is not None:
        rows = rows.filter(pl.col("sample_type") == sample_type)
    elif rows["sample_type"].n_unique() > 1:
        rows = rows.filter(pl.col("is_default"))
    samples = profile.samples.join(rows.select("profile_id"), on="profile_id", how="semi")
    slots = (
        samples.with_row_index("_s")
        .join(profile.stacks, on="stack_id")
        .select("_s", "value", pl.col("frame_ids").alias("frame_id"))
        .explode("frame_id")
    )
    slots = slots.with_columns(pl.int_range(pl.len()).over("_s").alias("_pos")).join(
        folded_names(profile.frames), on="frame_id"
    )
    flat = slots.filter(pl.col("_pos") == 0).group_by("name").agg(pl.col("value").sum())
    cum = slots.unique(["_s", "name"]).group_by("name").agg(pl.col("value").sum())
    both = cum.join(flat, on="name", how="left", suffix="_flat").fill_null(0)
    rows = both.select("name", "value", "value_flat").iter_rows()
    return {n: (f, c) for n, c, f in rows if (f, c) != (0, 0)}  # as pprof, hide empty nodes


HOSTILE = [
    "<script>alert('x')</script>",
    'say "hi"; rm -rf /',
    "multi\nline\r\nname",
    "a;b;c",
    "tab\there 42",
]


def hostile_profile() -> Profile:
    """A pprof profile whose function names are hostile (HTML, quotes, ';', newlines)."""

    msg = pprof_pb2.Profile()
    msg.string_table.extend([b"", b"samples", b"count", *(n.encode() for n in HOSTILE)])
    msg.sample_type.add(type=1, unit=2)
    for i in range(len(HOSTILE)):
        msg.function.add(id=i + 1, name=3 + i, system_name=3 + i)
        msg.location.add(id=i + 1, line=[pprof_pb2.Line(function_id=i + 1)])
    msg.sample.add(location_id=[1, 2, 3, 4, 5], value=[10])
    msg.sample.add(location_id=[3, 5], value=[1])
    return load(msg.SerializeToString(), name="hostile.pb")
