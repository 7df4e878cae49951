"""Helpers for the store tests: synthetic pprof files with known totals."""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from profilelab._proto import pprof_pb2
from profilelab.model.ids import digest_bytes
from profilelab.store import layout
from profilelab.store.catalog import Segment

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


def otlp_export(
    service: str, seed: int, samples: int = 20, time_ns: int = T0, functions: int = 30
) -> bytes:
    """A binary OTLP ``ExportProfilesServiceRequest`` with one CPU profile of ``service``."""
    import random

    from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc

    rnd = random.Random(seed)
    req = svc.ExportProfilesServiceRequest()
    d = req.dictionary
    strings: dict[str, int] = {"": 0}

    def s(x: str) -> int:
        return strings.setdefault(x, len(strings))

    for table in (d.mapping_table, d.function_table, d.location_table, d.stack_table):
        table.add()  # index 0 is the zero value in every OTLP dictionary table
    d.attribute_table.add()
    d.link_table.add()
    for i in range(1, functions + 1):
        f = d.function_table.add()
        f.name_strindex = s(f"{service}.func{i}")
        f.filename_strindex = s(f"/src/{service}/file{i % 5}.go")
        loc = d.location_table.add()
        line = loc.lines.add()
        line.function_index, line.line = i, 10 + i
    for _ in range(12):
        depth = rnd.randint(2, 8)
        d.stack_table.add().location_indices.extend(rnd.randint(1, functions) for _ in range(depth))
    rp = req.resource_profiles.add()
    attr = rp.resource.attributes.add()
    attr.key, attr.value.string_value = "service.name", service
    prof = rp.scope_profiles.add().profiles.add()
    prof.sample_type.type_strindex, prof.sample_type.unit_strindex = s("cpu"), s("nanoseconds")
    prof.period_type.type_strindex, prof.period_type.unit_strindex = s("cpu"), s("nanoseconds")
    prof.period = 10_000_000
    prof.time_unix_nano, prof.duration_nano = time_ns, 10_000_000_000
    prof.profile_id = rnd.getrandbits(128).to_bytes(16, "big")
    for _ in range(samples):
        smp = prof.samples.add()
        smp.stack_index = rnd.randint(1, len(d.stack_table) - 1)
        smp.values.append(rnd.randint(1, 9) * 10_000_000)
    d.string_table.extend(sorted(strings, key=strings.__getitem__))
    return req.SerializeToString()


def otlp_total(data: bytes) -> int:
    """The sum of all sample values of a binary OTLP export."""
    from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc

    req = svc.ExportProfilesServiceRequest()
    req.ParseFromString(data)
    return sum(
        sum(smp.values)
        for rp in req.resource_profiles
        for sp in rp.scope_profiles
        for p in sp.profiles
        for smp in p.samples
    )


def post(
    address: tuple[str, int],
    path: str,
    body: bytes,
    headers: dict[str, str],
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """POST to a server on loopback: status, headers (lower-case names) and body.

    ``conn`` keeps a connection alive across calls; without it each call has its own.
    """
    own = conn is None
    conn = conn or http.client.HTTPConnection(*address, timeout=60)
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def make_old(store_dir: Path) -> None:
    """Rewrite a store as profilelab wrote it before the function index: no functions files,
    no functions_file column in the catalog, none in the segment records."""
    shutil.rmtree(store_dir / layout.FUNCTIONS)
    for path in (store_dir / layout.CATALOG).glob("*.parquet"):
        table = pq.read_table(path)
        meta = dict(table.schema.metadata)
        seg = Segment.from_json(meta[b"profilelab.segment"], str(path))
        kept = tuple(f for f in seg.files if not f.startswith(layout.FUNCTIONS))
        meta[b"profilelab.segment"] = Segment(seg.id, kept, seg.replaces, seg.created_ns).to_json()
        table = table.drop_columns(["functions_file"]).replace_schema_metadata(meta)
        pq.write_table(table, path)


def fresh_process(code: str) -> str:
    """What ``code`` prints when run by a fresh interpreter on this checkout (its import set
    is then the code's own, not the test session's)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()
