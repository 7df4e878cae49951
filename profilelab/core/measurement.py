"""Units and number formatting exactly as ``go tool pprof`` does them.

pprof knows three families of units (memory, time, Google compute units). A unit string is
"sniffed" case-insensitively, with a trailing ``s`` dropped when it is longer than two
characters (``nanoseconds`` -> ``nanosecond``). :func:`scale` converts a value between two
units of one family; ``minimum`` / ``auto`` pick the largest unit that keeps the value >= 1;
an unknown target unit converts to the family's default unit (bytes, seconds, GCU); a value
whose unit belongs to no family is returned unchanged with the target unit as its label
(empty for ``count``, ``sample``, ``unit``, ``minimum`` and ``auto``).

Reports print values with :func:`scaled_label` (``%.2f`` with a ``.00`` suffix removed), so
``scale(v, unit, unit)`` of a known unit prints exact integers: that is how the golden tests
compare integers with pprof (``-unit=<sample unit>``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class _Unit:
    name: str  # canonical name, printed after the value
    aliases: tuple[str, ...]
    factor: float  # value of one unit in the family's base unit


@dataclass(frozen=True)
class _Family:
    default: _Unit
    units: tuple[_Unit, ...]

    def sniff(self, unit: str) -> _Unit | None:
        unit = unit.lower()
        if len(unit) > 2 and unit.endswith("s"):
            unit = unit[:-1]
        for u in self.units:
            if unit in u.aliases:
                return u
        return None

    def auto_scale(self, value: float) -> tuple[float, str] | None:
        best: _Unit | None = None
        for u in self.units:
            if (best is None or u.factor >= best.factor) and value / u.factor >= 1.0:
                best = u
        return None if best is None else (value / best.factor, best.name)

    def convert(self, value: int, from_unit: str, to_unit: str) -> tuple[float, str] | None:
        src = self.sniff(from_unit)
        if src is None:
            return None
        v = float(value) * src.factor
        if to_unit in ("minimum", "auto"):
            scaled = self.auto_scale(v)
            if scaled is not None:
                return scaled
            return v / self.default.factor, self.default.name
        dst = self.sniff(to_unit)
        if dst is None:
            return v / self.default.factor, self.default.name
        return v / dst.factor, dst.name


_BYTES = _Unit("B", ("b", "byte"), 1.0)
_SECOND = 1e9
_FAMILIES = (
    _Family(
        _BYTES,
        (
            _BYTES,
            _Unit("kB", ("kb", "kbyte", "kilobyte"), float(1 << 10)),
            _Unit("MB", ("mb", "mbyte", "megabyte"), float(1 << 20)),
            _Unit("GB", ("gb", "gbyte", "gigabyte"), float(1 << 30)),
            _Unit("TB", ("tb", "tbyte", "terabyte"), float(1 << 40)),
            _Unit("PB", ("pb", "pbyte", "petabyte"), float(1 << 50)),
        ),
    ),
    _Family(
        _Unit("s", (), _SECOND),
        (
            _Unit("ns", ("ns", "nanosecond"), 1.0),
            _Unit("us", ("μs", "us", "microsecond"), 1e3),
            _Unit("ms", ("ms", "millisecond"), 1e6),
            _Unit("s", ("s", "sec", "second"), _SECOND),
            _Unit("hrs", ("hour", "hr"), 3600 * _SECOND),
        ),
    ),
    _Family(
        _Unit("GCU", (), 1.0),
        (
            _Unit("n*GCU", ("nanogcu",), 1e-9),
            _Unit("u*GCU", ("microgcu",), 1e-6),
            _Unit("m*GCU", ("milligcu",), 1e-3),
            _Unit("GCU", ("gcu",), 1.0),
            _Unit("k*GCU", ("kilogcu",), 1e3),
            _Unit("M*GCU", ("megagcu",), 1e6),
            _Unit("G*GCU", ("gigagcu",), 1e9),
            _Unit("T*GCU", ("teragcu",), 1e12),
            _Unit("P*GCU", ("petagcu",), 1e15),
        ),
    ),
)

_UNINTERESTING = frozenset({"count", "sample", "unit", "minimum", "auto"})


def scale(value: int, from_unit: str, to_unit: str) -> tuple[float, str]:
    """Convert ``value`` from ``from_unit`` to ``to_unit``: (scaled value, unit label)."""
    if to_unit not in ("minimum", "auto"):  # a fixed unit: the factors are looked up once
        from_factor, to_factor, unit = linear(from_unit, to_unit)
        return float(value) * from_factor / to_factor, unit
    if value < 0:
        v, u = scale(-value, from_unit, to_unit)
        return -v, u
    for family in _FAMILIES:
        converted = family.convert(value, from_unit, to_unit)
        if converted is not None:
            return converted
    return float(value), "" if to_unit in _UNINTERESTING else to_unit


@functools.cache
def linear(from_unit: str, to_unit: str) -> tuple[float, float, str]:
    """(from factor, to factor, label) with ``scale(v) == (v * from / to, label)``.

    Only for concrete target units (not ``minimum``/``auto``); the two multiplications are
    applied in pprof's order so that vectorized results equal :func:`scale` bit for bit.
    Cached: :func:`scale` asks for the same pair for every value a report prints.
    """
    for family in _FAMILIES:
        src = family.sniff(from_unit)
        if src is None:
            continue
        dst = family.sniff(to_unit) or family.default
        return src.factor, dst.factor, dst.name
    return 1.0, 1.0, "" if to_unit in _UNINTERESTING else to_unit


def same_family(a: str, b: str) -> bool:
    """Whether two unit strings can be converted into each other."""
    return a == b or any(f.sniff(a) is not None and f.sniff(b) is not None for f in _FAMILIES)


def go_fixed2(v: float) -> str:
    """Go's ``%.2f`` (Python's ``%.2f`` rounds the same way: from the exact binary value)."""
    return f"{v:.2f}"


def scaled_label(value: int, from_unit: str, to_unit: str) -> str:
    """pprof's ScaledLabel: the scaled value with 2 decimals (``.00`` dropped) and its unit."""
    v, u = scale(value, from_unit, to_unit)
    sv = go_fixed2(v)
    if sv.endswith(".00"):
        sv = sv[:-3]
    if sv in ("0", "-0"):
        return "0"
    return sv + u


def label(value: int, unit: str) -> str:
    """pprof's Label: a value auto-scaled to a readable unit (``1.50MB``, ``2.10s``)."""
    return scaled_label(value, unit, "auto")


def percentage(value: int, total: int) -> str:
    """pprof's Percentage: ``" 12.34%"``, ``"  100%"``, ``"0.045%"`` (at least 2 digits)."""
    ratio = abs(value / total) * 100 if total != 0 else 0.0
    if 99.95 <= ratio <= 100.05:
        return "  100%"
    if ratio >= 1.0:
        return f"{ratio:5.2f}%"
    # Go's %5.2g and Python's agree (two significant digits, 2-digit exponents).
    return f"{ratio:5.2g}%"


def common_unit(units: list[str]) -> str:
    """The finest of compatible units (pprof's CommonValueType); the first when all equal."""
    best = units[0]
    for u in units[1:]:
        ratio, _ = scale(1, u, best)
        if ratio < 1:
            best = u
    return best


def go_round(x: float) -> int:
    """Go's math.Round: half away from zero (Python's round() is half to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))
