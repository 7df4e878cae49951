"""A store query's ``top`` equals the direct ``top`` of the same file, for every corpus file
and every sample type: through the API and the CLI, with and without ``sum(...)``, as text
and CSV. Files the store refuses are refused with the one-line reason loading them gives.

One store holds the whole corpus (ingested once per module); each case queries one file.
"""

from __future__ import annotations

import hashlib
import os
import re

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab import core, ops, views
from profilelab.cli import main
from profilelab.ops.options import ReportOptions
from profilelab.render.header import go_time
from profilelab.render.report import report
from tests.conftest import CORPUS


def _corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.parts)
    )


FILES = _corpus_files()
#: Files this large take seconds each (many sample types, large tables).
LARGE = 400_000


def _params() -> list:  # type: ignore[type-arg]
    slow = pytest.mark.slow
    return [
        pytest.param(f, marks=[slow] if (CORPUS / f).stat().st_size > LARGE else []) for f in FILES
    ]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[profilelab.Store, dict[str, str]]:
    """The store of the whole corpus and the ingest's reason per refused file."""
    store = profilelab.open_store(tmp_path_factory.mktemp("corpus") / "store")
    got = store.ingest([CORPUS])
    assert got.inputs == len(FILES)
    return store, dict(got.failed)


@pytest.fixture(scope="module")
def everything(stored: tuple[profilelab.Store, dict[str, str]]) -> profilelab.Profile:
    """Every stored profile, from one query."""
    return stored[0].query('{__source__=~".+"}')


def _without_binary(text: str) -> str:
    return "".join(
        line for line in text.splitlines(True) if not line.startswith(("File: ", "Build ID: "))
    )


def _twins(rel: str) -> list[str]:
    """The corpus files with the bytes of ``rel`` (the store keeps one of them)."""
    digest = _digests()[rel]
    return [str(CORPUS / f) for f, d in _digests().items() if d == digest]


_DIGESTS: dict[str, str] = {}


def _digests() -> dict[str, str]:
    if not _DIGESTS:
        for f in FILES:
            _DIGESTS[f] = hashlib.sha256((CORPUS / f).read_bytes()).hexdigest()
    return _DIGESTS


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _without_assigned_time(stored_text: str, direct_text: str, source: str) -> str:
    """The store gives an input without a start time its file's modification time (its
    documented contract: every stored profile has a time); the report then has a Time
    line the direct one lacks. Check that line and take it out; nothing else may differ."""
    direct_lines, lines = direct_text.splitlines(True), stored_text.splitlines(True)
    times = [line for line in lines if line.startswith("Time: ")]
    if any(line.startswith("Time: ") for line in direct_lines) or not times:
        return stored_text
    assert times == ["Time: " + go_time(os.stat(source).st_mtime_ns) + "\n"]
    return "".join(line for line in lines if line not in times)


@pytest.mark.parametrize("rel", _params())
def test_store_query_top_equals_direct_top(
    rel: str,
    stored: tuple[profilelab.Store, dict[str, str]],
    everything: profilelab.Profile,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, failed = stored
    path = CORPUS / rel
    twins = _twins(rel)
    try:
        direct = profilelab.load(path)
    except profilelab.ProfileLabError as exc:
        # refused by the store with the reason loading gives, in one line (or one of its
        # byte-identical twins was, and this copy was not decoded again)
        reasons = {failed[t] for t in twins if t in failed}
        assert reasons, f"{rel}: loading fails ({exc}) but the store did not refuse it"
        assert reasons == {str(exc).removeprefix(f"{path}: ")}
        assert all("\n" not in r for r in reasons)
        return
    catalog = store.snapshot().catalog
    sources = [t for t in twins if t in set(catalog["source"])]
    assert len(sources) == 1, f"{rel}: loads, but the store holds it {len(sources)} times"
    source = sources[0]
    plain = f"{{__source__={_quoted(source)}}}"
    n_types = len(profilelab.core.sampletypes.offered(direct))
    # the command line prints what the API reports (tests/test_core_aggregate.py), so the
    # per-file selectors and the command line are walked on every input with several types
    # and one file in five of the rest; the others take their profiles from one query of
    # the whole store (CI time: a query per file per selector costs about a second)
    walked = n_types >= 2 or FILES.index(rel) % 5 == 0
    if walked:
        queries = {plain: store.query(plain), f"sum({plain})": store.query(f"sum({plain})")}
    else:
        ids = everything.profiles.filter(pl.col("source") == source)["profile_id"]
        queries = {"every source (this file's profiles)": everything.subset(ids)}
    # every type as text (the header, and the table with pprof's names), plain and summed;
    # the default also as CSV (full names, every node)
    cases = [(None, "csv"), *((i, "text") for i in [None, *range(n_types)])]
    for index, fmt in cases:
        opts = ReportOptions(sample_index=index)
        want = report(direct, "top", opts, fmt=fmt)
        for selector, got in queries.items():
            text = _without_assigned_time(report(got, "top", opts, fmt=fmt), want, source)
            if not walked:  # the whole store's mappings: pprof's main binary is theirs
                text, want = _without_binary(text), _without_binary(want)
            assert text == want, (selector, index, fmt)
    # the command line: the default type (chosen alike by both commands), plain and summed,
    # and the last type by number through sum (the seam that once printed nothing)
    if not walked:
        return
    root = str(store.root)
    cli_cases = [(None, "csv", list(queries)), (n_types - 1, "text", [f"sum({plain})"])]
    for index, fmt, selectors in cli_cases:
        flags = [] if index is None else ["--sample-index", str(index)]
        out = [*flags, "--format", fmt, "--nodecount", "1000000"]
        want = _cli(["top", str(path), *out], capsys)
        for selector in selectors:
            printed = _cli(["query", selector, "--store", root, "top", *out], capsys)
            assert _without_assigned_time(printed, want, source) == want, (selector, index, fmt)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_selections_of_stored_files_equal_direct_loads(
    stored: tuple[profilelab.Store, dict[str, str]], data: st.DataObject
) -> None:
    """Any stored corpus file, any of its sample types, a random granularity, frame filter
    or transform: the store query's top (plain and summed) is the direct load's, and its
    total is the flame graph's root."""
    store, _ = stored
    sources = sorted(set(store.snapshot().catalog["source"]))
    source = data.draw(st.sampled_from(sources))
    direct = profilelab.load(source)
    types = profilelab.core.sampletypes.offered(direct)
    stype = data.draw(st.sampled_from(types)).type
    kw: dict[str, object] = {"sample_index": stype}
    kw["granularity"] = data.draw(st.sampled_from(["functions", "files", "lines"]))
    # symbolized functions: pprof's filters match names and files, never the 0x... an
    # unsymbolized frame is shown as
    names = direct.frames["function"].drop_nulls().unique().sort().to_list()
    if names:
        exact = "^" + re.escape(data.draw(st.sampled_from(names))) + "$"
        how = data.draw(st.sampled_from(["none", "focus", "ignore", "merge_function"]))
        if how == "merge_function":
            kw["transforms"] = [("merge_function", exact)]
        elif how != "none":
            kw[how] = exact
    want = direct.top(**kw)
    plain = f"{{__source__={_quoted(source)}}}"
    for selector in (plain, f"sum({plain})"):
        got = store.query(selector)
        assert got.top(**kw).equals(want), (source, selector, kw)
    if kw["granularity"] == "functions":
        view = views.Selection(direct, selection=core.Selection(**kw))  # type: ignore[arg-type]
        # the samples the selection keeps: focus and ignore keep fewer (the report's total
        # stays the whole profile's, as pprof's percentages do); a transform keeps all,
        # those whose stack it emptied too (pprof counts them in its total)
        kept = int(want["flat"].sum())
        if "focus" not in kw and "ignore" not in kw:
            kept = int(ops.run(direct, "top", ReportOptions(**kw)).prepared.total)  # type: ignore[arg-type]
        assert int(view.flame().total[0]) == kept
