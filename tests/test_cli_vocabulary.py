"""One flag vocabulary: every command that shows or compares profiles takes the shared
selection flags, parses them the same way and builds the same Selection."""

from __future__ import annotations

import argparse
import re

import pytest

import profilelab
from profilelab.cli import build_parser, main
from profilelab.cli._common import selection_from

#: command -> the arguments it needs besides the shared flags
COMMANDS = {
    "top": ["f.pb.gz"],
    "peek": ["f.pb.gz", "main"],
    "tags": ["f.pb.gz"],
    "traces": ["f.pb.gz"],
    "flame": ["f.pb.gz", "-o", "f.html"],
    "diff": ["a.pb.gz", "b.pb.gz", "-o", "d.html"],
    "compare": ["--base", "a.pb.gz", "--new", "b.pb.gz"],
    "growth": ["f.pb.gz"],
    "trend": ["f.pb.gz"],
    "query": ["cpu", "--store", "s"],
    "check": ["f.pb.gz", "--rules", "r.yaml"],
    "spans": ["t.json"],
    "sql": ["select 1", "f.pb.gz"],
    "convert": ["f.pb.gz", "out.folded"],
    "report": ["--profile", "f.pb.gz", "-o", "r.html"],
}
WITH_OUTPUT = {"top", "peek", "tags", "traces", "compare", "growth", "trend", "query"}
WITH_OUTPUT |= {"spans", "sql"}

#: shared flag -> (arguments, selection field, expected value)
FLAGS = {
    "--sample-index": (["--sample-index", "alloc_space"], "sample_index", "alloc_space"),
    "--sample-type": (["--sample-type", "1"], "sample_index", "1"),
    "--from": (["--from", "2024-05-01"], "start_ns", 1714521600 * 10**9),
    "--to": (["--to", "2024-05-02"], "end_ns", 1714608000 * 10**9),
    "--labels": (["--labels", 'service="api"'], "selector_text", '{service="api"}'),
    "--granularity": (["--granularity", "line"], "granularity", "lines"),
    "--files": (["--files"], "granularity", "files"),
    "--noinlines": (["--noinlines"], "noinlines", True),
    "--no-drop-frames": (["--no-drop-frames"], "drop_frames", False),
    "--focus": (["--focus", "main"], "focus", "main"),
    "--ignore": (["--ignore", "gc"], "ignore", "gc"),
    "--hide": (["--hide", "runtime"], "hide", "runtime"),
    "--show": (["--show", "main"], "show", "main"),
    "--show-from": (["--show-from", "main"], "show_from", "main"),
    "--prune-from": (["--prune-from", "x"], "prune_from", "x"),
    "--tagfocus": (["--tagfocus", "k=v"], "tagfocus", "k=v"),
    "--tagignore": (["--tagignore", "k=v"], "tagignore", "k=v"),
    "--tagshow": (["--tagshow", "k"], "tagshow", "k"),
    "--taghide": (["--taghide", "k"], "taghide", "k"),
    "transforms": (
        ["--merge-function", "^runtime", "--left-heavy", "--tagroot", "region"],
        "transforms",
        (("merge_function", "^runtime"), ("left_heavy", None), ("tagroot", "region")),
    ),
}


def parse(command: str, extra: list[str]) -> argparse.Namespace:
    return build_parser(command).parse_args([command, *COMMANDS[command], *extra])


@pytest.mark.parametrize("flag", sorted(FLAGS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_every_shared_flag(command: str, flag: str) -> None:
    argv, field, want = FLAGS[flag]
    if command == "convert" and flag == "--to":
        argv = ["--end", argv[1]]  # convert's --to is the output format
    if command == "query" and field in ("start_ns", "end_ns"):
        pytest.skip("query's --from/--to choose stored profiles (checked in test_store)")
    sel = selection_from(parse(command, argv))
    got = sel.selector_text() if field == "selector_text" else getattr(sel, field)
    assert got == want


@pytest.mark.parametrize("command", sorted(WITH_OUTPUT))
def test_output_flags(command: str) -> None:
    args = parse(command, ["--nodecount", "7", "--format", "json"])
    assert (args.nodecount, args.format) == (7, "json")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_shared_values_are_usage_errors(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(command, ["--granularity", "module"])
    assert exc.value.code == 2
    assert "granularity 'module' is not one of" in capsys.readouterr().err


def test_selection_errors_are_one_line(tmp_path, capsys) -> None:
    prof = tmp_path / "f.folded"
    prof.write_text("main;a 3\nmain;b 1\n")
    assert main(["sql", "select 1", str(prof), "--focus", "("]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "parsing focus regexp" in err[0]
    assert main(["trend", str(prof), "--show", "a"]) == 1
    assert "trend cannot apply show" in capsys.readouterr().err


def test_transform_flags_change_what_commands_show(tmp_path, capsys) -> None:
    prof = tmp_path / "f.folded"
    prof.write_text("main;a;b 3\nmain;c 1\n")
    assert main(["top", str(prof), "--format", "csv", "--merge-function", "^a$"]) == 0
    out = capsys.readouterr().out
    assert "\na," not in out and ",b\n" in out
    q = "select count(*) as n from samples"
    assert main(["sql", q, str(prof), "--drop-function", "^c$", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "1"


def test_report_shows_the_selected_sample_type(tmp_path, capsys) -> None:
    from pathlib import Path

    cpu = Path(__file__).parent / "data/corpus/google-pprof/internal/report/testdata/sample.cpu"
    out = tmp_path / "r.html"
    for which, name in ((None, "cpu"), ("0", "samples"), ("samples", "samples"), ("1", "cpu")):
        flags = [] if which is None else ["--sample-index", which]
        assert main(["report", "--profile", str(cpu), *flags, "-o", str(out)]) == 0
        capsys.readouterr()
        assert f"Flame graph ({name})" in out.read_text()
    assert main(["report", "checkout-api", "--focus", "main", "-o", str(out)]) == 1
    assert "the datasets' stories choose their own" in capsys.readouterr().err


MULTI = {
    "otlp-capture": "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile.pb.bin",
    "pprof": "google-pprof/internal/report/testdata/sample.cpu",
}


#: the HTML report's stamp of when it was made (`report/html.py`)
GENERATED = re.compile(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC by")

#: command -> its arguments around one profile file F (O: an output file it writes)
WALK = {
    "top": ["F", "--format", "csv"],
    "peek": [".", "F", "--format", "csv"],
    "tags": ["F", "--format", "csv"],
    "traces": ["F", "--format", "csv"],
    "flame": ["F", "-o", "O"],
    "diff": ["F", "F", "-o", "O"],
    "trend": ["F", "--format", "csv"],
    "sql": ["select sum(value) as total, count(*) as n from samples", "F", "--format", "csv"],
    "convert": ["F", "O"],
    "report": ["--profile", "F", "-o", "O"],
    "query": ["{__source__=~'.+'}", "--store", "S", "top", "--format", "csv"],
}


@pytest.mark.parametrize("kind", sorted(MULTI))
@pytest.mark.parametrize("command", sorted(WALK))
def test_each_type_by_name_and_index_with_one_default(kind, command, corpus, tmp_path, capsys):
    from profilelab.core import sampletypes

    path = corpus / MULTI[kind]
    types = sampletypes.offered(profilelab.load(path))
    default = sampletypes.default(profilelab.load(path))
    out = tmp_path / ("out.folded" if command == "convert" else "out.html")
    store = tmp_path / "store"
    if command == "query":
        profilelab.open_store(store).ingest([path])
    names = {"F": str(path), "O": str(out), "S": str(store)}

    def run(flags: list[str]) -> str:
        argv = [command, *(names.get(a, a) for a in WALK[command]), *flags]
        assert main(argv) == 0, capsys.readouterr().err
        printed = capsys.readouterr().out
        written = out.read_text() if "O" in WALK[command] else printed
        return GENERATED.sub("Generated (time) by", written)  # runs may cross a minute

    outputs = {}
    for t in types:
        by_name = run(["--sample-index", t.type])
        assert run(["--sample-index", str(t.index)]) == by_name
        outputs[t.type] = by_name
    assert run([]) == outputs[default.type]
