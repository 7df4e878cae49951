"""Times and durations: defined once in :mod:`profilelab.core.timeparse` (re-exported here)."""

from profilelab.core.timeparse import format_ns, parse_duration, parse_time

__all__ = ["TimeArg", "format_ns", "parse_duration", "parse_time"]

#: A time as the store's entry points take it (see :func:`parse_time`).
TimeArg = str | int | float | None
