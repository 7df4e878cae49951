"""``profilelab flame`` and ``profilelab diff``: files written, clean errors."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from profilelab.cli import build_parser, main
from profilelab.views.encode import decode
from tests.flame_support import Sample, pprof_bytes
from tests.test_views_diff import BASE, NEW
from tests.test_views_flame import SMALL


def write_profile(path: Path, stacks: list[tuple[list[str], int]]) -> Path:
    path.write_bytes(pprof_bytes([Sample(s, [1, v]) for s, v in stacks]))
    return path


def embedded_tree(html: str) -> tuple[dict, dict, list[str]]:
    data = re.search(r'<script type="application/json" id="plf-data">(.*?)</script>', html)
    assert data is not None
    meta, arrays, strings = decode(base64.b64decode(json.loads(data.group(1))["tree"]))
    return meta, arrays, strings


def test_flame_command_writes_a_self_contained_page(tmp_path: Path, capsys) -> None:
    src = write_profile(tmp_path / "cpu.pb.gz", SMALL)
    out = tmp_path / "cpu.html"
    assert main(["flame", str(src), "-o", str(out), "--focus", "serve"]) == 0
    assert "wrote" in capsys.readouterr().out
    html = out.read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched
    meta, arrays, strings = embedded_tree(html)
    assert meta["sample_type"] == "cpu" and arrays["total"][0] == 69  # focus kept serve's
    assert "gc" not in strings


def test_flame_command_options(tmp_path: Path) -> None:
    src = write_profile(tmp_path / "cpu.pb.gz", SMALL)
    out = tmp_path / "inv.html"
    args = ["flame", str(src), "-o", str(out), "--inverted", "--sample-type", "samples"]
    assert main([*args, "--granularity", "file"]) == 0
    meta, arrays, _ = embedded_tree(out.read_text())
    assert meta["kind"] == "inverted" and meta["granularity"] == "files"
    assert arrays["total"][0] == len(SMALL)


def test_diff_command_two_files_and_label_selections(tmp_path: Path) -> None:
    base = write_profile(tmp_path / "base.pb.gz", BASE)
    new = write_profile(tmp_path / "new.pb.gz", NEW)
    out = tmp_path / "diff.html"
    assert main(["diff", str(base), str(new), "-o", str(out), "--normalize"]) == 0
    meta, arrays, _ = embedded_tree(out.read_text())
    assert meta["kind"] == "diff" and meta["normalize"] is True
    assert (arrays["base"][0], arrays["new"][0]) == (45, 80)
    labelled = tmp_path / "l.pb.gz"
    labelled.write_bytes(
        pprof_bytes(
            [Sample(["main", "a"], [1, 5], {"v": "1"}), Sample(["main", "b"], [1, 7], {"v": "2"})]
        )
    )
    args = ["diff", str(labelled), "--base-label", "v=1", "--new-label", "v=2", "-o", str(out)]
    assert main(args) == 0
    meta, arrays, _ = embedded_tree(out.read_text())
    assert (arrays["base"][0], arrays["new"][0]) == (5, 7)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["flame", "{missing}", "-o", "{out}"], "no such file"),
        (["flame", "{src}", "-o", "{out}", "--focus", "("], "parsing focus regexp"),
        (["flame", "{src}", "-o", "{out}", "--label", "novalue"], "is not KEY=VALUE"),
        (
            ["flame", "{src}", "-o", "{out}", "--sample-type", "wall"],
            "sample_index 'wall' must be one of",
        ),
        (["flame", "{src}", "-o", "{tmp}/no/dir/x.html"], "cannot write"),
        (["diff", "{src}", "-o", "{out}"], "diff needs NEW"),
        (["flame", "{garbage}", "-o", "{out}"], "garbage"),
    ],
)
def test_bad_input_is_one_clean_error(tmp_path: Path, capsys, argv, message) -> None:
    src = write_profile(tmp_path / "cpu.pb.gz", SMALL)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a profile at all")
    subst = {
        "src": str(src),
        "out": str(tmp_path / "o.html"),
        "tmp": str(tmp_path),
        "missing": str(tmp_path / "missing.pb.gz"),
        "garbage": str(garbage),
    }
    assert main([a.format(**subst) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("profilelab: error:") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_commands_have_examples() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("flame", "diff"):
        assert "examples:" in sub.choices[name].format_help()


def test_html_export_is_bounded_by_max_nodes(tmp_path: Path) -> None:
    stacks = [(["main", f"f{i}", f"g{i}"], 1 + i % 7) for i in range(400)]
    src = write_profile(tmp_path / "wide.pb.gz", stacks)
    out = tmp_path / "w.html"
    assert main(["flame", str(src), "-o", str(out), "--max-nodes", "100"]) == 0
    _, arrays, _ = embedded_tree(out.read_text())
    assert len(arrays["parent"]) <= 100 and arrays["total"][0] == sum(v for _, v in stacks)


def test_flame_command_time_range_keeps_the_samples_in_it(tmp_path: Path) -> None:
    import polars as pl

    from profilelab.writers import write
    from tests.timeline_support import STEP, T0, timed_profile

    profile = timed_profile()
    src = tmp_path / "timed.otlp"
    with src.open("wb") as f:
        write(profile, f, "otlp")
    start, end = T0 + 5 * STEP, T0 + 17 * STEP
    out = tmp_path / "range.html"
    assert main(["flame", str(src), "-o", str(out), "--from", str(start), "--to", str(end)]) == 0
    _, arrays, _ = embedded_tree(out.read_text())
    t = pl.col("time_ns")
    in_range = profile.samples.filter((t >= start) & (t < end))["value"].sum()
    assert arrays["total"][0] == in_range < profile.samples["value"].sum()
