"""Regenerate the golden outputs from ``go tool pprof`` (the reference).

usage: python tests/golden/generate.py [--corpus ../shared/corpus] [--own]

Finds every pprof (profile.proto) file of the corpus that ``go tool pprof`` reads, makes
top / tags / peek cases for each of its sample types plus pprof's own driver golden
commands, the option combinations and the graph and source reports (``cases.GRAPH_CASES``:
-dot, -tree, -callgrind, and -list over pprof's test sources and over a shipped dataset,
``datasets/order-service/.../cpu-00.pb.gz``, with its generator source in
``datasets/generators``), writes ``manifest.json`` (with the Go version) and, for inputs
whose license allows it, the expected outputs under ``expected/``. Outputs of
``grafana-pyroscope*`` inputs (AGPL) are never written: the tests compute them with
``go tool pprof``. The repository's own inputs (``OWN_PREFIXES`` of tests/conftest.py:
the shipped datasets, and the project's evidence in ``tests/data/evidence`` with -traces,
-dot, -tree and -callgrind too) are cases as well; ``--own`` remakes only theirs, without
the corpus.
pprof runs with ``-symbolize=remote`` (see ``Case.pprof_args``), in the
input's folder, with ``TZ=UTC`` and ``PPROF_BINARY_PATH=/nonexistent``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import cases as C  # noqa: E402

import profilelab  # noqa: E402
from profilelab.errors import ProfileLabError  # noqa: E402
from profilelab.ops.samples import sample_types  # noqa: E402

DRIVER_DIR = "_derived/google-pprof-driver-inputs"


def proto_files(corpus: Path) -> list[Path]:
    """Corpus files profilelab reads as profile.proto and ``go tool pprof`` reads too."""
    found = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        try:
            prof = profilelab.load(path)
        except ProfileLabError:
            continue
        if prof.profiles.height == 0 or set(prof.profiles["format"]) != {"pprof"}:
            continue
        proc = subprocess.run(
            ["go", "tool", "pprof", "-symbolize=none", "-raw", str(path)],
            env=C.go_env(),
            capture_output=True,
            check=False,
        )
        if proc.returncode == 0:
            found.append(path)
    return found


def case_id(file: str, kind: str, suffix: str) -> str:
    return file.replace("/", "__") + f".{kind}{suffix}"


#: The reports made for every sample type of the project's own evidence besides top, tags
#: and peek (its inputs are small, so even -traces stays small).
EVIDENCE_KINDS = ("traces", "dot", "tree", "callgrind")
EVIDENCE_TOP_VARIANTS = ("-lines", "-files", "-filefunctions", "-addresses", "-noinlines", "-cum")


def corpus_cases(corpus: Path, path: Path, more: tuple[str, ...] = ()) -> list[C.Case]:
    rel = str(path.relative_to(corpus))
    out = []
    for t in sample_types(profilelab.load(path)):
        common = [f"-sample_index={t.index}", f"-unit={t.unit}"]
        top = ["-nodecount=1000000", "-nodefraction=0", "-edgefraction=0", *common]
        out.append(C.Case(case_id(rel, "top", f".{t.index}"), rel, "top", top))
        out.append(C.Case(case_id(rel, "tags", f".{t.index}"), rel, "tags", common))
        out.append(C.Case(case_id(rel, "peek", f".{t.index}"), rel, "peek", common))
        out += [C.Case(case_id(rel, k, f".{t.index}"), rel, k, common) for k in more]
        if more:  # the evidence: top at every granularity, without inlining, by cum
            out += [
                C.Case(case_id(rel, "top", f".{t.index}.{v.lstrip('-')}"), rel, "top", [*top, v])
                for v in EVIDENCE_TOP_VARIANTS
            ]
    return out


def own_cases() -> list[C.Case]:
    """Cases of the repository's own inputs: every pprof file of the project's evidence
    (``tests/data/evidence``, made by ``tests/data/make/``) with every report kind, and of
    the shipped datasets with top, tags and peek. These need no corpus."""
    out = []
    for folder, more in (("tests/data/evidence", EVIDENCE_KINDS), ("datasets", ())):
        out += [c for f in proto_files(ROOT / folder) for c in corpus_cases(ROOT, f, more)]
    return out


def driver_cases() -> list[C.Case]:
    out: list[C.Case] = []
    seen = set()
    for n, (file, kind, regex, flags) in enumerate(C.DRIVER_CASES):
        if (file, kind, regex, tuple(flags)) in seen:
            continue  # -dot and -text of one input both became -top
        seen.add((file, kind, regex, tuple(flags)))
        rel = f"{DRIVER_DIR}/{file}"
        out.append(C.Case(case_id(rel, kind, f".driver{n:02d}"), rel, kind, flags, regex))
    return out


def extra_cases() -> list[C.Case]:
    return [
        C.Case(case_id(file, kind, f".extra{n:02d}"), file, kind, flags, regex)
        for n, (file, kind, regex, flags) in enumerate(C.EXTRA_CASES)
    ]


def graph_cases() -> list[C.Case]:
    return [
        C.Case(case_id(file, kind, f".graph{n:02d}"), file, kind, flags, regex)
        for n, (file, kind, regex, flags) in enumerate(C.GRAPH_CASES)
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument(
        "--own",
        action="store_true",
        help="remake only the cases of this repository's own inputs (no corpus needed)",
    )
    args = ap.parse_args()
    old = C.load_manifest()[1] if C.MANIFEST.exists() else []
    fixed = driver_cases() + extra_cases() + graph_cases()
    if args.own:
        kept = [c for c in old if not c.own]
        cases, nfiles = own_cases() + [c for c in fixed if c.own], 0
    else:
        corpus = args.corpus.resolve()
        files = proto_files(corpus)
        kept, nfiles = [], len(files)
        cases = [c for f in files for c in corpus_cases(corpus, f)] + fixed + own_cases()
    outputs = C.run_all(args.corpus.resolve(), cases)
    # a peek case keeps the regex made from its top report (AGPL ones make theirs when run)
    cases = [c if c.agpl else C.with_peek_regex(c, outputs) for c in cases]
    if args.own:
        for case in old:
            if case.own:
                for suffix in (".txt", ".txt.gz"):
                    (C.EXPECTED / f"{case.id}{suffix}").unlink(missing_ok=True)
    else:
        shutil.rmtree(C.EXPECTED, ignore_errors=True)
        C.EXPECTED.mkdir()
    for case in cases:
        if not case.agpl and case.id in outputs:
            C.write_expected(case, outputs[case.id])
    version = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    manifest = {
        "go_version": version,
        "generated_by": "tests/golden/generate.py",
        "environment": "TZ=UTC PPROF_BINARY_PATH=/nonexistent -symbolize=remote, "
        "run from the input's folder",
        "cases": [c.to_json() for c in kept + cases if c.kind != "peek" or c.regex or c.agpl],
    }
    C.MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{len(cases)} cases from {nfiles} corpus files and the own inputs; {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
