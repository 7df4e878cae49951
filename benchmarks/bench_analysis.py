"""Benchmark: N-vs-M comparison of two sets of 500 profiles, and statistical power.

usage: python benchmarks/bench_analysis.py [--profiles 500] [--power]

Builds 2 x N synthetic profiles (about 2,000 samples each over 300 stacks and 120 functions)
with the same builder every reader uses, then times ``analysis.compare`` against a reference
run in the same invocation: a plain per-function mean-share difference (no statistics), so the
ratio shows what the bootstrap and rank tests cost. With ``--power`` it also estimates how often
an injected +20% share change in one function is flagged, for several set sizes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from profilelab import analysis
from profilelab.analysis._totals import key_totals, profile_totals
from tests._synth import build, raw_from_stacks

FUNCS = [f"github.com/acme/shop/pkg{i % 12}.F{i}" for i in range(120)]
MIDDLE = [f"github.com/acme/shop/api.Handler{i}" for i in range(20)]


def fleet(
    rng: np.random.Generator,
    n: int,
    version: str,
    shares: np.ndarray,
    first_id: int,
    concentration: float = 1000.0,
    samples: int = 2000,
) -> list:
    stacks = [("main.main", MIDDLE[i % 20], FUNCS[(i * 7 + 3) % 120]) for i in range(300)]
    leaf = np.array([(i * 7 + 3) % 120 for i in range(300)])
    raws = []
    for i in range(n):
        p = rng.dirichlet(shares * concentration)
        per_stack = p[leaf] / np.bincount(leaf, minlength=120)[leaf]
        counts = rng.multinomial(samples, per_stack / per_stack.sum())
        raws.append(
            raw_from_stacks(
                stacks,
                (counts * 10_000_000).tolist(),
                time_ns=i * 10**10,
                labels={"version": version},
                source_id=first_id + i,
            )
        )
    return raws


def base_shares() -> np.ndarray:
    s = 1.0 / np.arange(1, 121) ** 1.1
    return s / s.sum()


def reference(p, ids_a, ids_b) -> pl.DataFrame:
    out = []
    for ids in (ids_a, ids_b):
        total = profile_totals(p, ids)["total"].sum()
        out.append(key_totals(p, "function", ids).group_by("key").agg(pl.col("cum").sum() / total))
    return out[0].join(out[1], on="key", how="full")


def bench(n: int) -> None:
    rng = np.random.default_rng(1)
    t = time.perf_counter()
    prof = build(fleet(rng, n, "a", base_shares(), 0) + fleet(rng, n, "b", base_shares(), 10**6))
    print(
        f"built {2 * n} profiles, {prof.samples.height} samples in {time.perf_counter() - t:.2f}s"
    )
    table = analysis.profile_table(prof)
    ids_a = table.filter(pl.col("version") == "a")["profile_id"]
    ids_b = table.filter(pl.col("version") == "b")["profile_id"]
    t = time.perf_counter()
    reference(prof, ids_a, ids_b)
    ref = time.perf_counter() - t
    t = time.perf_counter()
    res = analysis.compare(prof, {"version": "a"}, {"version": "b"})
    took = time.perf_counter() - t
    print(f"reference (mean share difference, no statistics): {ref:.2f}s")
    print(
        f"compare {n} vs {n} (bootstrap 1000 + rank tests + BH): {took:.2f}s "
        f"(ratio {took / ref:.1f}x); {res.height} keys tested, "
        f"{int(res['significant'].sum())} significant"
    )


def power(sizes: list[int], seeds: int, test: str) -> None:
    shares = base_shares()
    target = 4
    print(
        f"| profiles per set | instance noise | power (+20% on a {shares[target]:.1%} function) "
        "| runs with a false alarm |"
    )
    print("|---|---|---|---|")
    for noise, conc in (("low", 3000.0), ("medium", 1000.0), ("high", 300.0)):
        for n in sizes:
            hits = alarms = 0
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                bumped = shares.copy()
                bumped[target] *= 1.2
                bumped /= bumped.sum()
                p = build(
                    fleet(rng, n, "a", shares, 0, conc) + fleet(rng, n, "b", bumped, 10**6, conc)
                )
                res = analysis.compare(
                    p, {"version": "a"}, {"version": "b"}, n_boot=200, seed=seed, test=test
                )
                sig = res.filter(pl.col("significant"))["key"].to_list()
                hits += FUNCS[target] in sig
                null = build(
                    fleet(rng, n, "a", shares, 0, conc) + fleet(rng, n, "b", shares, 10**6, conc)
                )
                alarms += bool(
                    analysis.compare(
                        null, {"version": "a"}, {"version": "b"}, n_boot=200, seed=seed, test=test
                    )["significant"].any()
                )
            print(f"| {n} | {noise} (Dirichlet {conc:g}) | {hits / seeds:.0%} | {alarms}/{seeds} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", type=int, default=500)
    ap.add_argument("--power", action="store_true")
    ap.add_argument("--seeds", type=int, default=20)
    a = ap.parse_args()
    bench(a.profiles)
    if a.power:
        for test in ("welch", "rank"):
            print(f"\ntest = {test}")
            power([5, 10, 20, 50], a.seeds, test)


if __name__ == "__main__":
    main()
