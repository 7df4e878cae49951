"""profilelab: continuous-profiling analysis with DuckDB, Polars and notebooks."""

from profilelab.api import load
from profilelab.errors import FormatError, ProfileLabError, QueryError, StoreError, ValidationError
from profilelab.model.profile import Profile
from profilelab.readers.traces import load_traces
from profilelab.store import Store, open_store
from profilelab.traces import SpanJoin, Spans, join_spans, read_exemplars

__all__ = [
    "FormatError",
    "Profile",
    "ProfileLabError",
    "QueryError",
    "SpanJoin",
    "Spans",
    "Store",
    "StoreError",
    "ValidationError",
    "join_spans",
    "load",
    "load_traces",
    "open_store",
    "read_exemplars",
]
__version__ = "0.1.0"
