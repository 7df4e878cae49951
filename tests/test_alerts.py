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
    assert main(["check", "--rules", str(quiet), "--dataset", "order-service"]) == 0
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
