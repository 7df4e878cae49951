"""The readers' defences one by one: call trees, strict JSON, checked sums, span times,
cycles, and one error line on the command line (the corpus test checks them all together)."""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profilelab
from profilelab.cli import main, one_line
from profilelab.errors import FormatError
from profilelab.readers._json import loads
from profilelab.readers._overflow import magnitude_sums, surely_fits
from profilelab.readers._speedscope_evented import _tree
from profilelab.readers._stacks import tree_stacks
from profilelab.readers.traces import read_traces
from profilelab.writers import write
from tests.malformed_corpus import (
    _cpuprofile_chain,
    _evented_deep,
    _pprof_seed,
    _pprof_values,
    _zipkin_links,
)

# ---- call trees -------------------------------------------------------------------------------


@st.composite
def forests(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A random forest (each node's parent comes before it) and frames (-1: none)."""
    n = draw(st.integers(1, 30))
    parent = [-1] + [draw(st.integers(-1, i - 1)) for i in range(1, n)]
    frame = [draw(st.integers(-1, 5)) for _ in range(n)]
    return np.array(parent, dtype=np.int64), np.array(frame, dtype=np.int64)


def _stack_by_walking(parent: np.ndarray, frame: np.ndarray, node: int) -> list[int]:
    out = []
    while node >= 0:
        if frame[node] >= 0:
            out.append(int(frame[node]))
        node = int(parent[node])
    return out


@given(forests(), st.data())
@settings(max_examples=60, deadline=None)
def test_tree_stacks_equal_walking_each_node(
    forest: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    parent, frame = forest
    chosen = np.array(data.draw(st.lists(st.integers(0, len(parent) - 1), max_size=10)), np.int64)
    offsets, flat, stack = tree_stacks(parent, frame, chosen, "t")
    for node, s in zip(chosen.tolist(), stack.tolist(), strict=True):
        assert flat[offsets[s] : offsets[s + 1]].tolist() == _stack_by_walking(parent, frame, node)


def test_tree_stacks_refuse_cycles_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = np.arange(-1, 99, dtype=np.int64)  # node i's parent is i - 1
    with pytest.raises(FormatError, match=r"^t: parent links form a cycle"):
        tree_stacks(np.array([1, 2, 0, -1]), np.arange(4), np.arange(4), "t")
    monkeypatch.setenv("PROFILELAB_MAX_STACK_DEPTH", "50")
    with pytest.raises(FormatError, match=r"^t: call tree deeper than 50 frames"):
        tree_stacks(chain, np.arange(100), np.array([99]), "t")
    monkeypatch.setenv("PROFILELAB_MAX_STACK_DEPTH", "100")
    monkeypatch.setenv("PROFILELAB_MAX_STACK_FRAMES", "1000")
    with pytest.raises(FormatError, match="hold 5050 frames, past the limit of 1000"):
        tree_stacks(chain, np.arange(100), np.arange(100), "t")
    assert len(tree_stacks(chain, np.arange(100), np.arange(40), "t")[1]) == 820


@given(st.lists(st.booleans(), max_size=40))
@settings(max_examples=60, deadline=None)
def test_evented_tree_matches_a_stack_simulation(moves: list[bool]) -> None:
    is_open, open_stack, parents, currents = [], [], [], []
    for want_open in moves:  # a well-nested event sequence
        if want_open or not open_stack:
            ordinal = sum(is_open)
            parents.append(open_stack[-1] if open_stack else -1)
            open_stack.append(ordinal)
            is_open.append(True)
        else:
            open_stack.pop()
            is_open.append(False)
        currents.append(open_stack[-1] if open_stack else -1)
    flags = np.array(is_open, dtype=bool)
    depth = np.cumsum(np.where(flags, 1, -1))
    parent, current = _tree(np.nonzero(flags)[0], depth)
    assert parent.tolist() == parents and current.tolist() == currents


def test_deep_call_trees_are_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILELAB_MAX_STACK_FRAMES", "100000")
    chain = tmp_path / "chain.cpuprofile"
    chain.write_bytes(_cpuprofile_chain(600))  # 180,300 frames once written out
    with pytest.raises(FormatError, match=r"hold 180300 frames, past the limit of 100000"):
        profilelab.load(chain)
    monkeypatch.setenv("PROFILELAB_MAX_STACK_DEPTH", "500")
    deep = tmp_path / "deep.speedscope.json"
    deep.write_bytes(_evented_deep(1000))
    with pytest.raises(FormatError, match=r"speedscope profile 0: events nest deeper than 500"):
        profilelab.load(deep)


# ---- numbers and text ---------------------------------------------------------------------------


def test_json_numbers_must_be_finite_and_surrogates_are_repaired() -> None:
    assert loads(b'["\\ud800", "\\ud83d\\ude00", "\\\\ud800"]', "x") == ["\ufffd", "😀", "\\ud800"]
    for bad in (b"[NaN]", b"[-Infinity]", b"[1e999]"):
        with pytest.raises(FormatError, match=r"^f: JSON number .* is not allowed"):
            loads(bad, "f")
    with pytest.raises(FormatError, match=r"^f: JSON nested too deeply"):
        loads(b"[" * 100_000, "f")


@pytest.mark.parametrize(
    "text",
    [
        b"123456789012345678901234567890",
        b" -9223372036854775809",
        b'{"a": [1, 18446744073709551616]}',
        b'[-12345678901234567890, "00000000000000000000"]',
    ],
)
def test_json_integers_past_64_bits_stay_exact(text: bytes) -> None:
    """The fast parser reads such integers as floats: they go to the exact one."""
    assert loads(text, "x") == json.loads(text)
    assert "float" not in repr(type(loads(text, "x")))


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
)
@settings(max_examples=60, deadline=None)
def test_json_parse_equals_the_standard_parser(doc: object) -> None:
    text = json.dumps(doc).encode()
    assert loads(text, "x") == json.loads(text)


def test_json_reading_pauses_the_collector_and_restores_it() -> None:
    import gc

    from profilelab.readers._json import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=20))
def test_magnitude_sums_are_exact(values: list[int]) -> None:
    matrix = np.array(values, dtype=np.int64).reshape(-1, 1)
    assert magnitude_sums(matrix) == [sum(abs(v) for v in values)]


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=20), st.integers(0, 62))
def test_the_quick_bound_never_passes_what_the_exact_sums_refuse(
    values: list[int], shift: int
) -> None:
    matrix = np.array([v >> shift for v in values], dtype=np.int64).reshape(-1, 1)
    if surely_fits(matrix):
        assert magnitude_sums(matrix)[0] < 2**63
    small = np.array([[1, 2], [3, 4]], dtype=np.int64)
    assert surely_fits(small) and not surely_fits(np.array([[-(2**63)]], dtype=np.int64))


def test_values_that_would_wrap_totals_are_refused() -> None:
    near = 2**63 - 1
    with pytest.raises(FormatError) as err:
        profilelab.load(_pprof_values(near, near, 5), name="big.pb")
    assert str(err.value).startswith(
        "big.pb: values of sample type cpu/nanoseconds add up to 18446744073709551619, past 2^63"
    )
    edge = profilelab.load(_pprof_values(near - 10, 10), name="edge.pb")
    assert edge.samples["value"].sum() == near  # the largest total that still fits


def test_inputs_whose_merged_totals_would_wrap_are_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pb", tmp_path / "b.pb"
    a.write_bytes(_pprof_values(2**62, 2**61))
    b.write_bytes(_pprof_values(2**62))
    assert profilelab.load(a).samples["value"].sum() == 2**62 + 2**61  # alone: fine
    with pytest.raises(FormatError, match=f"^{a}, {b}: values of sample type 0 add up to"):
        profilelab.load([a, b])


def test_span_times_past_int64_are_reported_not_fatal() -> None:
    doc = json.loads(_zipkin_links(2, cycle=False))
    doc[0]["timestamp"] = 2**70
    spans = read_traces(json.dumps(doc).encode(), name="z.json")
    assert spans.spans["start_ns"].null_count() == 1
    assert "bad_time" in spans.problems["problem"].to_list()


def test_a_long_parent_cycle_is_reported_briefly() -> None:
    spans = read_traces(_zipkin_links(3000, cycle=True), name="z.json")
    cycle = spans.problems.filter(spans.problems["problem"] == "parent_cycle")
    assert cycle.height == 3000
    assert cycle["detail"].str.len_chars().max() < 200  # was every id of the cycle, per row
    assert "(3000 spans)" in cycle["detail"][0]


# ---- speedscope written by convert, and the command line -------------------------------------


def _totals(profile: profilelab.Profile) -> list[int]:
    by_type = profile.samples.group_by("profile_id").agg(pl.col("value").sum())
    return sorted(by_type["value"].to_list())


def test_speedscope_written_by_convert_reads_back_as_one_input(tmp_path: Path) -> None:
    original = profilelab.load(_pprof_seed(), name="seed.pb")
    path = tmp_path / "seed.speedscope.json"
    with path.open("wb") as out:
        write(original, out, "speedscope")
    back = profilelab.load(path)
    back.check()
    assert back.profiles["source_id"].n_unique() == 1  # one input, two sample types
    assert _totals(back) == _totals(original)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["top", str(path)]) == 0, err.getvalue()  # was "incompatible sample types"


def test_cli_error_lines_escape_what_would_break_them() -> None:
    assert one_line("a\nb.pb: x") == "a\\nb.pb: x"
    assert one_line("\u202eevil \x1b[2J é 🔥") == "\\u202eevil \\x1b[2J é 🔥"


def test_a_null_frame_index_is_an_error_not_a_warning() -> None:
    doc = json.loads(_written_speedscope())
    doc["profiles"][0]["samples"][0].append(None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's cast warning was a second line on stderr
        with pytest.raises(FormatError, match="null sample, frame index or weight"):
            profilelab.load(json.dumps(doc).encode(), name="s.json")


def _written_speedscope() -> bytes:
    out = io.BytesIO()
    write(profilelab.load(_pprof_seed(), name="seed.pb"), out, "speedscope")
    return out.getvalue()
