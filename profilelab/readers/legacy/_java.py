"""Legacy Java profiles: text ``--- heapz 1 ---`` / ``--- contentionz 1 ---`` with
``format = java``, and the symbol table that also follows Java binary CPU profiles.

As google/pprof ``parseJavaProfile``: attribute lines, then ``value1 value2 @ ids`` samples
(heap: ``bytes count``, unsampled at Java's fixed 512 KiB rate; contention: ``delay count``,
multiplied by the sampling period), then ``0xID function (file:line)`` symbol lines. The
ids are not addresses: locations end up with address 0 and no mapping.
"""

from __future__ import annotations

import posixpath
import re

from profilelab.readers.legacy._maps import (
    remap_function_ids,
    remap_location_ids,
    remap_mapping_ids,
)
from profilelab.readers.legacy._model import (
    Function,
    Legacy,
    Location,
    Malformed,
    Sample,
    Unrecognized,
    go_div,
    go_int,
    hex_addresses,
)
from profilelab.readers.legacy._text import scale_heap_sample

_ATTRIBUTE = re.compile(r"([\w ]+)=([\w ]+)", re.ASCII)
_SAMPLE = re.compile(r" *(\d+) +(\d+) +@ +([ x0-9a-f]*)", re.ASCII)
_LOCATION = re.compile(r"^\s*0x([0-9A-Fa-f]+)\s+(.*)\s*$", re.ASCII)
_FILE_LINE = re.compile(r"^(.*)\s+\((.+):(-?[0-9]+)\)$", re.ASCII)
_PATH = re.compile(r"^(.*)\s+\((.*)\)$", re.ASCII)
JAVA_HEAP_RATE = 524288


def parse(text: str) -> Legacy:
    first, sep, rest = text.partition("\n")
    if not sep:
        raise Unrecognized
    kind = {"--- heapz 1 ---": "heap", "--- contentionz 1 ---": "contention"}.get(first.strip())
    if kind is None:
        raise Unrecognized
    p = Legacy(kind=f"java {kind}", sample_types=[], period_type=("", ""), period=0)
    lines = rest.split("\n")[:-1]  # only newline-terminated lines count, as in Go
    i = _header(kind, lines, p)
    i, locs = _samples(kind, lines, i, p)
    apply_symbols(p, "\n".join(rest.split("\n")[i:]), locs)
    return p


def _header(kind: str, lines: list[str], p: Legacy) -> int:
    """Parse ``attribute = value`` lines; return the index of the first other line."""
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        m = _ATTRIBUTE.search(line)
        if m is None:
            return i
        attribute, value = m.group(1).strip(), m.group(2).strip()
        key = f"{kind}/{attribute}"
        if key in ("heap/format", "contention/format"):
            if value != "java":
                raise Unrecognized
        elif key == "heap/resolution":
            p.sample_types = [("inuse_objects", "count"), ("inuse_space", value)]
        elif key == "contention/resolution":
            p.sample_types = [("contentions", "count"), ("delay", value)]
        elif key == "contention/sampling period":
            p.period_type = ("contentions", "count")
            p.period = _attribute_int(line, value)
        elif key == "contention/ms since reset":
            p.duration_ns = _attribute_int(line, value) * 1_000_000
        else:
            raise Unrecognized
    return len(lines)


def _attribute_int(line: str, value: str) -> int:
    try:
        return go_int(value, base0=True)
    except ValueError:
        raise Malformed(f"failed to parse attribute {line!r}") from None


def _samples(kind: str, lines: list[str], start: int, p: Legacy) -> tuple[int, dict[int, Location]]:
    """Parse sample lines from ``start``; return the index of the first non-sample line."""
    locs: dict[int, Location] = {}
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line:
            continue
        m = _SAMPLE.search(line)
        if m is None:
            return i, locs
        stack = []
        for addr in hex_addresses(m.group(3)):
            loc = locs.get(addr)
            if loc is None:
                loc = locs[addr] = Location(addr)
                p.locations.append(loc)
            stack.append(loc)
        try:  # Java's fields are inverted: the second number comes first
            values = [go_int(m.group(2), base0=True), go_int(m.group(1), base0=True)]
        except ValueError as exc:
            raise Malformed(f"parsing sample {line!r}: {exc}") from None
        smp = Sample(stack, values)
        if kind == "heap":
            if values[0] == 0:
                raise Malformed(f"parsing sample {line!r}: second value must be non-zero")
            smp.num_labels = {"bytes": [go_div(values[1], values[0])]}
            smp.values = list(scale_heap_sample(values[0], values[1], JAVA_HEAP_RATE))
        elif p.period:
            smp.values = [v * p.period for v in values]
        p.samples.append(smp)
    return len(lines), locs


def apply_symbols(p: Legacy, text: str, locs: dict[int, Location]) -> None:
    """Name the locations from ``0xID function (file:line)`` lines, then renumber as Go
    does and clear addresses (Go aggregates Java profiles without addresses)."""
    functions: dict[str, Function] = {}
    for raw in text.split("\n"):
        line = raw.strip()
        m = _LOCATION.match(line) if line else None
        if m is None:
            continue
        loc = locs.get(int(m.group(1), 16))
        if loc is None:
            continue
        name, file, line_no = _symbol(m.group(2))
        fn = functions.get(name)
        if fn is None:
            fn = functions[name] = Function(name, name, file)
        loc.lines = [(fn, line_no)]
        loc.address = 0
    remap_location_ids(p)
    remap_function_ids(p)
    remap_mapping_ids(p)
    for loc in p.locations:
        loc.address = 0


def _symbol(text: str) -> tuple[str, str, int]:
    """(function, file, line) of a symbol line's text."""
    m = _FILE_LINE.match(text)
    if m:
        n = int(m.group(3))
        return m.group(1), m.group(2), n if n > 0 else 0
    m = _PATH.match(text)
    if m:  # a shared library path: only its base name is interesting
        return m.group(1), _go_base(m.group(2)), 0
    if "generated stub/JIT" in text:
        return "STUB", "", 0
    return text, "", 0  # internal states such as "GC" or "VM"


def _go_base(path: str) -> str:
    """Go's filepath.Base."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    return posixpath.basename(stripped) if stripped else "/"
