"""The store: ingest, selectors, time ranges, queries as Profile/SQL, compaction, retention."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from store_util import MINUTE, T0, make_profiles

import profilelab
from profilelab.cli import main
from profilelab.errors import QueryError, StoreError
from profilelab.store import layout
from profilelab.store.query import function_totals


@pytest.fixture
def made(tmp_path: Path):
    return make_profiles(tmp_path / "in", 12, samples=30)


@pytest.fixture
def store(tmp_path: Path, made):
    st = profilelab.open_store(tmp_path / "store")
    report = st.ingest([tmp_path / "in"], labels={"region": "eu"}, batch_size=5)
    assert report.ok and report.stored == 12
    return st


def _per_profile(samples: pl.DataFrame) -> dict[int, tuple[int, int]]:
    agg = samples.group_by("profile_id").agg(pl.len(), pl.col("value").sum())
    return {pid: (n, int(v)) for pid, n, v in agg.iter_rows()}


def test_query_returns_the_tables_load_returns(store, made) -> None:
    got = store.query("cpu:cpu:nanoseconds")
    got.check()
    ref = profilelab.load([m.path for m in made])
    ref_cpu = ref.samples.join(
        ref.profiles.filter(pl.col("sample_type") == "cpu").select("profile_id"), on="profile_id"
    )
    assert _per_profile(got.samples) == _per_profile(ref_cpu)
    # every sample row is the same, in the same order within its profile
    pid = got.profiles["profile_id"][3]
    assert got.samples.filter(pl.col("profile_id") == pid).equals(
        ref.samples.filter(pl.col("profile_id") == pid)
    )
    assert set(got.stacks["stack_id"]) == set(ref_cpu["stack_id"])
    assert function_totals(got).equals(function_totals(ref.replace(samples=ref_cpu)))
    # profile rows keep their data, gain the given labels
    row = got.profiles.filter(pl.col("profile_id") == pid).row(0, named=True)
    assert {"key": "region", "value": "eu"} in row["labels"]
    assert row["source"].endswith(".pb.gz")


def test_catalog_columns_and_partitions(store, made) -> None:
    rows = store.profiles()
    assert rows.height == 24  # two sample types per input
    assert set(rows["profile_type"]) == {"cpu:cpu:nanoseconds", "cpu:samples:count"}
    assert set(rows["service"]) == {"unknown"}  # no service label given
    assert set(rows["date"]) == {"2023-11-14"}
    by_input = {m.input_id: m for m in made}
    for r in rows.iter_rows(named=True):
        m = by_input[r["input_id"]]
        assert r["n_samples"] == m.samples
        assert r["total"] == (m.cpu_total if r["sample_type"] == "cpu" else m.count_total)
        assert r["time_ns"] == m.time_ns
        assert (store.root / r["samples_file"]).is_file()
        assert (
            r["samples_file"].startswith("samples/profile_type=cpu%3A")
            and "/service=unknown/date=2023-11-14/" in (r["samples_file"])
        )


def test_reingest_is_idempotent(store, tmp_path: Path) -> None:
    before = store.profiles()
    again = store.ingest([tmp_path / "in"])
    assert again.stored == 0 and again.skipped == 12
    assert store.profiles().equals(before)


def test_bad_inputs_are_reported_and_skipped(tmp_path: Path, made, capsys) -> None:
    bad = tmp_path / "in" / "garbage.pb.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00truncated")
    (tmp_path / "in" / "empty.pprof").write_bytes(b"")
    code = main(["ingest", "--store", str(tmp_path / "s"), "--quiet", str(tmp_path / "in")])
    err = capsys.readouterr().err
    assert code == 1
    assert "garbage.pb.gz: truncated gzip stream" in err or "garbage.pb.gz: damaged gzip" in err
    assert "empty.pprof: empty input" in err
    st = profilelab.open_store(tmp_path / "s")
    assert st.profiles().height == 24  # the good files all went in


def test_ingesting_a_directory_that_holds_the_store_skips_the_store(tmp_path: Path) -> None:
    make_profiles(tmp_path / "in", 3)
    st = profilelab.open_store(tmp_path / "in" / "store")
    st.ingest([tmp_path / "in"])
    report = st.ingest([tmp_path / "in"])
    assert report.ok and report.inputs == 3 and report.skipped == 3


def test_missing_store_and_non_store_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no profilelab store"):
        profilelab.open_store(tmp_path / "nope", create=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(StoreError, match="not a profilelab store"):
        profilelab.open_store(tmp_path / "full")


def test_labels_from_profile_comments_and_service_name(tmp_path: Path) -> None:
    made = make_profiles(
        tmp_path / "in", 2, comments=("service.name=checkout", "version=v2.3.1", "not a label")
    )
    st = profilelab.open_store(tmp_path / "s")
    st.ingest([m.path for m in made], labels={"version": "override"})
    rows = st.profiles('cpu{service="checkout"}')
    assert rows.height == 2
    labels = dict((kv["key"], kv["value"]) for kv in rows["labels"][0])
    assert labels == {"service.name": "checkout", "version": "override", "service": "checkout"}
    assert set(rows["service"]) == {"checkout"}


def test_selectors_match_like_prometheus(tmp_path: Path) -> None:
    st = profilelab.open_store(tmp_path / "s")
    made = make_profiles(tmp_path / "in", 6)
    for i, m in enumerate(made):
        labels = {"service": "order", "version": f"v2.{i % 3}"}
        if i % 2:
            labels["region"] = "eu-west"
        st.ingest([m.path], labels=labels)

    def n(sel: str) -> int:
        return st.profiles(sel).height

    assert n("cpu") == 6  # the default sample type only
    assert n("cpu:samples") == 6 and n("cpu:samples:count") == 6 and n("cpu:cpu:bytes") == 0
    assert n('{service="order"}') == 12
    assert n('cpu{version=~"v2\\\\.[01]"}') == 4
    assert n('cpu{version!~"v2.[01]"}') == 2
    assert n('cpu{version=~"v2"}') == 0  # anchored: the whole value must match
    assert n('cpu{region="eu-west"}') == 3
    assert n('cpu{region=""}') == 3  # a missing label is the empty string
    assert n('cpu{region!="eu-west"}') == 3
    assert n('cpu{region=~".*"}') == 6
    assert n('cpu{service="order", region="eu-west", version="v2.1"}') == 1
    assert n('cpu{__name__="cpu", __type__="samples"}') == 0  # type cpu = cpu/nanoseconds
    assert n('{__profile_type__="cpu:samples:count"}') == 6


def test_time_ranges(store, made) -> None:
    def n(start, end=None) -> int:
        return store.profiles("cpu", start, end).height

    assert n(None) == 12
    assert n(T0 + 3 * MINUTE) == 9  # start is inclusive
    assert n(T0, T0 + 3 * MINUTE) == 3  # end is exclusive
    assert n("2023-11-14T22:15:20Z", "2023-11-14T22:18:20Z") == 3
    assert n(1_700_000_000 + 600) == 2  # Unix seconds
    assert n("2023-11-15") == 0
    assert n("-1h") == 0  # the profiles are from 2023
    with pytest.raises(QueryError, match="bad time"):
        n("yesterday")
    with pytest.raises(QueryError, match="empty time range"):
        n(T0 + MINUTE, T0)


def test_sum_by_merges_profiles_and_conserves_totals(tmp_path: Path) -> None:
    st = profilelab.open_store(tmp_path / "s")
    made = make_profiles(tmp_path / "in", 8)
    for i, m in enumerate(made):
        st.ingest([m.path], labels={"service": "order", "version": "v1" if i < 5 else "v2"})
    plain = st.query('cpu{service="order"}')
    summed = st.query('sum by (version) (cpu{service="order"})')
    summed.check()
    assert summed.profiles.height == 2
    totals = dict(
        summed.sql(
            "select l.value, sum(s.value) from samples s join profiles p using (profile_id), "
            "unnest(p.labels) as t(l) where l.key = 'version' group by all"
        ).iter_rows()
    )
    assert totals == {
        "v1": sum(m.cpu_total for m in made[:5]),
        "v2": sum(m.cpu_total for m in made[5:]),
    }
    assert summed.samples["value"].sum() == plain.samples["value"].sum()
    # same stack and labels are merged into one sample, as pprof merges
    keys = summed.samples.select("profile_id", "stack_id", "label_set_id")
    assert keys.n_unique() == keys.height
    assert function_totals(summed).equals(function_totals(plain))
    # the other spelling, and sum without grouping
    assert st.query('sum(cpu{service="order"}) by (version)').profiles.height == 2
    one = st.query("sum(cpu)")
    assert one.profiles.height == 1 and one.profiles["labels"][0].len() == 0


def test_selector_errors_name_the_position() -> None:
    from profilelab.core.selector import parse

    with pytest.raises(QueryError, match=r"position 19 .*expected ',' or '}'"):
        parse('cpu{service="order"')
    with pytest.raises(QueryError, match=r"position 11 .*expected one of =, !=, =~, !~"):
        parse("cpu{service~'x'}")
    with pytest.raises(QueryError, match=r"position 16 .*invalid regular expression"):
        parse('cpu{version=~"v2(" }')
    with pytest.raises(QueryError, match=r"position 6 .*unterminated string"):
        parse('cpu{a="x}')
    with pytest.raises(QueryError, match="empty"):
        parse("{}")
    with pytest.raises(QueryError, match=r"position 4 .*unexpected text"):
        parse("cpu heap")
    sel = parse("sum by (service, version) (heap:inuse_space{a='1', b=`x\\y`, })")
    assert sel.aggregate and sel.by == ("service", "version")
    assert sel.profile_type == "heap:inuse_space"
    assert [(m.label, m.op, m.value) for m in sel.matchers] == [("a", "=", "1"), ("b", "=", "x\\y")]


def test_duckdb_reads_the_store_in_place(store, made) -> None:
    root = store.root
    con = duckdb.connect()
    got = con.sql(
        f"""
        select s.service, s.profile_type, count(*) as n, sum(s.value)::bigint as total
        from read_parquet('{root}/samples/**/*.parquet', hive_partitioning=true) s
        join read_parquet('{root}/catalog/*.parquet') p using (profile_id)
        group by all order by all
        """
    ).fetchall()
    n = sum(m.samples for m in made)
    assert got == [
        ("unknown", "cpu:cpu:nanoseconds", n, sum(m.cpu_total for m in made)),
        ("unknown", "cpu:samples:count", n, sum(m.count_total for m in made)),
    ]
    # Store.sql: the same canonical tables as Profile.sql
    flat = store.sql(
        "select f.function, sum(s.value) as v from samples s join stacks using (stack_id) "
        "join frames f on f.frame_id = frame_ids[1] join profiles p using (profile_id) "
        "where p.profile_type = 'cpu:cpu:nanoseconds' group by 1 order by 2 desc, 1 limit 3"
    )
    ref = function_totals(store.query("cpu")).head(3)
    assert flat["v"].to_list() == ref["flat"].to_list()


def test_series_per_function(store, made) -> None:
    prof = store.query("cpu")
    top = function_totals(prof)
    fn = top["function"][0]
    series = store.series("cpu", "2m", function=fn)
    assert series["value"].sum() == top.filter(pl.col("function") == fn)["cum"][0]
    steps = sorted({m.time_ns // (2 * MINUTE) * 2 * MINUTE for m in made})
    assert series["time_ns"].to_list() == steps  # every step, 0 where the function is absent
    # the same numbers as the trend analysis computes from the loaded tables
    from profilelab.analysis import trend

    expected = trend(prof, key="function", step="2m", top=None).filter(pl.col("key") == fn)
    assert series["value"].to_list() == expected["value"].to_list()
    everything = store.series("cpu", "1h")
    assert everything["value"].sum() == sum(m.cpu_total for m in made)


def test_compaction_keeps_every_answer(store, made) -> None:
    before = store.query("cpu")
    segments = len(store.snapshot().segments)
    assert segments == 3  # 12 inputs in batches of 5
    report = store.compact()
    assert report.segments_after == 1 and report.files_after < report.files_before
    after = store.query("cpu")
    after.check()
    assert _per_profile(after.samples) == _per_profile(before.samples)
    assert after.samples.sort("profile_id", "sample_index").equals(
        before.samples.sort("profile_id", "sample_index")
    )
    on_disk = {
        str(p.relative_to(store.root))
        for p in store.root.rglob("*")
        if p.is_file() and p.name not in (layout.MARKER, layout.LOCK)
    }
    assert on_disk == store.snapshot().live_files()  # replaced files are gone


def test_retention_drops_old_profiles_only(store, made) -> None:
    cutoff = made[7].time_ns
    report = store.retain(before=cutoff)
    assert report.profiles_dropped == 14 and report.profiles_kept == 10
    rows = store.profiles()
    assert rows["time_ns"].min() == cutoff
    kept = store.query("cpu")
    kept.check()
    assert kept.samples["value"].sum() == sum(m.cpu_total for m in made[7:])
    # retention left stacks only old profiles used; a full compaction drops them
    stacks_before = store.sql("select count(*) from stacks").item()
    store.compact(full=True)
    assert store.sql("select count(*) from stacks").item() <= stacks_before
    again = store.query("cpu")
    again.check()
    assert again.samples["value"].sum() == kept.samples["value"].sum()
    assert store.sql("select count(*) from stacks").item() == again.stacks.height


def test_dictionary_rows_are_stored_once(store, tmp_path: Path) -> None:
    # twelve profiles of two programs: stacks repeat across profiles and commits
    n_rows = store.sql("select count(*) from stacks").item()
    n_ids = store.sql("select count(distinct stack_id) from stacks").item()
    assert n_rows == n_ids
    frames = store.sql("select count(*) = count(distinct frame_id) from frames").item()
    assert frames


def test_crash_leftovers_are_invisible_and_collected(store, tmp_path: Path) -> None:
    before = store.profiles()
    # what a writer killed between its data renames and its catalog rename leaves behind
    orphan = store.root / "samples/profile_type=cpu%3Acpu%3Ananoseconds/service=x/date=2023-01-01"
    orphan.mkdir(parents=True)
    (orphan / "123-dead.parquet").write_bytes(b"PAR1 partial")
    (store.root / "stacks" / ".123-dead.parquet.ab12cd34.tmp").write_bytes(b"partial")
    (store.root / "catalog" / ".999-dead.parquet.ab12cd34.tmp").write_bytes(b"partial")
    fresh = profilelab.open_store(store.root)
    assert fresh.profiles().equals(before)
    fresh.query("cpu").check()
    made = make_profiles(tmp_path / "more", 1, t0=T0 + 10**12)
    fresh.ingest([made[0].path])  # a writer's first commit collects the garbage
    assert not orphan.exists()
    leftovers = [p for p in store.root.rglob("*.tmp")]
    assert leftovers == []


def test_cli_query_store_and_ingest(store, tmp_path: Path, capsys) -> None:
    root = str(store.root)
    assert main(["query", 'cpu{region="eu"}', "--store", root, "top", "--nodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "flat%" in out and out.count("\n") >= 5
    assert main(["query", "cpu", "--store", root, "--from", "2023-11-14", "profiles"]) == 0
    assert capsys.readouterr().out.count("cpu:cpu:nanoseconds") == 12
    assert main(["query", "cpu{", "--store", root]) == 1
    assert "position 4" in capsys.readouterr().err
    assert main(["store", "info", "--store", root]) == 0
    assert "profiles: 24" in capsys.readouterr().out
    assert main(["store", "retain", "--store", root, "--max-age", "3650d"]) == 0
    assert "dropped 0 profiles" in capsys.readouterr().out
    assert main(["store", "compact", "--store", root]) == 0
    assert "segments 3 -> 1" in capsys.readouterr().out
    assert main(["ingest", "--store", root, "--label", "novalue", str(tmp_path)]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err


def test_parallel_ingest_matches_serial(tmp_path: Path) -> None:
    made = make_profiles(tmp_path / "in", 24)
    for m in made[:12]:  # identical copies: each stored once, whichever worker decodes it
        (tmp_path / "in" / f"copy-{m.path.name}").write_bytes(m.path.read_bytes())
    a = profilelab.open_store(tmp_path / "a")
    b = profilelab.open_store(tmp_path / "b")
    ra = a.ingest([tmp_path / "in"], jobs=2, batch_size=10)  # worker processes decode
    rb = b.ingest([str(tmp_path / "in" / "*.pb.gz")], jobs=1)
    assert ra.stored == rb.stored == 24 and ra.skipped == rb.skipped == 12
    cols = ["profile_id", "n_samples", "total", "time_ns", "profile_type"]
    assert (
        a.profiles()
        .select(cols)
        .sort("profile_id")
        .equals(b.profiles().select(cols).sort("profile_id"))
    )
    pa, pb = a.query("cpu"), b.query("cpu")
    pa.check()
    assert function_totals(pa).equals(function_totals(pb))
    assert pa.stacks.sort("stack_id").equals(pb.stacks.sort("stack_id"))


def test_a_commit_with_dangling_references_is_refused(tmp_path: Path) -> None:
    from profilelab.store import Item

    made = make_profiles(tmp_path / "in", 1)
    prof = profilelab.load(made[0].path)
    broken = prof.replace(stacks=prof.stacks.head(prof.stacks.height - 1))
    st = profilelab.open_store(tmp_path / "s")
    with pytest.raises(StoreError, match="stacks: 1 ids referenced"):
        st.write([Item(broken, made[0].input_id)])
    assert st.profiles().height == 0 and st.snapshot().segments == {}


def test_readers_stay_consistent_while_a_writer_compacts(store, tmp_path: Path) -> None:
    import threading

    more = make_profiles(tmp_path / "more", 5, t0=T0 + 10**13)
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for m in more:
                store.ingest([m.path])
                store.compact(full=True)  # replaces every segment, deletes the old files
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        reader = profilelab.open_store(store.root, create=False)
        try:
            while not done.is_set():
                prof = reader.query("cpu")
                totals = prof.samples.group_by("profile_id").agg(pl.col("value").sum())
                rows = prof.profiles.select("profile_id").join(totals, on="profile_id")
                assert rows.height == prof.profiles.height  # no profile without its samples
                prof.check()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert store.profiles("cpu").height == 12 + 5


def test_cli_query_writes_the_result_with_a_registered_writer(store, tmp_path: Path) -> None:
    from profilelab import writers

    writers._load_builtin()
    fmt = next((f for f in ("pprof", "otlp") if f in writers.WRITERS), None)
    out = tmp_path / "merged.out"
    args = ["query", "sum(cpu)", "--store", str(store.root), "-o", str(out)]
    if fmt is None:
        assert main(args) == 1  # refused with a message, no file left behind
        assert not out.exists()
        pytest.skip("no pprof or OTLP writer on this branch yet")
    assert main([*args, "--to-format", fmt]) == 0
    back = profilelab.load(out)
    assert back.samples["value"].sum() == store.query("cpu").samples["value"].sum()
