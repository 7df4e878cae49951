"""Trends, N-vs-M statistics and growth on data with known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from profilelab import analysis
from profilelab.errors import QueryError
from tests._synth import build, raw_from_stacks

FUNCS = [f"pkg.f{i}" for i in range(12)]
BASE_SHARES = np.array([0.25, 0.15, 0.12, 0.10, 0.08, 0.07, 0.06, 0.05, 0.04, 0.04, 0.02, 0.02])
MINUTE = 60 * 10**9


def fleet(
    rng: np.random.Generator,
    n: int,
    version: str,
    shares: np.ndarray,
    start_id: int,
    t0: int = 0,
    samples: int = 2000,
    concentration: float = 1000.0,
) -> list:
    """n profiles whose per-function shares vary around ``shares`` (instance-to-instance noise)."""
    raws = []
    for i in range(n):
        p = rng.dirichlet(shares * concentration)
        counts = rng.multinomial(samples, p)
        stacks = [("main.main", "main.handle", f) for f in FUNCS]
        raws.append(
            raw_from_stacks(
                stacks,
                [int(c) * 10_000_000 for c in counts],
                time_ns=t0 + i * MINUTE,
                labels={"service": "order", "version": version, "instance": f"i{i % 4}"},
                source_id=start_id + i,
            )
        )
    return raws


def test_same_distribution_gives_no_significant_function() -> None:
    false_alarms = 0
    seeds = 25
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        prof = build(fleet(rng, 20, "a", BASE_SHARES, 0) + fleet(rng, 20, "b", BASE_SHARES, 1000))
        res = analysis.compare(prof, {"version": "a"}, {"version": "b"}, n_boot=200, seed=seed)
        false_alarms += int(res["significant"].any())
    # BH at 5% under the complete null bounds P(any discovery) by 5%: expect ~1 of 25.
    assert false_alarms <= 4


def test_injected_regression_is_found_with_power() -> None:
    found = 0
    seeds = 20
    target = "pkg.f3"  # 10% share, +20% -> 12%
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        bumped = BASE_SHARES.copy()
        bumped[3] *= 1.2
        bumped /= bumped.sum()
        prof = build(fleet(rng, 20, "a", BASE_SHARES, 0) + fleet(rng, 20, "b", bumped, 1000))
        res = analysis.compare(prof, {"version": "a"}, {"version": "b"}, n_boot=200, seed=seed)
        sig = res.filter(pl.col("significant"))
        found += int(target in sig["key"].to_list())
        row = res.filter(pl.col("key") == target).row(0, named=True)
        assert row["ci_low"] <= row["delta_share"] <= row["ci_high"]
        # nothing else should be flagged as a large significant increase
        others = sig.filter((pl.col("key") != target) & (pl.col("delta_share") > 0.01))
        assert others.is_empty(), others
    assert found / seeds >= 0.8


def test_compare_needs_two_profiles_per_side() -> None:
    rng = np.random.default_rng(1)
    prof = build(fleet(rng, 3, "a", BASE_SHARES, 0) + fleet(rng, 1, "b", BASE_SHARES, 50))
    with pytest.raises(QueryError, match="need at least 2"):
        analysis.compare(prof, {"version": "a"}, {"version": "b"})


def test_trend_shares_sum_and_step_buckets() -> None:
    rng = np.random.default_rng(3)
    prof = build(fleet(rng, 10, "a", BASE_SHARES, 0))
    t = analysis.trend(prof, step="2m", key="function", measure="flat", top=None)
    # flat shares of all leaf functions add up to 1 in every bucket
    sums = t.group_by("time").agg(pl.col("share").sum())
    assert np.allclose(sums["share"].to_numpy(), 1.0)
    assert t["time"].n_unique() == 5
    assert set(t["profiles"].unique().to_list()) == {2}
    cum = analysis.trend(prof, step="1m", match=r"main\.main", top=None)
    assert np.allclose(cum["share"].to_numpy(), 1.0)


def test_top_movers_finds_the_shifted_function() -> None:
    rng = np.random.default_rng(5)
    shifted = BASE_SHARES.copy()
    shifted[5] *= 2.0
    shifted /= shifted.sum()
    raws = fleet(rng, 6, "a", BASE_SHARES, 0, t0=0) + fleet(
        rng, 6, "b", shifted, 100, t0=10 * MINUTE
    )
    prof = build(raws)
    movers = analysis.top_movers(prof, (0, 6 * MINUTE), (10 * MINUTE, None), n=3)
    assert movers["key"][0] == "pkg.f5"
    assert movers["delta_share"][0] > 0.03


def test_label_breakdown_by_version() -> None:
    rng = np.random.default_rng(9)
    prof = build(fleet(rng, 4, "a", BASE_SHARES, 0) + fleet(rng, 4, "b", BASE_SHARES, 10))
    out = analysis.label_breakdown(prof, "version", step="10m")
    assert set(out["version"].to_list()) == {"a", "b"}
    assert np.isclose(out["share"].sum(), 1.0)


def test_decompose_calls_is_exact() -> None:
    raws = []
    for i, (count, cost) in enumerate([(10, 100), (12, 100), (10, 150), (12, 150)]):
        version = "a" if i < 2 else "b"
        raws.append(
            raw_from_stacks(
                [("main.main", "alloc.big")],
                [[count, count * cost]],
                sample_types=[("alloc_objects", "count"), ("alloc_space", "bytes")],
                labels={"version": version},
                source_id=i + 1,
            )
        )
    prof = build(raws)
    out = analysis.decompose_calls(
        prof,
        {"version": "a"},
        {"version": "b"},
        count_type="alloc_objects",
        value_type="alloc_space",
    )
    row = out.filter(pl.col("key") == "alloc.big").row(0, named=True)
    assert row["cost_base"] == pytest.approx(100) and row["cost_new"] == pytest.approx(150)
    assert row["calls_effect"] + row["cost_effect"] == pytest.approx(row["delta_value"])
    assert row["calls_effect"] == pytest.approx(0.0)


def test_mix_shift_separates_traffic_from_cost() -> None:
    # /checkout is expensive in db.Query; v2 just sends more traffic to it.
    def raw(version: str, checkout: int, source_id: int):
        stacks = [
            ("main", "db.Query"),
            ("main", "render"),
            ("main", "db.Query"),
            ("main", "render"),
        ]
        vals = [checkout * 8, checkout * 2, 100 * 1, 100 * 9]
        labels = [{"endpoint": "/checkout"}] * 2 + [{"endpoint": "/list"}] * 2
        return raw_from_stacks(
            stacks, vals, labels={"version": version}, sample_labels=labels, source_id=source_id
        )

    prof = build([raw("a", 100, 1), raw("a", 100, 2), raw("b", 300, 3), raw("b", 300, 4)])
    out = analysis.mix_shift(prof, {"version": "a"}, {"version": "b"}, label="endpoint")
    row = out.filter(pl.col("key") == "db.Query").row(0, named=True)
    assert row["delta_share"] > 0.1
    assert row["within_effect"] == pytest.approx(0.0, abs=1e-12)
    assert row["mix_effect"] == pytest.approx(row["delta_share"])


def test_growth_ranks_the_leak_first_and_stable_is_quiet() -> None:
    rng = np.random.default_rng(11)
    raws = []
    for i in range(12):
        leak = 1_000_000 * (i + 1)
        stacks = [("main", "cache.Put"), ("main", "handler"), ("main", "buffers")]
        vals = [leak, int(rng.normal(5e6, 2e5)), int(rng.normal(3e6, 1e5))]
        raws.append(
            raw_from_stacks(
                stacks,
                vals,
                sample_types=[("inuse_space", "bytes")],
                time_ns=i * 5 * MINUTE,
                source_id=i + 1,
            )
        )
    prof = build(raws)
    res = analysis.growth(prof, key="function")
    assert res["key"][0] == "cache.Put" and res["growing"][0]
    assert res.filter(pl.col("growing"))["key"].to_list() == ["cache.Put"]
    # 1 MB more at each snapshot, taken every 5 minutes: 1 MB per snapshot, 12 MB per hour
    leak = res.row(0, named=True)
    assert leak["slope_per_snapshot"] == pytest.approx(1_000_000)
    assert leak["slope_per_hour"] == pytest.approx(12_000_000)
    by_stack = analysis.name_stacks(prof, analysis.growth(prof))
    assert by_stack["stack"][0] == "main;cache.Put"
    gp = analysis.growth_profile(prof)
    gp.check()
    # 1 MB per 5 minutes = 12 MB per hour
    assert gp.samples["value"].max() == pytest.approx(12_000_000, rel=1e-6)


def test_cli_prints_share_changes_in_percentage_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from profilelab.cli import main
    from profilelab.writers import write

    rng = np.random.default_rng(5)
    shifted = BASE_SHARES.copy()
    shifted[0] += 0.10
    shifted /= shifted.sum()
    sides = {
        "a": build(fleet(rng, 8, "a", BASE_SHARES, 1)),
        "b": build(fleet(rng, 8, "b", shifted, 100)),
    }
    files: dict[str, list[str]] = {}
    for side, prof in sides.items():
        files[side] = []
        for i, pid in enumerate(prof.profiles["profile_id"].to_list()):
            path = tmp_path / f"{side}{i}.pb.gz"
            with path.open("wb") as out:
                write(prof.subset(pl.Series([pid])), out, "pprof")
            files[side].append(str(path))
    assert main(["compare", "--base", *files["a"], "--new", *files["b"]]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.endswith("pkg.f0"))
    delta = float(line.split("pp")[0])
    assert 5 < delta < 15  # about +8 percentage points, printed as pp, not as "%"
    assert "%" in line.split("]")[1] and "pp [" in line


def test_cli_refuses_a_profile_on_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    """Ids are content: a file given on both sides would be kept once, on the base side,
    and the new side would lose it without a word (it used to say "new selection holds 0
    profiles")."""
    from profilelab.cli import main

    files = sorted(str(p) for p in Path("datasets/order-service/v2.3.5").rglob("*.pb.gz"))[:3]
    assert len(files) == 3
    assert main(["compare", "--base", *files, "--new", files[2], *files[:2]]) == 1
    err = capsys.readouterr().err
    assert "6 profiles are in both --base and --new" in err  # 2 sample types per file
    assert "a profile can be on one side only" in err and "\n" not in err.strip()
