"""Output of reports: pprof-compatible text, CSV and JSON.

:func:`report` renders any of the four reports (top, peek, tags, traces) of a profile in
one of the formats; the text is byte-identical to ``go tool pprof`` given the same options.
"""

from profilelab.render.report import report

__all__ = ["report"]
