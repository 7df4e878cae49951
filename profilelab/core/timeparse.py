"""Times and durations as people type them: ``-1h``, ``now-30m``, RFC 3339, dates, Unix times.

All results are Unix nanoseconds (int). Durations use Prometheus units (``ms s m h d w y``)
and may combine them (``1h30m``). A bare number is a Unix time whose unit follows from its
magnitude: seconds below 1e11, milliseconds below 1e14, microseconds below 1e17, else
nanoseconds (so 1700000000, 1700000000000 and 1700000000000000000 are the same instant).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

from profilelab.errors import QueryError

#: A time as the store's entry points take it (see :func:`parse_time`).
TimeArg = str | int | float | None

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
    "y": 365 * 86400 * 1_000_000_000,
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(text: str) -> int:
    """A duration such as ``90s``, ``1h30m`` or ``7d`` in nanoseconds (must be positive)."""
    s = text.strip()
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m:
            raise QueryError(
                f"bad duration {text!r} at position {pos}: expected a number and a unit "
                "(ms, s, m, h, d, w, y), e.g. 1h30m"
            )
        total += float(m.group(1)) * _UNITS_NS[m.group(2)]
        pos = m.end()
    if not s or total <= 0:
        raise QueryError(f"bad duration {text!r}: expected a positive duration such as 5m")
    return int(total)


def parse_time(text: str | int | float | datetime | None, now_ns: int | None = None) -> int | None:
    """A point in time in Unix nanoseconds; None stays None (an open end).

    Accepts ``now``, ``-1h`` / ``now-1h`` (relative to now), RFC 3339 (``2024-05-01T10:00:00Z``;
    no offset means UTC), a date (``2024-05-01``, midnight UTC), a Unix time (see the module
    docstring) or a datetime (naive means UTC).
    """
    if text is None:
        return None
    now = time.time_ns() if now_ns is None else now_ns
    if isinstance(text, datetime):
        return _from_datetime(text)
    if isinstance(text, int | float):
        return _from_unix(text)
    s = text.strip()
    if s == "now":
        return now
    rel = s[3:] if s.startswith("now") else s
    if rel[:1] in "+-" and rel[1:2].isdigit():
        delta = parse_duration(rel[1:])
        return now - delta if rel[0] == "-" else now + delta
    if _NUMBER.fullmatch(s):
        return _from_unix(int(s) if s.isdigit() else float(s))
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            return _from_datetime(datetime(d.year, d.month, d.day, tzinfo=UTC))
        return _from_datetime(datetime.fromisoformat(s.replace("Z", "+00:00")))
    except ValueError:
        raise QueryError(
            f"bad time {text!r}: expected now, -1h, now-30m, RFC 3339 "
            "(2024-05-01T10:00:00Z), a date (2024-05-01) or a Unix time"
        ) from None


def _from_datetime(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _from_unix(value: int | float) -> int:
    """Scale a Unix time to nanoseconds by its magnitude (integers stay exact)."""
    for limit, scale in ((1e11, 1_000_000_000), (1e14, 1_000_000), (1e17, 1_000)):
        if value < limit:
            return value * scale if isinstance(value, int) else int(value * scale)
    return int(value)


def format_ns(ns: int | None) -> str:
    """RFC 3339 in UTC with second precision (``-`` for None)."""
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
