"""The store's function index: flat and cum per (profile, function), written by each commit,
kept by compaction and retention, built for older stores by ``store compact``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_util import MINUTE, T0, fresh_process, make_old, make_profiles

import profilelab
from profilelab.core.aggregate import per_function
from profilelab.store import functions, layout, writer
from profilelab.store.prepare import Item
from profilelab.store.query import function_totals

EVERY = '{__name__=~".+"}'


def _index(store: profilelab.Store) -> pl.DataFrame:
    """Every live function index row, keyed as per_function keys them."""
    files = store.snapshot().files(f"{layout.FUNCTIONS}/")
    rows = pl.read_parquet([str(store.root / f) for f in files], hive_partitioning=False)
    return rows.select("profile_id", pl.col("function").alias("key"), "flat", "cum").sort(
        "profile_id", "key"
    )


def _expected_index(store: profilelab.Store) -> pl.DataFrame:
    prof = store.query(EVERY)
    out = per_function(prof, by=["profile_id"]).select("profile_id", "key", "flat", "cum")
    return out.sort("profile_id", "key")


def _answers(store: profilelab.Store, function: str) -> tuple[pl.DataFrame, ...]:
    return (
        store.top("cpu"),
        store.top("cpu:samples", T0 + 10 * MINUTE, T0 + 50 * MINUTE),
        store.series("cpu", "10m", function=function),
        store.series("cpu:samples", "1h", function=function),
    )


def _same(got: tuple[pl.DataFrame, ...], expected: tuple[pl.DataFrame, ...]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.height > 0
        assert g.equals(e)


def _made(tmp: Path, n: int = 12):  # type: ignore[no-untyped-def]
    return make_profiles(tmp / "in", n, samples=60, step_ns=5 * MINUTE, functions=30, stacks=40)


def test_each_commit_writes_the_index_of_its_profiles(tmp_path) -> None:
    made = _made(tmp_path)
    store = profilelab.open_store(tmp_path / "store")
    store.ingest([m.path for m in made[:5]])
    store.ingest([m.path for m in made[5:]])
    rows = store.profiles()
    assert rows["functions_file"].null_count() == 0
    assert rows["functions_file"].str.starts_with(f"{layout.FUNCTIONS}/").all()
    assert _index(store).equals(_expected_index(store))
    # one file per samples file, sorted by function id for the row groups' statistics
    for f in store.snapshot().files(f"{layout.FUNCTIONS}/"):
        ids = pl.read_parquet(store.root / f, hive_partitioning=False)["function_id"]
        assert ids.is_sorted()


def test_index_counts_recursion_once_and_names_unsymbolized_frames() -> None:
    samples = pl.DataFrame(
        {"profile_id": [1, 1, 2, 2], "stack_id": [10, 11, 10, 10], "value": [5, 7, 1, 2]}
    )
    # stack 10: leaf 0x4005d0 (no function), then f, f again (recursion), main
    stacks = pl.DataFrame({"stack_id": [10, 11], "frame_ids": [[100, 101, 101, 102], [101, 102]]})
    frames = pl.DataFrame(
        {
            "frame_id": [100, 101, 102],
            "function": [None, "f", "main"],
            "address": pl.Series([0x4005D0, 0, 0], dtype=pl.UInt64),
        }
    )
    got = functions.per_profile(samples, stacks, functions.frame_names(frames))
    table = {(r["profile_id"], r["function"]): (r["flat"], r["cum"]) for r in got.to_dicts()}
    assert table == {
        (1, "0x4005d0"): (5, 5),
        (1, "f"): (7, 12),
        (1, "main"): (0, 12),
        (2, "0x4005d0"): (3, 3),
        (2, "f"): (0, 3),
        (2, "main"): (0, 3),
    }
    assert got["function_id"].equals(functions.function_ids(got["function"]))


def test_index_names_a_stack_or_frame_it_was_not_given() -> None:
    """A frame missing from the names (or named by nothing) and a stack missing from the
    stacks are refused with their ids; names of frames no stack uses change nothing."""
    samples = pl.DataFrame({"profile_id": [1, 1], "stack_id": [10, 11], "value": [5, 7]})
    stacks = pl.DataFrame({"stack_id": [10, 11], "frame_ids": [[100, 101], [101]]})
    names = pl.DataFrame({"frame_id": [100, 101, 102], "function": ["g", "main", "unused"]})
    full = functions.per_profile(samples, stacks, names)
    assert full.select("function", "flat", "cum").to_dicts() == [
        {"function": f, "flat": flat, "cum": cum}
        for f, flat, cum in sorted(
            [("g", 5, 5), ("main", 7, 12)], key=lambda r: functions.function_ids([r[0]])[0]
        )
    ]
    assert full.equals(functions.per_profile(samples, stacks, names.head(2)))
    with pytest.raises(ValueError, match="frame 100 of the stacks is not in the frames given"):
        functions.per_profile(samples, stacks, names.tail(2))
    unnamed = names.with_columns(pl.when(pl.col("frame_id") == 101).then(pl.col("function")))
    with pytest.raises(ValueError, match="frame 100 of the stacks is not in the frames given"):
        functions.per_profile(samples, stacks, unnamed)
    with pytest.raises(ValueError, match="stack 11 of the samples is not in the stacks given"):
        functions.per_profile(samples, stacks.head(1), names)


def _bare_copy(prof: profilelab.Profile, salt: int) -> profilelab.Profile:
    """The same samples under new profile ids, without stacks and frames (rows sent once
    before, as ingest workers send them)."""
    pid = pl.col("profile_id") + salt
    return prof.replace(
        profiles=prof.profiles.with_columns(pid),
        samples=prof.samples.with_columns(pid),
        stacks=prof.stacks.clear(),
        frames=prof.frames.clear(),
    )


def test_a_commit_finds_stacks_sent_once_before_or_stored_by_another_writer(tmp_path) -> None:
    made = _made(tmp_path, 2)
    loaded = [profilelab.load(m.path) for m in made]
    store = profilelab.open_store(tmp_path / "store")
    store.write([Item(loaded[0], made[0].input_id)])
    # rows sent once: this writer remembers them
    store.write([Item(_bare_copy(loaded[0], 1), 1), Item(loaded[1], made[1].input_id)])
    # another writer (a new process) finds them in the store's files
    other = profilelab.open_store(tmp_path / "store")
    other.write([Item(_bare_copy(loaded[1], 2), 2)])
    assert store.profiles().height == 8
    assert store.profiles()["functions_file"].null_count() == 0
    assert _index(store).equals(_expected_index(store))


def test_an_older_store_reads_and_compact_gives_it_the_index(tmp_path) -> None:
    made = _made(tmp_path)
    function = None
    store = profilelab.open_store(tmp_path / "store")
    for k in range(0, 8, 2):
        store.ingest([m.path for m in made[k : k + 2]])
    function = str(store.top("cpu")["function"][1])
    expected = _answers(store, function)
    make_old(store.root)

    old = profilelab.open_store(tmp_path / "store")
    assert old.profiles()["functions_file"].null_count() == old.profiles().height
    _same(_answers(old, function), expected)
    # an older store taking new commits: answered from both
    old.ingest([m.path for m in made[8:]])
    rows = old.profiles()
    assert 0 < rows["functions_file"].null_count() < rows.height
    mixed = _answers(old, function)
    assert mixed[0].equals(function_totals(old.query("cpu")))
    old.compact()
    assert old.profiles()["functions_file"].null_count() == 0
    assert _index(old).equals(_expected_index(old))
    _same(_answers(old, function), mixed)


def test_retention_rewrites_the_index_of_files_it_rewrites(tmp_path) -> None:
    made = _made(tmp_path)
    store = profilelab.open_store(tmp_path / "store")
    store.ingest([m.path for m in made])  # one commit: one samples file per service
    cutoff = T0 + 22 * MINUTE  # inside both services' files
    function = str(store.top("cpu")["function"][0])
    store.retain(before=cutoff)
    rows = store.profiles()
    assert rows["time_ns"].min() >= cutoff
    assert rows["functions_file"].null_count() == 0
    index = _index(store)
    assert set(index["profile_id"].to_list()) <= set(rows["profile_id"].to_list())
    assert index.equals(_expected_index(store))
    assert store.top("cpu").equals(function_totals(store.query("cpu")))
    trend = store.series("cpu", "1h", function=function)
    assert (
        trend["value"].sum()
        == function_totals(store.query("cpu")).filter(pl.col("function") == function)["cum"].item()
    )


@pytest.mark.parametrize("full", [False, True])
def test_compaction_keeps_the_index(tmp_path, full) -> None:
    made = _made(tmp_path)
    store = profilelab.open_store(tmp_path / "store")
    for k in range(0, 12, 3):
        store.ingest([m.path for m in made[k : k + 3]])
    function = str(store.top("cpu")["function"][2])
    expected = _answers(store, function)
    store.compact(full=full)
    assert len(store.snapshot().segments) == 1
    assert store.profiles()["functions_file"].null_count() == 0
    assert _index(store).equals(_expected_index(store))
    _same(_answers(store, function), expected)
    # no functions file is left that no live segment names
    on_disk = {
        p.relative_to(store.root).as_posix() for p in (store.root / layout.FUNCTIONS).rglob("*")
    }
    live = set(store.snapshot().files(f"{layout.FUNCTIONS}/"))
    assert {p for p in on_disk if p.endswith(".parquet")} == live


def test_a_fresh_process_asks_the_trend_and_top_without_importing_pandas(tmp_path) -> None:
    made = _made(tmp_path, 4)
    store = profilelab.open_store(tmp_path / "store")
    store.ingest([m.path for m in made])
    function = str(store.top("cpu")["function"][0])
    code = (
        "import sys, profilelab; "
        f"s = profilelab.open_store({str(store.root)!r}, create=False); "
        f"assert s.series('cpu', '1m', function={function!r})['value'].sum() > 0; "
        "assert s.top('cpu').height > 0; "
        "print('pandas' in sys.modules)"
    )
    assert fresh_process(code) == "False"


_ROWS = st.lists(
    st.tuples(st.integers(0, 5), st.integers(-40, 40), st.integers(-(2**63), 2**63 - 1)),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(rows=_ROWS, sorted_profiles=st.booleans())
def test_index_order_by_function_rank_equals_a_two_column_sort(rows, sorted_profiles) -> None:
    """The function index's order (a stable sort by function rank when rows come sorted by
    profile, else a lexsort) is the order of Polars' sort by (function_id, profile_id)."""
    fids = np.array([-(2**63), 7, -1, 2**62, 0, 3], dtype=np.int64)
    df = pl.DataFrame(
        {"f": [r[0] for r in rows], "profile_id": [r[1] for r in rows]},
        schema={"f": pl.Int64, "profile_id": pl.Int64},
    ).unique(maintain_order=True)
    if sorted_profiles:
        df = df.sort("profile_id", maintain_order=True)
    df = df.with_columns(function_id=pl.Series(fids)[df["f"]])
    order = functions._by_function(fids, df["f"].to_numpy(), df["profile_id"].to_numpy())
    assert df[order].equals(df.sort("function_id", "profile_id"))


@settings(max_examples=200, deadline=None)
@given(rows=_ROWS, keyed=st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 2)), max_size=8))
def test_index_rows_split_by_partition_as_a_join_and_a_sort_would(rows, keyed) -> None:
    """Each partition's index rows: those of its profiles (rows of unknown profiles dropped),
    sorted by function id then profile id, whatever order they came in."""
    index = pl.DataFrame(
        {
            "function_id": [r[2] for r in rows],
            "function": [f"f{r[0]}" for r in rows],
            "profile_id": [r[1] for r in rows],
            "flat": [r[0] for r in rows],
            "cum": [r[0] for r in rows],
        },
        schema=functions.COLUMNS,
    ).unique(["function_id", "profile_id"], maintain_order=True)
    parts = pl.DataFrame(
        {"profile_id": [k[0] for k in keyed], "part": [k[1] for k in keyed]},
        schema={"profile_id": pl.Int64, "part": pl.UInt32},
    ).unique("profile_id", maintain_order=True)
    table, starts = writer._functions_by_part(index, parts, 3)
    joined = index.join(parts, on="profile_id")
    expected = {
        int(k[0]): df.drop("part").sort("function_id", "profile_id")  # type: ignore[call-overload]
        for k, df in joined.partition_by("part", as_dict=True).items()
    }
    for part in range(3):
        got = pl.from_arrow(writer._slice(table, starts, part))
        assert isinstance(got, pl.DataFrame)
        assert got.equals(expected.get(part, index.clear()))
    assert starts[-1] == table.num_rows == joined.height
