"""profilelab: continuous-profiling analysis with DuckDB, Polars and notebooks."""

from profilelab.api import load
from profilelab.errors import FormatError, ProfileLabError, QueryError, StoreError, ValidationError
from profilelab.model.profile import Profile
from profilelab.store import Store, open_store

__all__ = [
    "FormatError",
    "Profile",
    "ProfileLabError",
    "QueryError",
    "Store",
    "StoreError",
    "ValidationError",
    "load",
    "open_store",
]
__version__ = "0.1.0"
