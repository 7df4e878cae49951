"""Shared test fixtures: where the conformance corpus is, and small profile builders.

The corpus is ``../shared/corpus`` beside the clone when it is there (or the folder named by
``PROFILELAB_CORPUS``); otherwise ``tests/data/corpus``, the permissively licensed part of it
that ships with the repository (same layout, see tests/data/README.md). A test that asks the
shipped corpus for a file it does not hold (the AGPL and CDDL inputs) is skipped, and all
such skips print as one line of the summary. Paths under ``datasets/`` and
``tests/data/evidence/`` (OWN_PREFIXES) name files of this repository, found either way.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED_CORPUS = Path(os.environ.get("PROFILELAB_CORPUS") or ROOT.parent / "shared" / "corpus")
SHIPPED_CORPUS = DATA / "corpus"
SHIPPED = not SHARED_CORPUS.is_dir()
CORPUS = SHIPPED_CORPUS if SHIPPED else SHARED_CORPUS
#: The project's own inputs, made by its own scripts and licensed with it: always in the
#: repository, named by their path in it wherever a corpus path is expected.
OWN_PREFIXES = ("datasets/", "tests/data/evidence/")

#: The one reason every "file not shipped" skip is reported under.
MISSING_CORPUS = (
    "need the full conformance corpus, which is not beside this clone: its grafana/pyroscope "
    "(AGPL-3.0) and brendangregg/FlameGraph (CDDL) files cannot ship in tests/data; get them "
    "as tests/data/README.md says (The full corpus) into ../shared/corpus or the folder "
    "named by PROFILELAB_CORPUS"
)
_MARK = "corpus file not shipped: "


def skip_missing(path: Path | str) -> NoReturn:
    """Skip the running test: it needs a corpus file that is not shipped."""
    pytest.skip(f"{_MARK}{path}")


def need(rel: str) -> Path:
    """The corpus file ``rel`` (relative to the corpus root), or skip when it is not shipped."""
    path = ROOT / rel if rel.startswith(OWN_PREFIXES) else CORPUS / rel
    if not path.exists():
        skip_missing(rel)
    return path


class CorpusPath(type(Path())):  # type: ignore[misc]
    """The corpus root: joining a path the shipped corpus lacks skips the test."""

    def __truediv__(self, key: Any) -> Any:
        if str(key).startswith(OWN_PREFIXES):
            return ROOT / key
        path = super().__truediv__(key)
        if SHIPPED and not os.path.exists(path):
            skip_missing(path.relative_to(CORPUS))
        return path


@pytest.fixture
def corpus() -> Path:
    return CorpusPath(CORPUS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    """Fold every "file not shipped" skip into one summary line (``-ra`` groups equal ones)."""
    report = yield
    longrepr = getattr(report, "longrepr", None)
    if report.skipped and isinstance(longrepr, tuple) and _MARK in str(longrepr[2]):
        report.longrepr = (__file__, _REPORT_LINE, MISSING_CORPUS)
    return report


_REPORT_LINE = 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``dev/test`` runs ``-n 2 --dist loadfile --no-loadscope-reorder``),
    start the files that launch Spark's JVM first, then the other files with ``slow`` tests,
    then the rest, each group in the usual order. A worker that launches the JVM after gRPC
    servers and clients ran in it (``test_store_serve_otlp.py``) once saw the JVM exit before
    it gave its port; in a serial run the JVM starts first (``test_docs_examples.py``). The
    long files starting first also keep one worker from finishing alone. Serial runs keep
    the order of collection."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank: dict[str, int] = {}  # test file -> 0 (Spark), 1 (slow) or 2
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        file = item.nodeid.partition("::")[0]
        rank[file] = min(rank.get(file, 2), 0 if "spark" in marks else 1 if "slow" in marks else 2)
    items.sort(key=lambda item: rank[item.nodeid.partition("::")[0]])  # stable sort


@contextlib.contextmanager
def utc_timezone() -> Iterator[None]:
    """Run in the UTC zone (pprof prints times in the local zone), then restore it."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()
