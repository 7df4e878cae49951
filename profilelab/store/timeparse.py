"""Times and durations: defined once in :mod:`profilelab.core.timeparse` (re-exported here)."""

from profilelab.core.timeparse import format_ns, parse_duration, parse_time

__all__ = ["format_ns", "parse_duration", "parse_time"]
