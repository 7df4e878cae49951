"""Unit conversion (``core.measurement``): a fixed target unit takes the factors of
``linear`` once, and gives what converting within the unit's family gives, bit for bit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from profilelab.core import measurement
from profilelab.core.measurement import _FAMILIES, _UNINTERESTING

UNITS = ["nanoseconds", "ns", "us", "ms", "s", "seconds", "hours", "bytes", "kB", "MB", "GB"]
UNITS += ["count", "samples", "gcu", "milligcu", "widgets"]


def _by_family(value: int, from_unit: str, to_unit: str) -> tuple[float, str]:
    """The conversion written out: by the first family that knows ``from_unit``, of the
    magnitude, then the sign."""
    unknown = (float(abs(value)), "" if to_unit in _UNINTERESTING else to_unit)
    found = (f.convert(abs(value), from_unit, to_unit) for f in _FAMILIES)
    v, unit = next((c for c in found if c is not None), unknown)
    return (-v if value < 0 else v), unit


@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from(UNITS),
    st.sampled_from(UNITS),
)
def test_a_fixed_unit_scales_as_its_family_converts(value: int, a: str, b: str) -> None:
    assert measurement.scale(value, a, b) == _by_family(value, a, b)


def test_scaled_labels() -> None:
    assert measurement.scaled_label(1_500_000, "nanoseconds", "ms") == "1.50ms"
    assert measurement.scaled_label(-2_000_000, "nanoseconds", "ms") == "-2ms"
    assert measurement.scaled_label(3 << 20, "bytes", "kB") == "3072kB"
    assert measurement.scaled_label(7, "count", "count") == "7"
    assert measurement.scaled_label(7, "widgets", "widgets") == "7widgets"
    assert measurement.scaled_label(1_500_000, "nanoseconds", "minimum") == "1.50ms"
