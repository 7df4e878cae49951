"""The report commands (top, tags, peek, traces, sql) end to end, and their helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

import profilelab
from profilelab.cli import build_parser, main
from profilelab.core import measurement
from profilelab.errors import QueryError
from profilelab.ops.labels import _parse_range
from profilelab.ops.stackfilter import simplify_func
from profilelab.render.tabwriter import tabwrite

ROOT = Path(__file__).resolve().parent.parent
DRIVER = "_derived/google-pprof-driver-inputs"
sys.path.insert(0, str(ROOT / "tests" / "golden"))
import cases as C  # noqa: E402


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``profilelab ARGS`` in this process (fast); returns code, stdout, stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m profilelab ARGS`` in a subprocess."""
    env = {**os.environ, "TZ": "UTC", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "profilelab", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.mark.golang
@pytest.mark.parametrize(
    "rel,index",
    [
        ("google-pprof/internal/report/testdata/sample.cpu", 1),
        ("parca-dev-parca/pkg/query/testdata/alloc_objects.pb.gz", 3),
        (
            "datadog-dd-trace-go/profiler/internal/pprofutils/test-fixtures/pprof.samples.cpu.001.pb.gz",
            1,
        ),
    ],
)
def test_cli_csv_equals_pprof_rows(corpus: Path, rel: str, index: int) -> None:
    """The brief's exact command against the committed go tool pprof output."""
    case_id = rel.replace("/", "__") + f".top.{index}"
    case = C.Case(case_id, rel, "top")
    expected = C.read_expected(case)
    if expected is None:
        pytest.skip(f"{rel} has no golden output")
    proc = run_cli(
        "top",
        str(corpus / rel),
        "--format",
        "csv",
        "--nodecount",
        "1000000",
        "--sample-index",
        str(index),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "flat,flat_pct,sum_pct,cum,cum_pct,name"
    got = pl.read_csv(proc.stdout.encode(), infer_schema=False)
    rows = [(n, int(f), int(c)) for f, c, n in got.select("flat", "cum", "name").iter_rows()]
    assert rows == C.top_rows(expected)


def test_json_and_text_agree(corpus: Path, cli: Cli) -> None:
    path = str(corpus / DRIVER / "heap.demangled.pb.gz")
    as_json = json.loads(cli("top", path, "--format", "json").stdout)
    assert [r["name"] for r in as_json][:2] == ["line2001", "line3002"]
    assert as_json[0]["flat"] == 65536000 and as_json[0]["inline"] == "inline"
    text = cli("top", path, "--unit", "bytes").stdout
    assert " 65536000B 63.37% 63.37%  66560000B 64.36%  line2001 (inline)" in text


def test_peek_tags_traces_formats(corpus: Path, cli: Cli) -> None:
    path = str(corpus / DRIVER / "cpu.demangled.pb.gz")
    peek = pl.read_csv(cli("peek", "line3001", path, "--format", "csv").stdout.encode())
    assert peek.filter(pl.col("direction") == "self")["cum"].to_list() == [1110]
    assert set(peek.filter(pl.col("direction") == "caller")["name"]) == {"line3000"}
    tags = json.loads(cli("tags", path, "--format", "json").stdout)
    assert {(t["key"], t["value"], t["flat"]) for t in tags if t["key"] == "key3"} == {
        ("key3", "tag2", 100)
    }
    traces = json.loads(cli("traces", path, "--format", "json").stdout)
    assert traces[0]["frames"][0] == "line1000" and traces[0]["value"] == 1000


@pytest.mark.parametrize(
    "args,message",
    [
        (["top", "{DRIVER}/cpu.pb.gz", "--focus", "("], "parsing focus regexp"),
        (["top", "{DRIVER}/cpu.pb.gz", "--sample-index", "nope"], "sample_index 'nope'"),
        (["top", "{DRIVER}/cpu.pb.gz", "--sample-index", "7"], "outside the range [0..1]"),
        (["peek", "zzz", "{DRIVER}/cpu.pb.gz"], "no matches found for regexp: zzz"),
        (["top", "{DRIVER}/missing.pb.gz"], "missing.pb.gz"),
        (["top", "{DRIVER}/cpu.pb.gz", "--normalize"], "normalize needs a base"),
        (["sql", "select * from nope", "{DRIVER}/cpu.pb.gz"], "SQL failed"),
        (
            ["top", "{DRIVER}/cpu.pb.gz", "--base", "{DRIVER}/heap.pb.gz"],
            "incompatible sample types",
        ),
    ],
)
def test_errors_are_one_line(corpus: Path, args: list[str], message: str, cli: Cli) -> None:
    args = [a.replace("{DRIVER}", str(corpus / DRIVER)) for a in args]
    proc = cli(*args)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("profilelab: error:") and message in proc.stderr


def test_sql_outputs(corpus: Path, tmp_path: Path, cli: Cli) -> None:
    path = str(corpus / DRIVER / "heap.pb.gz")
    q = (
        "select sample_type, sum(value)::bigint as total from samples "
        "join profiles using (profile_id) group by all order by 1"
    )
    csv = cli("sql", q, path, "--csv").stdout
    assert csv.splitlines() == ["sample_type,total", "inuse_objects,150", "inuse_space,103424000"]
    out = tmp_path / "r.parquet"
    assert cli("sql", q, path, "--parquet", str(out)).returncode == 0
    assert pl.read_parquet(out)["total"].to_list() == [150, 103424000]
    assert "inuse_space" in cli("sql", q, path).stdout


def test_every_report_command_has_examples() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("top", "tags", "peek", "traces", "sql"):
        epilog = sub.choices[name].epilog  # type: ignore[attr-defined]
        assert epilog and f"profilelab {name}" in epilog


def test_main_in_process(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(corpus / DRIVER / "cpu.demangled.pb.gz")
    assert main(["top", path, "--nodecount", "2", "--compact-labels"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "Showing top 2 nodes out of 6"


# ---- helpers ---------------------------------------------------------------------------


def test_measurement_matches_pprof() -> None:
    assert measurement.scaled_label(1_500_000, "nanoseconds", "minimum") == "1.50ms"
    assert measurement.scaled_label(1024, "bytes", "auto") == "1kB"
    assert measurement.scaled_label(12345, "nanoseconds", "nanoseconds") == "12345ns"
    assert measurement.scaled_label(7, "count", "count") == "7"
    assert measurement.scaled_label(0, "bytes", "auto") == "0"
    assert measurement.percentage(1, 3) == "33.33%"
    assert measurement.percentage(1, 2000) == " 0.05%"
    assert measurement.percentage(3, 3) == "  100%"
    assert measurement.scale(3, "hours", "s") == (10800.0, "s")
    assert measurement.go_round(-2.5) == -3 and measurement.go_round(2.5) == 3


def test_tag_ranges_like_pprof() -> None:
    r = _parse_range("1mb:2gb")
    assert r is not None and (r.value, r.unit, r.upper) == (1.0, "MB", 2048.0)
    r = _parse_range("+400kb:")
    assert r is not None and r.upper is None and r.value == 400.0
    assert _parse_range("key[12]") is None  # a regex, not a range
    r = _parse_range("32")
    assert r is not None and (r.value, r.unit) == (32.0, "")


def test_simplify_func() -> None:
    assert simplify_func("foo::bar(int)") == "foo::bar"
    assert simplify_func("(anonymous namespace)::f(int)") == "(anonymous namespace)::f"
    assert simplify_func("operator()(int)") == "operator()"
    assert simplify_func(".main.f") == "main.f"


def test_tabwriter_right_aligns_blocks() -> None:
    text = "k:\t Total 1\n \t10 (a):\t x\n \t1000 (b):\t y\n\nlonger:\t T\n"
    assert tabwrite(text) == (" k: Total 1\n      10 (a): x\n    1000 (b): y\n\n longer: T\n")


def test_options_are_validated(corpus: Path) -> None:
    prof = profilelab.load(corpus / DRIVER / "cpu.pb.gz")
    with pytest.raises(QueryError, match="granularity"):
        prof.top(granularity="modules")
    with pytest.raises(QueryError, match="nodefraction"):
        prof.top(nodefraction=2.0)


def test_tag_filter_on_missing_key_keeps_nothing(corpus: Path) -> None:
    heap = profilelab.load(corpus / DRIVER / "heap_tags.pb.gz")
    assert heap.traces(tagfocus="nokey=.*").height == 0
    assert heap.top(tagfocus="nokey=x").height == 0
    assert heap.tags(tagignore="nokey=x").height == heap.tags().height
