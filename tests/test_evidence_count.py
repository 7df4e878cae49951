"""dev/evidence-count: tests run with and without the full corpus, from JUnit reports."""

from __future__ import annotations

import collections
import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

from tests.conftest import MISSING_CORPUS

SCRIPT = Path(__file__).resolve().parent.parent / "dev" / "evidence-count"


def script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("evidence_count", str(SCRIPT))
    spec = importlib.util.spec_from_loader("evidence_count", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def junit(*cases: tuple[str, str | None, str]) -> str:
    """A pytest JUnit report of (classname, skip type or None, skip message) cases."""
    rows = []
    for i, (classname, kind, message) in enumerate(cases):
        inner = f'<skipped type="{kind}" message="{message}"/>' if kind else ""
        rows.append(f'<testcase classname="{classname}" name="t{i}">{inner}</testcase>')
    return f"<testsuites><testsuite>{''.join(rows)}</testsuite></testsuites>"


def test_runs_skips_and_corpus_skips_per_module(tmp_path: Path) -> None:
    ec = script()
    report = tmp_path / "without.xml"
    report.write_text(
        junit(
            ("tests.test_a", None, ""),
            ("tests.test_a.TestClass", "pytest.xfail", "known"),  # an expected failure runs
            ("tests.test_a", "pytest.skip", MISSING_CORPUS),
            ("tests.test_b", "pytest.skip", "no chromium"),
        )
    )
    got = ec.reports(tmp_path, "without")
    assert got["tests/test_a.py"] == collections.Counter(run=2, skipped=1, corpus=1)
    assert got["tests/test_b.py"] == collections.Counter(skipped=1, corpus=0)


def test_a_later_report_replaces_its_modules_only(tmp_path: Path) -> None:
    ec = script()
    (tmp_path / "with.xml").write_text(
        junit(("tests.test_a", None, ""), ("tests.test_b", None, ""), ("tests.test_b", None, ""))
    )
    (tmp_path / "with.1.xml").write_text(junit(("tests.test_b", None, "")))
    (tmp_path / "without.xml").write_text(junit(("tests.test_a", "pytest.skip", "x")))
    got = ec.reports(tmp_path, "with")
    assert {m: c["run"] for m, c in got.items()} == {"tests/test_a.py": 1, "tests/test_b.py": 1}
    counts = {
        "with": collections.Counter({"tests/test_a.py": 1, "tests/test_b.py": 1}),
        "without": collections.Counter({"tests/test_a.py": 1, "tests/test_b.py": 1}),
    }
    runs = {mode: ec.reports(tmp_path, mode) for mode in ("with", "without")}
    table = ec.table(counts, runs)
    assert "| test_a.py | 1 | 1 | 1 | 0 | 0 |" in table
    assert "| **all** | 2 | 2 | 2 | 0 | 0.0 |" in table
