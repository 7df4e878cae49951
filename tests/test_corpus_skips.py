"""Without the full corpus, every test that needs one of its unshipped files skips under
one summary line that says what is missing and how to get it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import MISSING_CORPUS

pytest_plugins = ["pytester"]

TESTS = """
import pytest
from conftest import need

def test_agpl_input(corpus):
    corpus / "grafana-pyroscope/pkg/pprof/testdata/heap"

@pytest.mark.parametrize("name", ["a.txt", "b.txt"])
def test_cddl_inputs(corpus, name):
    corpus / "brendangregg-FlameGraph/test" / name

def test_needed_file():
    need("grafana-pyroscope/pkg/pprof/testdata/profile_java")

def test_own_evidence_is_always_there(corpus):
    assert (corpus / "tests/data/evidence/go/cpu.pb.gz").is_file()

def test_other_skip():
    pytest.skip("something else")
"""


@pytest.mark.slow
def test_missing_corpus_skips_print_as_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    conftest = Path(__file__).with_name("conftest.py").read_text(encoding="utf-8")
    tests = pytester.path / "tests"
    (tests / "data" / "evidence" / "go").mkdir(parents=True)
    (tests / "data" / "evidence" / "go" / "cpu.pb.gz").write_bytes(b"")
    (tests / "conftest.py").write_text(conftest, encoding="utf-8")
    (tests / "test_x.py").write_text(TESTS, encoding="utf-8")
    monkeypatch.setenv("PROFILELAB_CORPUS", str(pytester.path / "no-such-corpus"))
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
    result = pytester.runpytest_subprocess("-ra", *quiet, "tests")
    result.assert_outcomes(passed=1, skipped=5)
    lines = [line for line in result.outlines if MISSING_CORPUS in line]
    assert len(lines) == 1, result.outlines
    assert re.match(r"SKIPPED \[4\] \S*conftest\.py:1: ", lines[0])
    assert any("something else" in line for line in result.outlines)
    assert "../shared/corpus" in MISSING_CORPUS and "tests/data/README.md" in MISSING_CORPUS
