"""profilelab: continuous-profiling analysis with DuckDB, Polars and notebooks."""

from profilelab.api import load
from profilelab.errors import FormatError, ProfileLabError, QueryError, StoreError, ValidationError
from profilelab.model.profile import Profile

__all__ = [
    "FormatError",
    "Profile",
    "ProfileLabError",
    "QueryError",
    "StoreError",
    "ValidationError",
    "load",
]
__version__ = "0.1.0"
