"""Properties of the reports on random profiles (hypothesis), checked by brute force.

* top: the flats add up to the total of the sample values, at every granularity;
* cum of a node = the values of the samples whose stack contains it (recursion once);
* a profile minus itself (``base``) has no nodes; with ``diff_base`` nothing but zeros;
* tags: each key's total = the values of the samples carrying that key.
"""

from __future__ import annotations

from collections import defaultdict

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab._proto import pprof_pb2
from profilelab.model.profile import Profile

N_FUNCS = 6
N_LOCS = 8


@st.composite
def profiles(draw: st.DrawFn) -> tuple[bytes, list[tuple[list[int], int, int, str | None]]]:
    """A pprof message and its samples as (location ids leaf first, v0, v1, label)."""
    # Each location: 1-2 lines (inlined call first), functions chosen at random.
    loc_lines = [
        draw(st.lists(st.integers(1, N_FUNCS), min_size=1, max_size=2)) for _ in range(N_LOCS)
    ]
    samples = draw(
        st.lists(
            st.tuples(
                st.lists(st.integers(1, N_LOCS), min_size=1, max_size=6),
                st.integers(0, 1000),
                st.integers(0, 10**9),
                st.sampled_from([None, "a", "b"]),
            ),
            min_size=1,
            max_size=25,
        )
    )
    return _encode(loc_lines, samples), [(s[0], s[1], s[2], s[3]) for s in samples]


def _encode(loc_lines: list[list[int]], samples: list) -> bytes:  # type: ignore[type-arg]
    strings = ["", "samples", "count", "cpu", "nanoseconds", "key"]
    p = pprof_pb2.Profile()
    for t, u in ((1, 2), (3, 4)):
        vt = p.sample_type.add()
        vt.type, vt.unit = t, u
    for f in range(1, N_FUNCS + 1):
        fn = p.function.add()
        fn.id, fn.name = f, len(strings)
        strings.append(f"pkg.f{f}")
    m = p.mapping.add()
    m.id, m.memory_start, m.memory_limit = 1, 0x1000, 0x9000
    for i, lines in enumerate(loc_lines, start=1):
        loc = p.location.add()
        loc.id, loc.mapping_id, loc.address = i, 1, 0x1000 + 16 * i
        for f in lines:
            ln = loc.line.add()
            ln.function_id, ln.line = f, 10 * f
    for locs, v0, v1, label in samples:
        s = p.sample.add()
        s.location_id.extend(locs)
        s.value.extend([v0, v1])
        if label:
            lb = s.label.add()
            lb.key, lb.str = 5, len(strings)
            strings.append(label)
    p.string_table.extend(s.encode() for s in strings)
    return p.SerializeToString()


def _functions(loc_ids: list[int], data: bytes) -> set[str]:
    msg = pprof_pb2.Profile()
    msg.ParseFromString(data)
    locs = {loc.id: [ln.function_id for ln in loc.line] for loc in msg.location}
    return {f"pkg.f{f}" for loc in loc_ids for f in locs[loc]}


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(profiles(), st.sampled_from(["functions", "filefunctions", "lines", "addresses"]))
def test_flat_total_is_sample_total(case: tuple, granularity: str) -> None:  # type: ignore[type-arg]
    data, samples = case
    prof = profilelab.load(data)
    for index in (0, 1):
        top = prof.top(sample_index=index, granularity=granularity)
        assert top["flat"].sum() == sum(s[1 + index] for s in samples)
        for noinlines in (True, False):
            t2 = prof.top(sample_index=index, granularity=granularity, noinlines=noinlines)
            assert t2["flat"].sum() == top["flat"].sum()


@SETTINGS
@given(profiles())
def test_cum_counts_each_sample_once(case: tuple) -> None:  # type: ignore[type-arg]
    data, samples = case
    expected: dict[str, int] = defaultdict(int)
    for locs, v0, _v1, _label in samples:
        for name in _functions(locs, data):
            expected[name] += v0
    top = profilelab.load(data).top(sample_index=0)
    got = dict(top.select("name", "cum").iter_rows())
    assert got == {k: v for k, v in expected.items() if v or k in got}
    # The root-most function of every sample: its cum is the total.
    roots = {frozenset(_functions(s[0][-1:], data)) for s in samples}
    if len(roots) == 1:
        (root_fns,) = roots
        for name in root_fns:
            assert got.get(name, 0) == sum(s[1] for s in samples)


@SETTINGS
@given(profiles())
def test_profile_minus_itself_is_zero(case: tuple) -> None:  # type: ignore[type-arg]
    data, _ = case
    prof = profilelab.load(data)
    assert prof.top(base=prof).height == 0
    diff = prof.top(base=prof, diff_base=True)
    assert diff["flat"].sum() == 0
    assert (diff["flat"] == 0).all() or diff.height == 0
    assert prof.traces(base=prof).height == 0


@SETTINGS
@given(profiles())
def test_tag_totals(case: tuple) -> None:  # type: ignore[type-arg]
    data, samples = case
    tags = profilelab.load(data).tags(sample_index=1)
    by_value = {v: f for k, v, f in tags.select("key", "value", "flat").iter_rows()}
    for label in ("a", "b"):
        carrying = [s for s in samples if s[3] == label and (s[1] or s[2])]
        if carrying:
            assert by_value[label] == sum(s[2] for s in carrying)
        else:
            assert label not in by_value


def test_top_of_empty_selection_is_empty() -> None:
    data = _encode([[1]], [([1], 5, 7, None)])
    prof: Profile = profilelab.load(data)
    assert prof.top(focus="nothing-matches").height == 0
    assert prof.top(ignore="pkg").height == 0
    out = prof.top(hide="f1")
    assert isinstance(out, pl.DataFrame) and out.height == 0
