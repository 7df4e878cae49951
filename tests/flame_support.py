"""Build small real pprof profiles for the flame-graph tests (serialized, then loaded).

A stack is given root first as function names; each function gets one location per
distinct name (line = 10 * function id), in file ``<package>/<name>.go``.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import profilelab
from profilelab._proto import pprof_pb2
from profilelab.model.profile import Profile


@dataclass
class Sample:
    stack: Sequence[str]  # root first
    values: Sequence[int]
    labels: Mapping[str, str] = field(default_factory=dict)


def pprof_bytes(
    samples: Sequence[Sample],
    sample_types: Sequence[tuple[str, str]] = (("samples", "count"), ("cpu", "nanoseconds")),
    drop_frames: str = "",
) -> bytes:
    p = pprof_pb2.Profile()
    strings: dict[str, int] = {"": 0}

    def s(text: str) -> int:
        return strings.setdefault(text, len(strings))

    for t, u in sample_types:
        st = p.sample_type.add()
        st.type, st.unit = s(t), s(u)
    p.period_type.type, p.period_type.unit = s(sample_types[-1][0]), s(sample_types[-1][1])
    p.period = 1
    if drop_frames:
        p.drop_frames = s(drop_frames)
    locs: dict[str, int] = {}
    for smp in samples:
        for name in smp.stack:
            if name in locs:
                continue
            i = len(locs) + 1
            locs[name] = i
            f = p.function.add()
            f.id, f.name, f.system_name = i, s(name), s(name)
            pkg = name.split(".")[0] if "." in name else "main"
            f.filename, f.start_line = s(f"{pkg}/{name}.go"), 10 * i
            loc = p.location.add()
            loc.id, loc.address = i, 0x1000 + 16 * i
            line = loc.line.add()
            line.function_id, line.line = i, 10 * i + 1
    for smp in samples:
        out = p.sample.add()
        out.location_id.extend(locs[n] for n in reversed(smp.stack))  # pprof: leaf first
        out.value.extend(smp.values)
        for k, v in smp.labels.items():
            lab = out.label.add()
            lab.key, lab.str = s(k), s(v)
    p.string_table.extend(t.encode() for t in sorted(strings, key=strings.__getitem__))
    return gzip.compress(p.SerializeToString())


def make_profile(
    samples: Sequence[Sample | tuple[Sequence[str], int]],
    sample_types: Sequence[tuple[str, str]] | None = None,
    drop_frames: str = "",
) -> Profile:
    """Load a profile from samples; a (stack, value) pair gets values (1, value)."""
    full = [s if isinstance(s, Sample) else Sample(list(s[0]), [1, int(s[1])]) for s in samples]
    types = sample_types or (("samples", "count"), ("cpu", "nanoseconds"))
    return profilelab.load(pprof_bytes(full, types, drop_frames))


#: Stacks for the call-tree transforms (values total 27): a plain chain, direct
#: and indirect recursion, a package to collapse, labels for tagroot/tagleaf.
TRANSFORM_STACKS = [
    Sample(["main", "a", "b", "c"], [1, 10], {"region": "eu"}),
    Sample(["main", "a", "b"], [1, 5], {"region": "us"}),
    Sample(["main", "x", "a", "x", "a", "y"], [1, 7], {"region": "eu"}),
    Sample(["main", "net/http.serve", "net/http.read", "io.copy"], [1, 3]),
    Sample(["main", "r", "r", "r"], [1, 2], {"region": "eu"}),
]
