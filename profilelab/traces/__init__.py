"""Trace-to-profile joins: spans from traces, samples attributed to spans, span analyses.

::

    spans = profilelab.load_traces("traces.json")        # OTLP, Jaeger or Zipkin
    joined = profilelab.join_spans(profilelab.load("cpu.pb.gz"), spans)
    print(joined.coverage.summary())
    slow = joined.slowest("GET /order", n=10)           # a Profile
"""

from profilelab.model.spans import Spans
from profilelab.traces.analysis import CohortDiff
from profilelab.traces.coverage import Coverage
from profilelab.traces.exemplars import exemplar_spans, read_exemplars
from profilelab.traces.spanjoin import SpanJoin, join_spans

__all__ = [
    "CohortDiff",
    "Coverage",
    "SpanJoin",
    "Spans",
    "exemplar_spans",
    "join_spans",
    "read_exemplars",
]
