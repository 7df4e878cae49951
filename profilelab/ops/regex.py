"""Regular expressions as pprof applies them: defined once in :mod:`profilelab.core.regex`."""

from profilelab.core.regex import check_regex, matches, matches_expr

__all__ = ["check_regex", "matches", "matches_expr"]
