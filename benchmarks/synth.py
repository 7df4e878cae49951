"""Fast deterministic synthetic pprof profiles for store benchmarks and tests.

A *program* (one per service) is a call graph like ``/work/shared/bench/gen_profile.py``
makes: Go-style function names, one location per function line plus inlined locations,
and stacks that are paths in a random tree (so prefixes repeat). A *profile* of a program
draws Zipf-weighted samples of those stacks with its own seed, time and labels. The
program's tables are serialized once; each profile appends only its header and samples,
encoded directly in the protobuf wire format (fields of a message may come in any order
and repeated fields concatenate), so thousands of profiles take seconds to make.

Every profile's sample types are samples/count and cpu/nanoseconds, like a Go CPU profile.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field

import numpy as np

from profilelab._proto import pprof_pb2

_PKGS = [
    *(f"github.com/acme/shop/{n}" for n in ("api", "db", "orders", "payments", "cache", "auth")),
    *("encoding/json", "net/http", "runtime", "database/sql", "reflect", "sync", "crypto/tls"),
]


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= 0xFFFFFFFFFFFFFFFF
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _field_int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


@dataclass
class Program:
    """A synthetic service: its static pprof tables and its stacks."""

    name: str
    seed: int
    functions: int = 400
    stacks: int = 1500
    static: bytes = b""
    stack_fields: list[bytes] = field(default_factory=list)  # encoded packed location_id
    leaf_functions: list[str] = field(default_factory=list)
    label_key: int = 0
    label_values: list[int] = field(default_factory=list)
    function_names: list[str] = field(default_factory=list)
    n_strings: int = 0

    def __post_init__(self) -> None:
        rnd = random.Random(self.seed)
        p = pprof_pb2.Profile()
        strings: dict[str, int] = {"": 0}

        def s(x: str) -> int:
            return strings.setdefault(x, len(strings))

        for t, u in (("samples", "count"), ("cpu", "nanoseconds")):
            st = p.sample_type.add()
            st.type, st.unit = s(t), s(u)
        p.period_type.type, p.period_type.unit = s("cpu"), s("nanoseconds")
        p.period = 10_000_000
        m = p.mapping.add()
        m.id, m.memory_start, m.memory_limit = 1, 0x400000, 0x4000000
        m.filename, m.build_id, m.has_functions = s(f"/usr/local/bin/{self.name}"), s("b1d"), True
        for i in range(1, self.functions + 1):
            pkg = rnd.choice(_PKGS)
            f = p.function.add()
            f.id = i
            name = f"{pkg}.(*T{i % 97}).Method{i}" if i % 3 else f"{pkg}.func{i}"
            self.function_names.append(name)
            f.name = f.system_name = s(name)
            f.filename, f.start_line = s(f"/src/{pkg}/file{i % 50}.go"), rnd.randint(1, 2000)
        nloc = self.functions * 2
        for i in range(1, nloc + 1):
            loc = p.location.add()
            loc.id, loc.mapping_id, loc.address = i, 1, 0x400000 + i * 16
            ln = loc.line.add()
            ln.function_id, ln.line = (i - 1) % self.functions + 1, rnd.randint(1, 3000)
            if i % 11 == 0:
                ln2 = loc.line.add()
                ln2.function_id, ln2.line = rnd.randint(1, self.functions), rnd.randint(1, 3000)
        roots = [rnd.randint(1, nloc) for _ in range(8)]
        for _ in range(self.stacks):
            path = [rnd.choice(roots)]
            for d in range(rnd.randint(5, 40) - 1):
                path.append((path[-1] * 31 + d * 7 + rnd.randint(0, 3)) % nloc + 1)
            path.reverse()  # leaf first, as pprof stores them
            packed = b"".join(_varint(x) for x in path)
            self.stack_fields.append(_field_bytes(1, packed))
            self.leaf_functions.append(self.function_names[(path[0] - 1) % self.functions])
        self.label_key = s("endpoint")
        self.label_values = [s(e) for e in ("/api/orders", "/api/users", "/api/cart", "/checkout")]
        p.string_table.extend(x.encode() for x in sorted(strings, key=strings.__getitem__))
        self.static = p.SerializeToString()
        self.n_strings = len(strings)

    def profile(
        self, seed: int, samples: int, time_ns: int, comments: tuple[str, ...] = ()
    ) -> bytes:
        """One gzipped pprof profile: ``samples`` Zipf-drawn samples, starting at ``time_ns``.

        Comments are appended to the string table (repeated field 6: appending is valid).
        """
        rng = np.random.default_rng(seed)
        weights = 1.0 / np.arange(1, len(self.stack_fields) + 1) ** 1.1
        chosen = rng.choice(len(self.stack_fields), size=samples, p=weights / weights.sum())
        counts = rng.integers(1, 6, size=samples)
        labelled = rng.random(samples) < 0.3
        endpoint = rng.integers(0, len(self.label_values), size=samples)
        parts = [self.static]
        for i, text in enumerate(comments):
            parts.append(_field_bytes(6, text.encode()))
            parts.append(_field_int(13, self.n_strings + i))
        parts.append(_field_int(9, time_ns))
        parts.append(_field_int(10, 10_000_000_000))
        label_fields = [
            _field_bytes(3, _field_int(1, self.label_key) + _field_int(2, v))
            for v in self.label_values
        ]
        for c, n, lab, ep in zip(
            chosen.tolist(), counts.tolist(), labelled.tolist(), endpoint.tolist(), strict=True
        ):
            values = _field_bytes(2, _varint(n) + _varint(n * 10_000_000))
            body = self.stack_fields[c] + values + (label_fields[ep] if lab else b"")
            parts.append(_field_bytes(2, body))
        return gzip.compress(b"".join(parts), compresslevel=6, mtime=0)
