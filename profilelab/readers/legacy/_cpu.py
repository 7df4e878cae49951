"""Legacy binary CPU profiles: gperftools/Go ``profilez`` and the Java variant.

Layout (google/pprof ``parseCPU``): words of 32 or 64 bits, either endianness, detected
from the header ``0, 3, 0 (C++/Go) or 1 (Java), period in microseconds, 0``. Then records
``count, depth, address...`` until the marker ``0, 1, 0``; then text: a memory map (C++/Go)
or a symbol table (Java). Non-leaf addresses are return addresses and are moved back by
one to land on the call (not for Java, whose "addresses" are method ids).
"""

from __future__ import annotations

import numpy as np

from profilelab.readers.legacy import _java
from profilelab.readers.legacy._maps import apply_memory_map
from profilelab.readers.legacy._model import (
    Legacy,
    Location,
    Malformed,
    Sample,
    Scanner,
    Unrecognized,
    cleanup_duplicate_locations,
)
from profilelab.readers.sniff import legacy_cpu_header


def parse(data: bytes) -> Legacy:
    found = legacy_cpu_header(data)
    if found is None:
        raise Unrecognized
    dtype, size, kind, period_us = found
    body = data[5 * size :]
    words = np.frombuffer(body[: len(body) // size * size], dtype=dtype)
    period = period_us * 1000
    if period >= 1 << 63:
        raise Malformed(f"sampling period of {period_us} microseconds does not fit in int64 ns")
    p = Legacy(
        kind="java cpu" if kind else "cpu",
        sample_types=[("samples", "count"), ("cpu", "nanoseconds")],
        period_type=("cpu", "nanoseconds"),
        period=period,
    )
    used, locs = _samples(words.tolist(), p, adjust=kind == 0)
    rest = body[used * size :].decode("utf-8", errors="replace")
    if kind:
        _java.apply_symbols(p, rest, locs)
        return p
    _strip_signal_frames(p)
    apply_memory_map(p, Scanner(rest))
    cleanup_duplicate_locations(p)
    return p


def _samples(words: list[int], p: Legacy, *, adjust: bool) -> tuple[int, dict[int, Location]]:
    """Decode records until the end marker; return the words used and locations by address."""
    locs: dict[int, Location] = {}
    i, n = 0, len(words)
    while i < n:
        if i + 2 > n:
            raise Malformed(f"record at word {i + 5} is truncated")
        count, depth = words[i], words[i + 1]
        if depth > n - i - 2:
            raise Malformed(f"record at word {i + 5} has {depth} addresses, more than remain")
        addrs = words[i + 2 : i + 2 + depth]
        i += 2 + depth
        if count == 0 and depth == 1 and addrs[0] == 0:
            break  # end of data marker
        stack = []
        for k, addr in enumerate(addrs):
            if adjust and k > 0:
                addr = (addr - 1) & ((1 << 64) - 1)
            loc = locs.get(addr)
            if loc is None:
                loc = locs[addr] = Location(addr)
                p.locations.append(loc)
            stack.append(loc)
        if count >= 1 << 63:
            raise Malformed(f"record at word {i + 5} has a count that does not fit in int64")
        p.samples.append(Sample(stack, [count, _mul64(count, p.period)]))
    return i, locs


def _mul64(a: int, b: int) -> int:
    """int64 multiplication wrapping as Go's does."""
    v = (a * b) & ((1 << 64) - 1)
    return v - (1 << 64) if v >> 63 else v


def _strip_signal_frames(p: Legacy) -> None:
    """Drop a second-from-leaf frame that (nearly) every sample shares: the signal handler's.

    Up to two such frames are removed; one sample in 32 may differ (gperftools' rule).
    """
    margin = len(p.samples) // 32
    for _ in range(2):
        counts: dict[int, int] = {}
        for smp in p.samples:
            if len(smp.locations) > 1:
                a = smp.locations[1].address
                counts[a] = counts.get(a, 0) + 1
        for addr, count in counts.items():
            if count >= len(p.samples) - margin:
                for smp in p.samples:
                    if len(smp.locations) > 1 and smp.locations[1].address == addr:
                        del smp.locations[1]
                break
