"""profilelab: continuous-profiling analysis with DuckDB, Polars and notebooks.

The public names are imported on first use (PEP 562), so that ``import profilelab`` and
the command line's start-up (``profilelab --help``) do not pay for Polars, Arrow and the
readers until something is loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from profilelab._reporting import Reports as _Reports
from profilelab._version import __version__ as __version__
from profilelab.errors import FormatError, ProfileLabError, QueryError, StoreError, ValidationError
from profilelab.model import reporting as _reporting_seam

if TYPE_CHECKING:
    from profilelab.api import load
    from profilelab.model.profile import Profile
    from profilelab.readers.traces import load_traces
    from profilelab.render.table import Table, table
    from profilelab.store import Store, open_store
    from profilelab.traces import SpanJoin, Spans, join_spans, read_exemplars

#: Where each lazily imported public name lives.
_LAZY = {
    "load": "profilelab.api",
    "Profile": "profilelab.model.profile",
    "load_traces": "profilelab.readers.traces",
    "Store": "profilelab.store",
    "open_store": "profilelab.store",
    "SpanJoin": "profilelab.traces",
    "Spans": "profilelab.traces",
    "join_spans": "profilelab.traces",
    "read_exemplars": "profilelab.traces",
    "Table": "profilelab.render.table",
    "table": "profilelab.render.table",
}

__all__ = [
    "FormatError",
    "Profile",
    "ProfileLabError",
    "QueryError",
    "SpanJoin",
    "Spans",
    "Store",
    "StoreError",
    "Table",
    "ValidationError",
    "join_spans",
    "load",
    "load_traces",
    "open_store",
    "read_exemplars",
    "table",
]

# Profile.top() and the other report methods call down into ops through this seam
# (model/reporting.py): the model may not import the layers above it.
_reporting_seam.install(_Reports())


def __getattr__(name: str) -> Any:
    """A public name (imported now, then cached), or a submodule (``profilelab.store``)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
