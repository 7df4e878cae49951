"""Profile selectors: defined once in :mod:`profilelab.core.selector` (re-exported here)."""

from profilelab.core.selector import Matcher, Selector, parse

__all__ = ["Matcher", "Selector", "parse"]
