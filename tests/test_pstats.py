"""cProfile / pstats files: per-function numbers equal what pstats reports."""

from __future__ import annotations

import cProfile
import marshal
import pstats
from pathlib import Path

import polars as pl
import pytest

import profilelab
from profilelab import FormatError


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def squares(n: int) -> int:
    return sum([i * i for i in range(n)])


def work() -> int:
    for _ in range(3):
        squares(20_000)
    return fib(17) + len(sorted(range(1000)))


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real cProfile run of :func:`work`, dumped as pstats does."""
    path = tmp_path_factory.mktemp("pstats") / "work.pstats"
    prof = cProfile.Profile()
    prof.enable()
    work()
    prof.disable()
    prof.dump_stats(str(path))
    return path


def by_name(table: pl.DataFrame) -> dict[str, tuple[int, int]]:
    return {row["name"]: (row["flat"], row["cum"]) for row in table.iter_rows(named=True)}


def pstats_rows(path: Path, key: str) -> dict[str, tuple[int, int, float, float]]:
    """{name as pstats prints it: (primitive calls, calls, tottime, cumtime)}"""
    stats = pstats.Stats(str(path)).sort_stats(key)
    out = {}
    for func in stats.fcn_list:  # type: ignore[attr-defined]
        cc, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
        name = pstats.func_std_string(func) if func[0] == "~" else func[2]
        out[name] = (cc, nc, tt, ct)
    return out


def test_top_equals_pstats_tottime_and_cumtime(stats_file: Path) -> None:
    profile = profilelab.load(stats_file)
    profile.check()
    assert profile.profiles["format"].unique().to_list() == ["pstats"]
    want = pstats_rows(stats_file, "tottime")
    assert len(want) == len(set(want))
    got = by_name(profile.top())  # the default type: tottime, with a rebuilt call tree
    assert set(got) == {n for n, (_, _, tt, ct) in want.items() if tt or ct}
    for name, (_, _, tt, ct) in want.items():
        if name not in got:
            continue
        flat, cum = got[name]
        assert flat == round(tt * 1e9), name  # exact
        # every callee here has one caller (recursion folds): cum is cumtime up to rounding
        assert abs(cum - ct * 1e9) <= 1000, name
    # sorted the way pstats sorts: by tottime, then by name as the tie breaker differs
    order = [n for n, r in sorted(want.items(), key=lambda kv: -kv[1][2]) if n in got]
    assert [n for n in profile.top()["name"]][:3] == order[:3]


def test_cumtime_and_call_counts_are_exact(stats_file: Path) -> None:
    profile = profilelab.load(stats_file)
    want = pstats_rows(stats_file, "cumulative")
    cum = by_name(profile.top(sample_index="cumtime"))
    calls = by_name(profile.top(sample_index="calls"))
    primitive = by_name(profile.top(sample_index="primitive_calls"))
    for name, (cc, nc, _, ct) in want.items():
        assert cum.get(name, (0, 0)) == (round(ct * 1e9),) * 2, name
        assert calls[name][0] == nc, name
        assert primitive[name][0] == cc, name
    assert calls["fib"][0] > primitive["fib"][0] == 1  # recursion: 2 * fib(17) - 1 calls
    units = dict(profile.profiles.select("sample_type", "sample_unit").iter_rows())
    assert units == {
        "tottime": "nanoseconds",
        "cumtime": "nanoseconds",
        "calls": "count",
        "primitive_calls": "count",
    }


def test_callers_become_stacks(stats_file: Path) -> None:
    """The call edges are in the tables: fib is called by work and by itself."""
    profile = profilelab.load(stats_file)
    peek = profile.peek("^squares$", sample_index="calls")
    assert "work" in peek["name"].to_list() and "<listcomp>" in peek["name"].to_list()


def test_two_functions_with_one_name_in_one_file_stay_apart(tmp_path: Path) -> None:
    stats = {
        ("m.py", 3, "<lambda>"): (1, 1, 0.25, 0.25, {}),
        ("m.py", 9, "<lambda>"): (1, 1, 0.5, 0.5, {}),
    }
    path = tmp_path / "two.prof"
    path.write_bytes(marshal.dumps(stats))
    profile = profilelab.load(path)
    assert profile.frames.height == 2
    assert sorted(profile.frames["line"].to_list()) == [3, 9]
    # top groups by name as pprof does; by line the two stay apart
    assert profile.top()["flat"].to_list() == [750_000_000]
    lines = profile.top(granularity="lines")["flat"].to_list()
    assert sorted(lines) == [250_000_000, 500_000_000]


def _code() -> object:
    return compile("1", "x", "eval")


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        ({}, "has no functions"),
        ({("f.py", 1, "f"): (1, 1, 0.1, 0.1)}, "is not (cc, nc, tottime, cumtime, callers)"),
        ({("f.py", "1", "f"): (1, 1, 0.1, 0.1, {})}, "is not (file, line, name)"),
        ({("f.py", 1, "f"): (1, -1, 0.1, 0.1, {})}, "is not (cc, nc"),
        ({("f.py", 1, "f"): (1, 1, float("nan"), 0.1, {})}, "is not (cc, nc"),
        ({("f.py", 1, "f"): (1, 1, 0.1, 0.1, {("g", 1): 1})}, "is not (file, line, name)"),
        ({("f.py", 1, "f"): (1, 1, 0.1, 0.1, {("g", 1, "g"): (1, 1)})}, "is malformed"),
        ({("f.py", 1, "f"): (1, 1, 0.1, 0.1, {("g", 1, "g"): _code()})}, "is malformed"),
    ],
)
def test_malformed_pstats_fail_clearly(tmp_path: Path, stats: dict, expected: str) -> None:
    path = tmp_path / "bad.pstats"
    path.write_bytes(marshal.dumps(stats))
    with pytest.raises(FormatError, match=r"bad\.pstats: ") as info:
        profilelab.load(path)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_truncated_and_non_dict_marshal(stats_file: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pstats"
    cut.write_bytes(stats_file.read_bytes()[:200])
    with pytest.raises(FormatError, match=r"cut.pstats: damaged pstats \(marshal\) data"):
        profilelab.load(cut)


def test_the_profile_module_writes_call_counts_as_edges(tmp_path: Path) -> None:
    """The pure-Python ``profile`` module stores a call count per caller, not four
    numbers: edges are split by those counts, flat is still tottime exactly."""
    import profile as pure

    path = tmp_path / "pure.prof"
    prof = pure.Profile()
    prof.runcall(work)
    prof.dump_stats(str(path))
    loaded = profilelab.load(path)
    loaded.check()
    got = by_name(loaded.top())
    calls = by_name(loaded.top(sample_index="calls"))
    for name, (_, nc, tt, _) in pstats_rows(path, "tottime").items():
        assert got.get(name, (0, 0))[0] == round(tt * 1e9), name
        assert calls.get(name, (0, 0))[0] == nc, name
