"""``profilelab compare``: which functions changed between two sets of profiles, with statistics."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import profilelab
from profilelab.cli._common import (
    add_command,
    add_csv_alias,
    add_selection_arguments,
    render_table,
    selection_from,
)

if TYPE_CHECKING:
    from profilelab.model.profile import Profile


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "compare",
        "Compare two sets of profiles (for example two versions): per function the change in "
        "share with a bootstrap confidence interval and an FDR-corrected p-value.",
        "  profilelab compare --base v235/*.pb.gz --new v236/*.pb.gz\n"
        "  profilelab compare --base a/*.pprof --new b/*.pprof --key package --all --csv",
    )
    p.add_argument("--base", nargs="+", required=True, metavar="FILE")
    p.add_argument("--new", nargs="+", required=True, metavar="FILE")
    p.add_argument("--key", default="function", choices=["function", "file", "package", "stack"])
    p.add_argument("--measure", default="cum", choices=["cum", "flat"])
    p.add_argument("--alpha", type=float, default=0.05, help="false discovery rate (default 0.05)")
    p.add_argument("--min-delta-share", type=float, default=0.005)
    p.add_argument("--all", action="store_true", help="print every tested key, not only flagged")
    add_selection_arguments(p)
    add_csv_alias(p)
    p.set_defaults(func=run)


def load_sides(base: list[str], new: list[str]) -> Profile:
    """Load both sides with a ``side`` profile label (base/new).

    A profile's id is its content, so one that is in both sets (the same file, or a copy)
    would be kept once, on the base side, and the new side would silently lose it: refuse.
    """
    sides = [
        profilelab.load(base, labels={"side": "base"}),
        profilelab.load(new, labels={"side": "new"}),
    ]
    both = sides[0].profiles.join(sides[1].profiles, on="profile_id", how="semi")
    if both.height:
        sources = ", ".join(sorted(set(both["source"].to_list()))[:3])
        raise profilelab.QueryError(
            f"{both.height} profiles are in both --base and --new (same content, e.g. "
            f"from {sources}): a profile can be on one side only"
        )
    return profilelab.Profile.concat(sides)


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from profilelab import analysis
    from profilelab.core.restriction import narrow

    prof = narrow(load_sides(args.base, args.new), selection_from(args), "compare")
    res = analysis.compare(
        prof,
        {"side": "base"},
        {"side": "new"},
        key=args.key,
        sample_type=args.sample_index,
        measure=args.measure,
        alpha=args.alpha,
        min_delta_share=args.min_delta_share,
    )
    shown = res if args.all else res.filter(pl.col("significant"))
    cols = ["key", "base_share", "new_share", "delta_share", "ci_low", "ci_high", "q_value"]
    if args.nodecount:
        shown = shown.head(args.nodecount)
    if args.format != "text":
        print(render_table(shown.select(*cols, "significant"), args.format), end="")
        return 0
    untested = res["untested_keys"][0] if res.height else 0
    print(
        f"{res.height} keys tested ({untested} below min share); "
        f"{int(res['significant'].sum())} changed significantly (FDR {args.alpha})"
    )
    for r in shown.iter_rows(named=True):
        print(
            f"{100 * r['delta_share']:+7.2f} pp [{100 * r['ci_low']:+.2f}, "
            f"{100 * r['ci_high']:+.2f}] pp  "
            f"{r['base_share']:7.2%} -> {r['new_share']:7.2%}  q={r['q_value']:.2g}  {r['key']}"
        )
    return 0
