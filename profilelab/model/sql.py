"""Running DuckDB SQL over registered tables: one place for the connection and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from profilelab.errors import QueryError

if TYPE_CHECKING:
    import duckdb


def run_sql(connect: Callable[[], duckdb.DuckDBPyConnection], query: str) -> pl.DataFrame:
    """Open a connection with ``connect()``, run ``query``, return Polars; close it always.

    A DuckDB error (syntax, unknown table or column, type) becomes a QueryError.
    """
    import duckdb

    con = connect()
    try:
        return con.sql(query).pl()
    except duckdb.Error as exc:
        raise QueryError(f"SQL failed: {exc}") from exc
    finally:
        con.close()
