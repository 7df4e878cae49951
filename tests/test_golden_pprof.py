"""Golden tests: profilelab's reports equal ``go tool pprof``'s, byte for byte.

Cases come from ``tests/golden/manifest.json`` (see ``tests/golden/generate.py``): top,
tags and peek for every sample type of every pprof file of the corpus and of the shipped
datasets, every report kind for the project's own evidence (tests/data/evidence, run with
or without the corpus), plus pprof's own driver golden commands. Expected outputs are
committed, except for AGPL inputs, whose outputs ``go tool pprof`` computes here, once per
session, two at a time.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from conftest import CORPUS, SHIPPED, skip_missing, utc_timezone

import profilelab
from profilelab.model.profile import Profile
from profilelab.ops.options import ReportOptions
from profilelab.render import report

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import cases as C

GO_VERSION, CASES = C.load_manifest()
HAVE_GO = shutil.which("go") is not None

#: Differences the project's own evidence found and that are not fixed yet, as
#: {case id: (reason, strict)}: a fix turns a strict one into a failure, to be removed here.
KNOWN: dict[str, tuple[str, bool]] = {}


def _params(cases: list[C.Case]) -> list[object]:
    return [
        pytest.param(
            c, id=c.id, marks=pytest.mark.xfail(strict=KNOWN[c.id][1], reason=KNOWN[c.id][0])
        )
        if c.id in KNOWN
        else pytest.param(c, id=c.id)
        for c in cases
    ]


@pytest.fixture(scope="session", autouse=True)
def utc() -> Iterator[None]:
    """pprof prints times in the local zone: compare in UTC."""
    with utc_timezone():
        yield


@pytest.fixture(scope="session")
def profiles() -> dict[str, Profile]:
    return {}


@pytest.fixture(scope="session")
def agpl_outputs() -> dict[str, str]:
    """``go tool pprof`` outputs of every AGPL case (computed once, never stored)."""
    if SHIPPED or not HAVE_GO:
        return {}
    return C.run_all(CORPUS, [c for c in CASES if c.agpl])


def _expected(case: C.Case, agpl_outputs: dict[str, str]) -> tuple[C.Case, str]:
    if case.agpl:
        if SHIPPED:
            skip_missing(case.file)
        if not HAVE_GO:
            pytest.skip("go is not installed (needed for AGPL inputs)")
        case = C.with_peek_regex(case, agpl_outputs)
        if case.id not in agpl_outputs:
            pytest.skip("no node to peek at")
        return case, agpl_outputs[case.id]
    text = C.read_expected(case)
    assert text is not None, f"missing expected output for {case.id}"
    return case, text


def _render(
    case: C.Case, profiles: dict[str, Profile], fmt: str = "text", names: str | None = None
) -> str:
    if case.file not in profiles:
        profiles[case.file] = profilelab.load(case.path(CORPUS))
    opts = ReportOptions(**C.options_for(case.flags, case.path(CORPUS).parent), names=names)
    base, diff = C.base_of(case)
    if base is not None:
        opts = opts.with_(base=profilelab.load(CORPUS / base), diff_base=diff)
    return report(profiles[case.file], case.kind, opts, fmt=fmt, regex=case.regex)


@pytest.mark.golang
@pytest.mark.parametrize("case", _params(CASES))
def test_report_equals_pprof(
    case: C.Case, profiles: dict[str, Profile], agpl_outputs: dict[str, str]
) -> None:
    case, expected = _expected(case, agpl_outputs)
    if case.kind == "peek" and not case.regex:
        case = C.with_peek_regex(case, {case.id.replace(".peek.", ".top."): _top_text(case)})
    got = _render(case, profiles)
    if got != expected and case.kind == "tags":
        assert C.tags_sections(got) == C.tags_sections(expected)
    elif got != expected and case.kind == "peek":
        sep = "\n------"
        assert got.split(sep)[0] == expected.split(sep)[0]
        assert C.peek_blocks(got) == C.peek_blocks(expected)
    else:
        assert got == expected


def _top_text(case: C.Case) -> str:
    top = C.Case(case.id.replace(".peek.", ".top."), case.file, "top", case.flags)
    text = C.read_expected(top)
    assert text is not None
    return text


# The per-sample-type corpus cases print values with -unit=<sample unit>: exact integers.
TOP_CASES = [c for c in CASES if c.kind == "top" and ".extra" not in c.id and ".driver" not in c.id]


@pytest.mark.golang
@pytest.mark.parametrize("case", TOP_CASES, ids=[c.id for c in TOP_CASES])
def test_top_csv_rows_equal_pprof(
    case: C.Case, profiles: dict[str, Profile], agpl_outputs: dict[str, str]
) -> None:
    """The CSV rows (name, flat, cum) are pprof's numbers as exact integers.

    CSV keeps full function names by default; ``names="pprof"`` gives pprof's.
    """
    case, expected = _expected(case, agpl_outputs)
    csv = _render(case, profiles, fmt="csv", names="pprof")
    got = pl.read_csv(io.StringIO(csv), infer_schema=False)
    assert got.columns == ["flat", "flat_pct", "sum_pct", "cum", "cum_pct", "name"]
    rows = [(n, int(f), int(c)) for f, c, n in got.select("flat", "cum", "name").iter_rows()]
    assert rows == C.top_rows(expected)
