"""``profilelab check``: evaluate alert rules over a store or profiles; non-zero when one fires."""

from __future__ import annotations

import argparse

from profilelab.cli._common import (
    add_command,
    add_selection_arguments,
    load_selected,
    selection_from,
)

#: Exit status when at least one rule fires (1 stays "error", as for every command).
FIRED = 3
#: Exit status when no rule fires but at least one looked at no data (its selector, window or
#: pattern matched nothing): a gate must not pass because it saw nothing.
NO_DATA = 4


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "check",
        "Evaluate alert rules (share/value thresholds over time, version regressions) over a "
        f"store, a dataset or profile files. Exit status {FIRED} when a rule fires, {NO_DATA} "
        "when none fires but a rule matched no data, 0 when every rule saw data and none "
        "fired, 1 on error: use it to gate CI.",
        "  profilelab check --rules rules.yaml --store profiles/\n"
        "  profilelab check --rules rules.yaml --dataset order-service --evidence out/\n"
        "  profilelab check --rules rules.yaml cpu-*.pb.gz",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="profiles to check (or --store)")
    p.add_argument("--rules", required=True, help="YAML rules file")
    p.add_argument("--store", help="a profilelab store directory")
    p.add_argument("--dataset", help="a shipped dataset name (profilelab.datasets)")
    p.add_argument("--evidence", help="directory for flame graphs of firing windows")
    add_selection_arguments(p, output=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import profilelab
    from profilelab.analysis.alerts import evaluate
    from profilelab.core.restriction import narrow
    from profilelab.errors import QueryError

    given = [bool(args.files), bool(args.store), bool(args.dataset)]
    if sum(given) != 1:
        raise QueryError("give exactly one of: profile files, --store DIR, --dataset NAME")
    source: profilelab.Store | profilelab.Profile
    if args.store:
        from profilelab.core.selection import Selection

        if selection_from(args) != Selection():
            raise QueryError("with --store, select in the rules' selectors, not with flags")
        source = profilelab.open_store(args.store)
    elif args.dataset:
        from profilelab import datasets

        source = narrow(datasets.load(args.dataset), selection_from(args), "check")
    else:
        source = load_selected(args.files, args, "check")
    results = evaluate(args.rules, source, evidence_dir=args.evidence)
    for r in results:
        print(r.summary())
        for path in r.evidence:
            print(f"        evidence: {path}")
    fired = sum(r.fired for r in results)
    empty = sum(r.no_data is not None for r in results)
    print(f"{len(results)} rules, {fired} firing, {empty} with no data")
    if fired:
        return FIRED
    return NO_DATA if empty else 0
