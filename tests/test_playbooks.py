"""Playbook findings: the methods on small built profiles, the stories on the real datasets."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import polars as pl
import pytest

import profilelab
from profilelab import datasets, playbooks
from profilelab.errors import QueryError
from profilelab.playbooks import Finding
from profilelab.playbooks.cpu import package_change
from profilelab.playbooks.spans import _calls, distinguishing_attribute
from profilelab.views import Selection
from tests.flame_support import Sample, make_profile


@pytest.fixture(scope="module")
def have_datasets() -> None:
    try:
        datasets.list()
    except datasets.DatasetError:
        pytest.skip("the datasets are not available")


# ---- methods on built profiles ---------------------------------------------------------------


def test_hot_path_is_the_trunk_before_the_tower_branches() -> None:
    p = make_profile(
        [
            (["srv.serve", "srv.handle", "main.h", "json.Marshal", "json.enc"], 50),
            (["srv.serve", "srv.handle", "main.h", "json.Encode", "json.enc"], 45),
            (["srv.serve", "srv.handle", "main.h", "io.Write"], 3),
            (["gc.worker"], 2),
        ]
    )
    steps = playbooks.hot_path(Selection(p))
    assert [s.name for s in steps] == ["srv.serve", "srv.handle", "main.h"]
    assert [round(s.share, 2) for s in steps] == [0.98, 0.98, 0.98]


def test_cpu_hotspot_skips_the_trunk_and_the_runtime() -> None:
    p = make_profile(
        [
            Sample(["net/http.serve", "main.h", "encoding/json.Marshal"], [1, 60], {"ep": "/a"}),
            Sample(
                ["net/http.serve", "main.h", "encoding/json.Marshal", "runtime.mallocgc"],
                [1, 20],
                {"ep": "/a"},
            ),
            Sample(["net/http.serve", "main.h", "bytes.Write"], [1, 15], {"ep": "/a"}),
            Sample(["runtime.gcBgMarkWorker"], [1, 40], {"ep": "none"}),
        ]
    )
    f = playbooks.cpu_hotspot(p, labels={"ep": "/a"})
    assert f.facts["package"] == "encoding/json"
    assert f.facts["package_share"] == pytest.approx(80 / 95)
    assert f.facts["function"] == "encoding/json.Marshal"
    assert f.facts["hot_path"] == ["net/http.serve", "main.h"]
    assert "encoding/json is on 84.2%" in f.headline and "ep=/a" in f.headline
    # all samples: the runtime's GC worker widens the root but is never the hotspot
    assert playbooks.cpu_hotspot(p).facts["package"] == "encoding/json"


def test_cpu_hotspot_with_no_matching_samples_is_a_query_error() -> None:
    p = make_profile([(["main.a"], 5)])
    with pytest.raises(QueryError, match="no cpu samples"):
        playbooks.cpu_hotspot(p, labels={"endpoint": "/none"})


def trend_frame(shares: dict[str, list[float]]) -> pl.DataFrame:
    t0 = datetime(2026, 1, 1)
    rows = [
        {"time": t0 + timedelta(seconds=10 * i), "key": k, "share": s}
        for k, series in shares.items()
        for i, s in enumerate(series)
    ]
    return pl.DataFrame(rows)


def test_share_alerts_fire_on_a_persistent_material_rise_only() -> None:
    frame = trend_frame(
        {
            "db.Query": [0.05, 0.06, 0.05, 0.06, 0.20, 0.22, 0.21],  # fires at step 4
            "blip": [0.05, 0.05, 0.05, 0.30, 0.05, 0.05, 0.05],  # one step: no alert
            "hot": [0.60, 0.62, 0.61, 0.61, 0.70, 0.71, 0.70],  # +9 pp but only +15%: no alert
            "gone": [0.20, 0.20, 0.20, 0.01, 0.01, 0.01, 0.01],  # falls: no alert
        }
    )
    alerts = playbooks.share_alerts(frame, baseline_steps=3, threshold=0.05, persist=2)
    assert alerts["key"].to_list() == ["db.Query"]
    row = alerts.row(0, named=True)
    assert row["fired_at"] == datetime(2026, 1, 1, 0, 0, 40)
    assert row["baseline"] == pytest.approx(0.16 / 3)
    assert row["share"] == pytest.approx(0.20) and row["peak"] == pytest.approx(0.22)
    assert row["fired_ns"] == int(datetime(2026, 1, 1, 0, 0, 40).timestamp() * 1e9)
    relaxed = playbooks.share_alerts(frame, threshold=0.05, min_rel_rise=0.1, persist=1)
    assert set(relaxed["key"]) == {"db.Query", "blip", "hot"}
    with pytest.raises(QueryError, match="at least 5 time steps"):
        playbooks.share_alerts(frame.filter(pl.col("time") < datetime(2026, 1, 1, 0, 0, 40)))


def test_distinguishing_attribute_prefers_an_over_represented_value() -> None:
    def spans(rows: list[dict[str, str]]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "span_row": list(range(len(rows))),
                "attributes": [[{"key": k, "value": v} for k, v in r.items()] for r in rows],
            }
        )

    everyone = spans(
        [{"promo": "STACKED" if i % 20 == 0 else "", "id": str(i)} for i in range(100)]
    )
    slow = spans([{"promo": "STACKED", "id": "0"}, {"promo": "STACKED", "id": "20"}, {"promo": ""}])
    key, value, slow_frac, all_frac = distinguishing_attribute(everyone, slow) or ("", "", 0, 0)
    assert (key, value) == ("promo", "STACKED")
    assert slow_frac == pytest.approx(2 / 3) and all_frac == pytest.approx(0.05)
    assert distinguishing_attribute(everyone, spans([{"promo": ""}])) is None


def test_finding_markdown_escapes_function_names() -> None:
    f = Finding("x", "q?", "main.(*DB).Query <b>grew</b>", {}, ("a_b",))
    md = f._repr_markdown_()
    assert r"main.(\*DB).Query \<b\>grew\</b\>" in md and r"a\_b" in md
    assert str(f) == "main.(*DB).Query <b>grew</b>\na_b"


# ---- the stories on the real datasets ----------------------------------------------------------


def test_checkout_hotspot_is_encoding_json_and_the_fix_removes_it(have_datasets: None) -> None:
    before = datasets.load("checkout-api", variant="before")
    after = datasets.load("checkout-api", variant="after")
    server = {"endpoint": "/checkout"}
    f = playbooks.cpu_hotspot(before, labels=server)
    assert f.facts["package"] == "encoding/json"
    assert f.facts["function"].startswith("encoding/json.")
    assert f.facts["hot_path"][-1] == "main.(*beforeServer).ServeHTTP"
    fix = playbooks.cpu_fix(before, after, "encoding/json", labels=server)
    assert fix.facts["before"] == pytest.approx(f.facts["package_share"])
    assert fix.facts["after"] < fix.facts["before"] / 3
    shares = package_change(before, after, "encoding/json")  # whole process
    assert shares[1] < shares[0]
    assert playbooks.cpu_hotspot(after, labels=server).facts["package"] != "encoding/json"


def test_heap_leak_is_the_session_cache(have_datasets: None) -> None:
    f = playbooks.memory_leak(datasets.load("heap-leak"))
    assert f.facts["leak"] == "main.(*SessionCache).Put"
    assert f.facts["last"] > 3 * f.facts["first"] and f.facts["corr"] > 0.9
    assert f.facts["allocator_grows"] is False
    assert "main.(*RecentPages).Add" not in f.facts["growing"]
    assert f.headline.startswith("main.(*SessionCache).Put holds ")


def test_goroutine_leak_is_the_watcher_and_the_fix_has_none(have_datasets: None) -> None:
    leaking = datasets.load("goroutine-leak", variant="leaking")
    f = playbooks.goroutine_leak(leaking)
    assert f.facts["leak"] == "main.startWatcher.func1"
    assert f.facts["stack"][0] == "main.startWatcher.func1"
    assert f.facts["stack"][-1] == "runtime.gopark"
    fixed = playbooks.goroutine_leak(datasets.load("goroutine-leak", variant="fixed"))
    assert fixed.facts["leak"] is None and fixed.headline.startswith("no leak")
    totals = playbooks.snapshot_totals(leaking)
    assert totals["seconds"][0] == 0 and totals["total"][-1] >= 5 * totals["total"][0]
    snaps = playbooks.snapshots(leaking)
    assert len(snaps) == totals.height
    assert [s.samples["value"].sum() for s in snaps] == totals["total"].to_list()


def test_version_regression_is_the_database_and_same_versus_same_is_not(
    have_datasets: None,
) -> None:
    fleet = datasets.load("order-service")
    f = playbooks.version_regression(fleet, {"version": "v2.3.5"}, {"version": "v2.3.6"})
    assert f.facts["function"] == "main.(*DB).Query"
    assert f.facts["new_share"] > 2 * f.facts["base_share"] and f.facts["q_value"] < 0.01
    assert "main.(*Service).loadProductsOneByOne" in f.facts["appeared"]
    assert f.facts["profiles"] == (24, 24)
    assert "main.(*DB).Query went from" in f.headline
    # shares fell for functions whose cost per order rose: they "lost share", not "got cheaper"
    assert re.fullmatch(
        r"\d+ functions gained share of CPU significantly, \d+ lost share .*", f.details[0]
    )
    # two halves of the same version: instance noise, not a regression
    same = playbooks.version_regression(
        fleet,
        {"version": "v2.3.5", "region": "us-east-1"},
        {"version": "v2.3.5", "region": "eu-west-1"},
    )
    assert same.facts["regressed"] == [], same.headline


def test_fleet_alert_names_the_new_code_and_explains_it_by_labels(have_datasets: None) -> None:
    f = playbooks.fleet_alerts(datasets.load("order-service"))
    assert f.facts["function"] in {"main.(*Service).loadProductsOneByOne", "main.(*DB).Query"}
    assert f.facts["share"] - f.facts["baseline"] > 0.1
    v235, v236 = f.facts["by_version"]["v2.3.5"], f.facts["by_version"]["v2.3.6"]
    assert v236[0] is None and v236[1] > 0.1  # v2.3.6 ran only after the alert
    assert v235[0] is not None and v235[0] < 0.1
    assert all(after > before + 0.05 for before, after in f.facts["by_region"].values())
    assert f.tables["alerts"]["rise"].is_sorted(descending=True)


def test_slow_spans_point_at_the_stacked_promotion(have_datasets: None) -> None:
    name = "traced-order-service"
    joined = profilelab.join_spans(
        datasets.load(name), profilelab.load_traces(datasets.traces(name))
    )
    f = playbooks.slow_spans(joined, "order.handle")
    assert f.facts["function"] == "main.slowPricingRule"
    assert f.facts["slow_share"] > f.facts["overall_share"] + 0.1
    assert f.facts["trait"] == ("order.promo", "STACKED")
    assert f.facts["trait_slow"] > 2 * f.facts["trait_all"]
    assert f.facts["slow_spans"] == round(0.05 * f.facts["spans"])
    with pytest.raises(QueryError, match="no span named"):
        playbooks.slow_spans(joined, "no.such.span")


def test_slow_spans_name_the_detour_not_the_shared_leaf(have_datasets: None) -> None:
    # every tenth order detours through auditStackedPromo, which spends its time in
    # hashLines, the hashing routine every order runs to sign its quote: hashLines holds most
    # of the slow spans' self CPU, but what only the slow requests run is the detour
    name = "traced-detour-service"
    joined = profilelab.join_spans(
        datasets.load(name), profilelab.load_traces(datasets.traces(name))
    )
    f = playbooks.slow_spans(joined, "order.handle")
    assert f.facts["function"] == "main.auditStackedPromo", f
    assert f.facts["only_slow"] and f.facts["extra_per_slow_span"] > 0
    assert f.facts["hottest_leaf"] == "main.hashLines"  # what ranking by self share would name
    assert f.tables["slow_functions"]["key"][0] == "main.hashLines"
    assert f.facts["slow_share"] > f.facts["overall_share"] + 0.2
    assert f.facts["trait"] == ("order.promo", "STACKED")
    ranked = f.tables["distinguishing"]
    leaf = ranked.filter(pl.col("function") == "main.hashLines").row(0, named=True)
    assert leaf["median_total"] > 0 and not leaf["only_slow"]  # typical spans hash too
    assert "main.hashLines" in str(f) and "is not the cause" in str(f)
    slow = joined.slowest("order.handle", f.facts["slow_spans"])  # the caller is rootward
    assert _calls(slow, "main.auditStackedPromo", "main.hashLines")
    assert not _calls(slow, "main.hashLines", "main.auditStackedPromo")


def test_cpu_per_order_is_higher_in_the_new_version_in_both_formats(have_datasets: None) -> None:
    tables = [
        playbooks.cost_per_count(
            datasets.load("order-service", format=fmt), "order-service", "n_orders", by="version"
        )
        for fmt in ("pprof", "otlp")
    ]
    assert tables[0].equals(tables[1])
    cost = dict(tables[0].select("version", "per_count").iter_rows())
    assert cost["v2.3.6"] > 1.2 * cost["v2.3.5"]
    assert tables[0]["count"].sum() == datasets.index("order-service")["n_orders"].sum()


def test_docs_python_examples_run(have_datasets: None, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_docs_examples import blocks

    namespace: dict[str, object] = {"__name__": "__docs__"}
    for lang, body, _line in blocks("docs/notebooks.md"):
        if lang == "python":
            exec(compile(body, "docs/notebooks.md", "exec"), namespace)
    assert "encoding/json is on" in capsys.readouterr().out


def test_java_playbook_finds_the_hotspot_and_tells_the_leak_from_the_allocator(
    have_datasets: None,
) -> None:
    jvm = datasets.load("java-service")
    finding = playbooks.java_hotspot_and_leak(jvm, app="JavaService")
    facts = finding.facts
    assert facts["hotspot"] == "JavaService$PricingEngine.ruleDiscount", finding
    assert facts["hotspot_share"] > 0.5
    assert facts["leak"] == "JavaService$SessionStore.remember"
    assert facts["leak_live_share"] > 0.9 > 0.5 > facts["leak_alloc_share"]
    assert facts["allocator"] == "JavaService$Receipt.render"
    assert facts["allocator_live_share"] == 0
    with pytest.raises(QueryError, match="no frame of 'com/example/'"):
        playbooks.java_hotspot_and_leak(jvm, app="com/example/")
