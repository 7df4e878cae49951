"""Renderers: documents and pictures made from reports and views.

:func:`report` renders any of the four pprof reports (top, peek, tags, traces) of a profile
as pprof-compatible text (byte-identical to ``go tool pprof`` given the same options), CSV or
JSON; ``flame_html`` writes self-contained flame graph pages; ``trends`` builds plotly figures.
"""

from profilelab.render.report import report

__all__ = ["report"]
