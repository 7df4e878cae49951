"""Helpers for the store tests: synthetic pprof files with known totals."""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from pathlib import Path

from profilelab._proto import pprof_pb2
from profilelab.model.ids import digest_bytes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from synth import Program  # noqa: E402

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
MINUTE = 60_000_000_000


@dataclass(frozen=True)
class Made:
    path: Path
    input_id: int
    samples: int
    cpu_total: int  # sum of the cpu/nanoseconds values
    count_total: int  # sum of the samples/count values
    time_ns: int


def make_profiles(
    directory: Path,
    n: int,
    *,
    samples: int = 20,
    services: tuple[str, ...] = ("order", "cart"),
    step_ns: int = MINUTE,
    t0: int = T0,
    functions: int = 40,
    stacks: int = 60,
    comments: tuple[str, ...] = (),
) -> list[Made]:
    """``n`` gzipped pprof CPU profiles, round-robin over one program per service."""
    directory.mkdir(parents=True, exist_ok=True)
    programs = [
        Program(s, seed, functions=functions, stacks=stacks) for seed, s in enumerate(services)
    ]
    made = []
    for i in range(n):
        prog = programs[i % len(programs)]
        t = t0 + i * step_ns
        data = prog.profile(seed=i, samples=samples, time_ns=t, comments=comments)
        path = directory / f"{prog.name}-{i:05d}.pb.gz"
        path.write_bytes(data)
        msg = pprof_pb2.Profile()
        msg.ParseFromString(gzip.decompress(data))
        count = sum(s.value[0] for s in msg.sample)
        cpu = sum(s.value[1] for s in msg.sample)
        made.append(Made(path, digest_bytes(data), len(msg.sample), cpu, count, t))
    return made
