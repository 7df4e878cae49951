"""Legacy text profiles: heap (heapz, heap_v2, Go heap, growthz, fragmentationz), Go count
profiles (``threadcreate profile: total N``), threadz and C++ contentionz.

Each parser follows google/pprof ``legacy_profile.go``; addresses are return addresses and
move back by one to land on the call (except a thread's leaf, which is a PC).
"""

from __future__ import annotations

import math
import re

from profilelab.readers.legacy._maps import apply_additional_sections, is_memory_map_sentinel
from profilelab.readers.legacy._model import (
    Legacy,
    Location,
    Malformed,
    Sample,
    Scanner,
    Unrecognized,
    cleanup_duplicate_locations,
    go_div,
    go_int,
    hex_addresses,
    is_space_or_comment,
)
from profilelab.readers.sniff import (
    CONTENTION_PREFIXES,
    COUNT_START,
    FRAGMENTATION_HEADER,
    GROWTH_HEADER,
    HEAP_HEADER,
    THREAD_START,
    THREADZ_START,
)

_A = re.ASCII
_HEAP_SAMPLE = re.compile(r"(-?\d+): *(-?\d+) *\[ *(\d+): *(\d+) *] @([ x0-9a-f]*)", _A)
_COUNT = re.compile(r"(\d+) @(( 0x[0-9a-f]+)+)", _A)
_CONTENTION_SAMPLE = re.compile(r"(\d+) *(\d+) @([ x0-9a-f]*)", _A)
_U64 = (1 << 64) - 1


class _Locations:
    """Locations by (adjusted) address, shared between samples."""

    def __init__(self, p: Legacy) -> None:
        self.p = p
        self.by_address: dict[int, Location] = {}

    def stack(self, addrs: list[int], *, adjust_leaf: bool = True) -> list[Location]:
        out = []
        for k, addr in enumerate(addrs):
            if adjust_leaf or k > 0:
                addr = (addr - 1) & _U64  # a return address: move back onto the call
            loc = self.by_address.get(addr)
            if loc is None:
                loc = self.by_address[addr] = Location(addr)
                self.p.locations.append(loc)
            out.append(loc)
        return out


# ---- heap ------------------------------------------------------------------------------------


def scale_heap_sample(count: int, size: int, rate: int) -> tuple[int, int]:
    """Unsample a heap sample: divide by the probability ``1 - exp(-avg/rate)`` of
    a block of the sample's average size being sampled (Poisson sampling)."""
    if count == 0 or size == 0:
        return 0, 0
    if rate <= 1:
        return count, size
    avg = float(size) / float(count)
    scale = 1 / (1 - math.exp(-avg / float(rate)))
    return int(float(count) * scale), int(float(size) * scale)


def parse_heap(text: str) -> Legacy:
    s = Scanner(text)
    if not s.scan():
        raise Unrecognized
    line = s.text
    sampling, period, has_alloc = "", 1, False
    if HEAP_HEADER.search(line):
        sampling, period, has_alloc = _heap_header(line)
    elif not (GROWTH_HEADER.search(line) or FRAGMENTATION_HEADER.search(line)):
        raise Unrecognized
    if has_alloc:  # alloc first, so that pprof's default (the last type) is inuse_space
        types = [
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ]
    else:
        types = [("objects", "count"), ("space", "bytes")]
    p = Legacy(kind="heap", sample_types=types, period_type=("space", "bytes"), period=period)
    locs = _Locations(p)
    while s.scan():
        line = s.text.strip()
        if is_space_or_comment(line):
            continue
        if is_memory_map_sentinel(line):
            break
        values, block, addrs = _heap_sample(line, period, sampling, has_alloc, s.line_number)
        p.samples.append(Sample(locs.stack(addrs), values, {"bytes": [block]}))
    apply_additional_sections(p, s)
    return p


def _heap_header(line: str) -> tuple[str, int, bool]:
    """(sampling, period, has_alloc) of a heapz header line."""
    h = HEAP_HEADER.search(line)
    assert h is not None
    period = int(h.group(6)) if h.group(6) else 0
    if period >= 1 << 63:
        raise Unrecognized
    has_alloc = (h.group(3) not in (h.group(1), "0")) or (h.group(4) not in (h.group(2), "0"))
    kind = h.group(5)
    if kind in ("heapz_v2", "heap_v2"):
        return "v2", period, has_alloc
    if kind == "heapprofile":
        return "", 1, has_alloc
    if kind == "heap":  # Go's runtime writes twice its sampling rate
        return "v2", period // 2, has_alloc
    raise Unrecognized


def _heap_sample(
    line: str, rate: int, sampling: str, include_alloc: bool, line_no: int
) -> tuple[list[int], int, list[int]]:
    m = _HEAP_SAMPLE.search(line)
    if m is None:
        raise Malformed(f"line {line_no}: not a heap sample: {line!r}")
    values: list[int] = []
    block = 0

    def add(count_text: str, size_text: str, label: str) -> None:
        nonlocal block
        try:
            count, size = go_int(count_text), go_int(size_text)
        except ValueError as exc:
            raise Malformed(f"line {line_no}: malformed sample {line!r}: {exc}") from None
        if count == 0 and size != 0:
            raise Malformed(f"line {line_no}: {label} count was 0 but {label} bytes was {size}")
        if count != 0:
            block = go_div(size, count)
            if sampling == "v2":
                count, size = scale_heap_sample(count, size, rate)
        values.extend((count, size))

    if include_alloc:
        add(m.group(3), m.group(4), "allocation")
    add(m.group(1), m.group(2), "inuse")
    return values, block, _addresses(m.group(5), line, line_no)


def _addresses(text: str, line: str, line_no: int) -> list[int]:
    try:
        return hex_addresses(text)
    except Malformed as exc:
        raise Malformed(f"line {line_no}: malformed sample {line!r}: {exc}") from None


# ---- Go count profiles -------------------------------------------------------------------------


def parse_count(text: str) -> Legacy:
    s = Scanner(text)
    while s.scan() and is_space_or_comment(s.text):
        pass
    m = COUNT_START.fullmatch(s.text)
    if m is None:
        raise Unrecognized
    kind = m.group(1)
    p = Legacy(kind=kind, sample_types=[(kind, "count")], period_type=(kind, "count"), period=1)
    locs = _Locations(p)
    while s.scan():
        line = s.text
        if is_space_or_comment(line):
            continue
        if line.startswith("---"):
            break
        c = _COUNT.fullmatch(line)
        if c is None:
            raise Malformed(f"line {s.line_number}: not a '<count> @ <addresses>' line: {line!r}")
        try:
            n = go_int(c.group(1))
            addrs = [int(a, 16) for a in c.group(2).split()]
        except ValueError as exc:
            raise Malformed(f"line {s.line_number}: {exc}") from None
        if any(a >> 64 for a in addrs):
            raise Malformed(f"line {s.line_number}: address does not fit in 64 bits")
        p.samples.append(Sample(locs.stack(addrs), [n]))
    apply_additional_sections(p, s)
    return p


# ---- threadz -----------------------------------------------------------------------------------


def parse_thread(text: str) -> Legacy:
    s = Scanner(text)
    while s.scan() and is_space_or_comment(s.text):
        pass
    line = s.text
    if THREADZ_START.search(line):
        while s.scan():  # skip the comments before the first stack
            line = s.text
            if is_memory_map_sentinel(line) or line.startswith("-"):
                break
    elif not THREAD_START.search(line):
        raise Unrecognized
    p = Legacy(
        kind="threadz",
        sample_types=[("thread", "count")],
        period_type=("thread", "count"),
        period=1,
    )
    locs = _Locations(p)
    while not is_memory_map_sentinel(line):
        if line.startswith("---- no stack trace for"):
            break
        if not THREAD_START.search(line):
            raise Malformed(f"line {s.line_number}: expected a '--- Thread' header, got {line!r}")
        line, addrs = _thread_sample(s)
        if addrs is None:  # "same as previous thread"
            if p.samples:
                p.samples[-1].values[0] += 1
            continue
        p.samples.append(Sample(locs.stack(addrs, adjust_leaf=False), [1]))
    apply_additional_sections(p, s)
    cleanup_duplicate_locations(p)
    return p


def _thread_sample(s: Scanner) -> tuple[str, list[int] | None]:
    """The addresses of one thread's stack and the line after it (None: same as previous)."""
    line = ""
    addrs: list[int] = []
    same = False
    while s.scan():
        line = s.text.strip()
        if not line:
            continue
        if line.startswith("---"):
            break
        if "same as previous thread" in line:
            same = True
            continue
        addrs.extend(_addresses(line, line, s.line_number))
    return line, None if same else addrs


# ---- C++ contentionz ---------------------------------------------------------------------------


def parse_contention(text: str) -> Legacy:
    s = Scanner(text)
    if not s.scan() or not s.text.startswith(CONTENTION_PREFIXES):
        raise Unrecognized
    p = Legacy(
        kind="contention",
        sample_types=[("contentions", "count"), ("delay", "nanoseconds")],
        period_type=("contentions", "count"),
        period=1,
    )
    cpu_hz = _contention_attributes(s, p)
    locs = _Locations(p)
    while True:
        line = s.text.strip()
        if line.startswith("---"):
            break
        if not is_space_or_comment(line):
            values, addrs = _contention_sample(line, p.period, cpu_hz, s.line_number)
            p.samples.append(Sample(locs.stack(addrs), values))
        if not s.scan():
            break
    apply_additional_sections(p, s)
    return p


def _contention_attributes(s: Scanner, p: Legacy) -> int:
    """Parse ``key = value`` lines; return cycles/second (0 when absent)."""
    cpu_hz = 0
    while s.scan():
        line = s.text.strip()
        if is_space_or_comment(line):
            continue
        if line.startswith("---"):
            break
        attr = line.split("=", 1)
        if len(attr) != 2:
            break
        key, value = attr[0].strip(), attr[1].strip()
        if key in ("format", "resolution"):
            raise Unrecognized  # a Java contention profile
        if key == "discarded samples":
            continue
        if key not in ("cycles/second", "sampling period", "ms since reset"):
            raise Unrecognized
        try:
            number = go_int(value, base0=True)
        except ValueError:
            raise Unrecognized from None
        if key == "cycles/second":
            cpu_hz = number
        elif key == "sampling period":
            p.period = number
        else:
            p.duration_ns = number * 1_000_000
    return cpu_hz


def _contention_sample(
    line: str, period: int, cpu_hz: int, line_no: int
) -> tuple[list[int], list[int]]:
    m = _CONTENTION_SAMPLE.search(line)
    if m is None:
        raise Malformed(f"line {line_no}: not a contention sample: {line!r}")
    try:
        delay, count = go_int(m.group(1)), go_int(m.group(2))
    except ValueError as exc:
        raise Malformed(f"line {line_no}: malformed sample {line!r}: {exc}") from None
    if period > 0:  # unsample: delays from cycles to nanoseconds, counts by the period
        if cpu_hz > 0:
            delay = int(float(delay) * float(period) / (float(cpu_hz) / 1e9))
        count *= period
    return [count, delay], _addresses(m.group(3), line, line_no)
