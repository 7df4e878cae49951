"""The call graph ``Profile.graph()`` returns (built by ``ops.report_graph``)."""

from __future__ import annotations

from typing import NamedTuple

import polars as pl


class GraphTables(NamedTuple):
    """A call graph as tables: ``nodes`` in pprof's order, ``edges`` between them."""

    nodes: pl.DataFrame  # node (1, 2, ... as in the DOT), name, flat, flat_pct, cum, cum_pct
    edges: pl.DataFrame  # src, dest (node numbers), src_name, dest_name, weight, inline, residual
