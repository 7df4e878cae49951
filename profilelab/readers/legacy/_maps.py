"""Memory maps of legacy profiles and the id/mapping passes Go's decoder runs after them.

Mirrors the behaviour of google/pprof ``ParseMemoryMapFromScanner``: parse
``/proc/self/maps``-like lines (and the brief ``start-end: file`` form, with ``$attr``
substitution), merge adjacent pieces of one mapping, move the main binary first, renumber
locations by first use, and attach each address to its mapping (creating one catch-all
mapping when none covers it).
"""

from __future__ import annotations

import re

from profilelab.readers.legacy._model import Legacy, Location, Mapping, Scanner, wrap64

_XD = "[0-9A-Fa-f]"
_HEX = rf"(?:0x)?({_XD}+)"
_HEX_RANGE = r"\s*" + _HEX + r"[\s-]?" + r"\s*" + _HEX + ":?"
_SPACE_STRING = r"(?:\s+(\S+))?"
_SPACE_HEX = rf"(?:\s+({_XD}+))?"
_SPACE_AT_OFFSET = rf"(?:\s+\(@({_XD}+)\))?"
_PERM = r"(?:\s+([-rwxp]+))?"
_PROC_MAPS = re.compile(
    "^" + _HEX_RANGE + _PERM + _SPACE_HEX + rf"\s+{_XD}+:{_XD}+" + r"\s+[0-9]+" + _SPACE_STRING,
    re.ASCII,
)
_BRIEF_MAPS = re.compile(
    "^" + _HEX_RANGE + _PERM + _SPACE_STRING + _SPACE_AT_OFFSET + _SPACE_HEX, re.ASCII
)
_LOG_PREFIX = re.compile(r"^[^\[\]]+:[0-9]+]\s", re.ASCII)
_LIB = re.compile(r"([.]so$|[.]so[._][0-9]+)")
SENTINELS = ("--- Memory map: ---", "MAPPED_LIBRARIES:")
_MAIN_START = 0x400000


def is_memory_map_sentinel(line: str) -> bool:
    return any(s in line for s in SENTINELS)


class _NotAMapping(Exception):
    pass


def _mapping_entry(line: str) -> Mapping | None:
    """One mapping line; None for a non-executable mapping; _NotAMapping otherwise."""
    m = _PROC_MAPS.match(line)
    if m:
        start, end, perm, offset, file = (g or "" for g in m.groups())
        build_id = ""
    else:
        m = _BRIEF_MAPS.match(line)
        if not m:
            raise _NotAMapping
        start, end, perm, file, offset, build_id = (g or "" for g in m.groups())
    if perm and "x" not in perm:
        return None
    try:
        mapping = Mapping(int(start, 16), int(end, 16), int(offset, 16) if offset else 0)
    except ValueError:
        raise _NotAMapping from None
    if max(mapping.start, mapping.limit, mapping.offset) >> 64:
        raise _NotAMapping
    mapping.file, mapping.build_id = file, build_id
    return mapping


class _Substitutions:
    """``$attr`` replacements, as Go's strings.NewReplacer: at each position the first
    defined matching key wins, and replaced text is not scanned again."""

    def __init__(self) -> None:
        self.pairs: dict[str, str] = {}
        self.pattern: re.Pattern[str] | None = None

    def add(self, key: str, value: str) -> None:
        self.pairs.setdefault(key, value)
        self.pattern = re.compile("|".join(re.escape(k) for k in self.pairs))

    def apply(self, line: str) -> str:
        if self.pattern is None:
            return line
        return self.pattern.sub(lambda mo: self.pairs[mo.group(0)], line)


def parse_memory_map(s: Scanner) -> list[Mapping]:
    """The executable mappings of the remaining lines (unrecognized lines are skipped;
    ``attr = value`` lines define ``$attr`` substitutions for the lines after them)."""
    mappings: list[Mapping] = []
    subs = _Substitutions()
    while s.scan():
        line = s.text
        prefix = _LOG_PREFIX.match(line)
        if prefix:
            line = line[prefix.end() :]
        line = subs.apply(line)
        try:
            m = _mapping_entry(line)
        except _NotAMapping:
            attr = line.split("=", 1)
            if len(attr) == 2:
                subs.add("$" + attr[0].strip(), attr[1].strip())
            continue
        if m is not None:
            mappings.append(m)
    return mappings


def apply_memory_map(p: Legacy, s: Scanner) -> None:
    """Go's ParseMemoryMapFromScanner: add the mappings, then renumber everything."""
    p.mappings.extend(parse_memory_map(s))
    massage_mappings(p)
    remap_location_ids(p)
    remap_function_ids(p)
    remap_mapping_ids(p)


def apply_additional_sections(p: Legacy, s: Scanner) -> None:
    """Skip to the memory map sentinel (if any) and apply the map after it."""
    while not is_memory_map_sentinel(s.text) and s.scan():
        pass
    apply_memory_map(p, s)


def _adjacent(m1: Mapping, m2: Mapping) -> bool:
    if m1.file and m2.file and m1.file != m2.file:
        return False
    if m1.build_id and m2.build_id and m1.build_id != m2.build_id:
        return False
    if m1.limit != m2.start:
        return False
    if m1.offset and m2.offset:
        return wrap64(m1.offset + (m1.limit - m1.start)) == m2.offset
    return True


def massage_mappings(p: Legacy) -> None:
    """Merge adjacent pieces of one mapping; move the likely main binary to the front."""
    if len(p.mappings) > 1:
        merged = [p.mappings[0]]
        for m in p.mappings[1:]:
            last = merged[-1]
            if _adjacent(last, m):
                last.limit = m.limit
                last.file = m.file or last.file
                last.build_id = m.build_id or last.build_id
                for loc in p.locations:
                    if loc.mapping is m:
                        loc.mapping = last
                continue
            merged.append(m)
        p.mappings = merged
    for i, m in enumerate(p.mappings):
        file = m.file.replace("(deleted)", "").strip()
        if not file or _LIB.search(file) or file[0] == "[":
            continue
        p.mappings[0], p.mappings[i] = p.mappings[i], p.mappings[0]
        break


def remap_location_ids(p: Legacy) -> None:
    """Keep the locations samples use, in order of first use."""
    seen: set[int] = set()
    locations: list[Location] = []
    for smp in p.samples:
        for loc in smp.locations:
            if id(loc) not in seen:
                seen.add(id(loc))
                locations.append(loc)
    p.locations = locations


def remap_function_ids(p: Legacy) -> None:
    seen: set[int] = set()
    functions = []
    for loc in p.locations:
        for fn, _ in loc.lines:
            if id(fn) not in seen:
                seen.add(id(fn))
                functions.append(fn)
    p.functions = functions


def remap_mapping_ids(p: Legacy) -> None:
    """Attach every address to a mapping (Go's remapMappingIDs, heuristics included)."""
    maps = p.mappings
    hugepage = bool(maps) and maps[0].file.startswith("/anon_hugepage")
    if hugepage and len(maps) > 1 and maps[0].limit == maps[1].start:
        p.mappings = maps = maps[1:]
    if maps and wrap64(maps[0].start - maps[0].offset) == _MAIN_START:
        maps[0].start, maps[0].offset = _MAIN_START, 0
    fake: Mapping | None = None
    for loc in p.locations:
        a = loc.address
        if loc.mapping is not None or a == 0:
            continue
        loc.mapping = _covering(maps, a)
        if loc.mapping is None:
            if fake is None:
                fake = Mapping(0, (1 << 64) - 1)
                p.mappings.append(fake)
            loc.mapping = fake


def _covering(maps: list[Mapping], a: int) -> Mapping | None:
    for m in maps:
        if m.start <= a < m.limit:
            return m
    # Legacy handlers sometimes dropped the first part of a mapping split in two ranges.
    for m in maps:
        if m.offset and wrap64(m.start - m.offset) <= a < m.start:
            m.start, m.offset = wrap64(m.start - m.offset), 0
            return m
    return None
