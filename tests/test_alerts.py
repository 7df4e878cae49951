"""Alert rules on the real order-service dataset, on a Profile and on a store."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import profilelab
from profilelab import datasets
from profilelab.analysis import alerts
from profilelab.cli import main
from profilelab.errors import QueryError

RULES = r"""
rules:
  - name: db-hot
    expr: share(cpu{service="order-service"}, function=~"DB\\)\\.Query") > 0.15 for 10s
    step: 5s
  - name: db-never-that-hot
    expr: share(cpu{service="order-service"}, function=~"DB\\)\\.Query") > 0.9
    step: 5s
  - name: v236-regression
    regression:
      selector: cpu{service="order-service"}
      base: {version: v2.3.5}
      new: {version: v2.3.6}
      match: "^main\\."
      max_delta_share: 0.05
"""


@pytest.fixture(scope="module")
def orders() -> profilelab.Profile:
    return datasets.load("order-service")


def _v236_start(p: profilelab.Profile) -> int:
    table = profilelab.analysis.profile_table(p)
    return int(table.filter(pl.col("version") == "v2.3.6")["time_ns"].min())  # type: ignore[arg-type]


def test_share_rule_fires_only_after_the_release(orders: profilelab.Profile) -> None:
    hot, never, regression = alerts.evaluate(alerts.load_rules(RULES), orders)
    assert hot.fired and not never.fired
    start = _v236_start(orders)
    # every firing window lies in the v2.3.6 period (its first bucket may start up to a step early)
    assert (hot.firing["start_ns"] >= start - 5 * 10**9).all()
    assert hot.firing["steps"].min() >= 2  # "for 10s" at 5s steps
    before = hot.values.filter(pl.col("bucket") < start - 5 * 10**9)
    assert before.height > 0 and not before["condition"].any()
    assert regression.fired
    assert "main.(*DB).Query" in regression.firing["key"].to_list()


def test_evidence_and_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    code = main(
        ["check", "--rules", str(rules), "--dataset", "order-service", "--evidence", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 3
    assert "FIRING  db-hot" in out and "ok      db-never-that-hot" in out
    pages = sorted(tmp_path.glob("*.html"))
    assert any(p.name.startswith("v236-regression") for p in pages)
    assert any(p.name.startswith("db-hot") for p in pages)
    assert all('id="plf-data"' in p.read_text() for p in pages)  # each embeds its flame graph
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text(
        'rules:\n  - name: q\n    expr: share(cpu, function=~"nothing-matches-this") > 0.01\n'
    )
    # a rule whose pattern matches nothing looked at nothing: it must not pass a CI gate
    assert main(["check", "--rules", str(quiet), "--dataset", "order-service"]) == 4
    out = capsys.readouterr().out
    assert "NO DATA q: no sample has a function matching 'nothing-matches-this'" in out
    assert "(selector cpu)" in out and "1 with no data" in out
    assert main(["check", "--rules", str(quiet)]) == 1  # no source: one clear error
    assert "exactly one of" in capsys.readouterr().err


def test_rules_evaluate_the_same_on_a_store(tmp_path: Path, orders: profilelab.Profile) -> None:
    store = profilelab.open_store(tmp_path / "store")
    index = datasets.index("order-service")
    root = datasets.path("order-service")
    for row in index.iter_rows(named=True):
        labels = {k: row[k] for k in ("service", "version", "instance", "region")}
        store.add(profilelab.load(root / row["file"]), labels=labels)
    on_store = alerts.evaluate(RULES, store)
    on_profile = alerts.evaluate(RULES, orders)
    for a, b in zip(on_store, on_profile, strict=True):
        assert a.fired == b.fired
        if a.rule.kind != "regression":
            cols = ["start_ns", "end_ns", "steps"]
            assert a.firing.select(cols).equals(b.firing.select(cols))


def test_assert_no_regression(orders: profilelab.Profile) -> None:
    with pytest.raises(AssertionError, match=r"DB\)\.Query"):
        alerts.assert_no_regression(
            orders, {"version": "v2.3.5"}, {"version": "v2.3.6"}, max_delta_share=0.05
        )
    # two regions of the same version: nothing regressed
    same = alerts.assert_no_regression(
        orders.replace(),
        {"version": "v2.3.5", "region": "us-east-1"},
        {"version": "v2.3.5", "region": "eu-west-1"},
        max_delta_share=0.05,
    )
    assert same.height > 0


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("max(cpu) > 1", "expected share"),
        ("share(cpu > 1", "unbalanced"),
        ('share(cpu, function="x") > 1', "function=~"),
        ("share(cpu) is big", "comparison"),
        ('share(, function=~"x") > 1', "expected"),
    ],
)
def test_bad_expressions_name_the_problem(expr: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        alerts.parse_expr(expr)


def test_parse_expr_with_braces_and_commas_in_the_selector() -> None:
    got = alerts.parse_expr(
        'share(cpu{service="a,b", version=~"v2.(3|4)"}, function=~"json\\.(Marshal|Unmarshal)")'
        " >= 0.3 for 10m"
    )
    assert got["selector"] == 'cpu{service="a,b", version=~"v2.(3|4)"}'
    assert got["pattern"] == "json\\.(Marshal|Unmarshal)"
    assert got["op"] == ">=" and got["threshold"] == 0.3 and got["for_ns"] == 600 * 10**9


def _leaf_share(p: profilelab.Profile, function: str, start_ns: int, end_ns: int) -> float:
    """Flat share of ``function`` over the cpu profiles that start in [start, end), computed
    from the raw tables (the leaf is the first frame of a stack)."""
    cpu = p.profiles.filter(
        (pl.col("sample_type") == "cpu")
        & (pl.col("time_ns") >= start_ns)
        & (pl.col("time_ns") < end_ns)
    )["profile_id"]
    samples = p.samples.filter(pl.col("profile_id").is_in(cpu.implode()))
    leaf = p.stacks.select("stack_id", pl.col("frame_ids").list.first().alias("frame_id"))
    named = samples.join(leaf, on="stack_id").join(
        p.frames.select("frame_id", "function"), on="frame_id"
    )
    total = samples["value"].sum()
    return float(named.filter(pl.col("function") == function)["value"].sum() / total)


def test_any_function_above_a_share_by_function(orders: profilelab.Profile) -> None:
    self_rule, cum_rule = alerts.load_rules(
        """
rules:
  - name: any-hot-function
    expr: self_share(cpu{service="order-service"}) by (function) > 0.12 for 10s
    step: 5s
  - name: any-function-on-every-stack
    expr: share(cpu{service="order-service"}) by (function) > 0.99
    step: 5s
"""
    )
    hot, everywhere = alerts.evaluate([self_rule, cum_rule], orders)
    assert hot.no_data is None and hot.fired
    assert "key" in hot.firing.columns
    # the flat share of the firing function, recomputed from the samples, is over the bar
    row = hot.firing.sort("worst", descending=True).row(0, named=True)
    series = hot.values.filter(
        (pl.col("key") == row["key"])
        & (pl.col("bucket") >= row["start_ns"])
        & (pl.col("bucket") < row["end_ns"])
    )
    for bucket, share in series.select("bucket", "share").iter_rows():
        assert share == pytest.approx(_leaf_share(orders, row["key"], bucket, bucket + 5 * 10**9))
        assert share > 0.12
    assert row["worst"] == pytest.approx(series["share"].max())
    # cum: a function on (nearly) every stack is above 99% in some step; flat never is
    assert everywhere.fired
    assert not alerts.evaluate(
        [alerts.Rule(**{**self_rule.__dict__, "threshold": 0.99, "for_ns": 0})], orders
    )[0].fired
    assert row["key"] in hot.summary()


def test_self_share_without_by_is_the_leaf_share(orders: profilelab.Profile) -> None:
    (rule,) = alerts.load_rules(
        'rules:\n  - name: s\n    expr: self_share(cpu, function=~"Query") > 2\n    step: 5s\n'
    )
    (res,) = alerts.evaluate([rule], orders)
    assert not res.fired and res.no_data is None
    by_hand = alerts.evaluate(
        alerts.load_rules(
            "rules:\n  - name: s\n    expr: self_share(cpu) by (function) > 2\n    step: 5s\n"
        ),
        orders,
    )[0].values.filter(pl.col("key").str.contains("Query"))
    expected = by_hand.group_by("bucket").agg(pl.col("share").sum()).sort("bucket")
    got = res.values.select("bucket", "share").sort("bucket")
    assert got.join(expected, on="bucket", suffix="_k").select(
        (pl.col("share") - pl.col("share_k")).abs().max()
    ).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ('expr: share(cpu{service="no-such-service"}) > 0.1', "selector matched no profiles"),
        (
            "expr: value(cpu) > 1\n    window: -1h",
            "selector matched no profiles in the window from -1h",
        ),
        (
            "regression:\n      selector: cpu\n      base: {version: v0}\n"
            "      new: {version: v2.3.6}",
            "base selection holds 0 profiles",
        ),
    ],
)
def test_rules_that_see_nothing_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str, reason: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"rules:\n  - name: r\n    {rule}\n")
    assert main(["check", "--rules", str(rules), "--dataset", "order-service"]) == 4
    out = capsys.readouterr().out
    assert "NO DATA r:" in out and reason in out


def test_by_key_and_matcher_key_must_agree() -> None:
    with pytest.raises(QueryError, match=r"matcher's key \(file\) must be the 'by' key"):
        alerts.parse_expr('share(cpu, file=~"x") by (function) > 0.1')
    got = alerts.parse_expr('self_value(cpu, package=~"main") by (package) >= 3 for 1m')
    assert got["kind"] == "value" and got["measure"] == "flat" and got["by"] == "package"
