"""SpanJoin: a profile joined to spans, and the questions asked of that join.

``join_spans(profile, spans)`` attributes every sample (:mod:`profilelab.traces.join`) and
answers: which samples belong to this span, these spans, the slowest spans of an endpoint;
how do slow and typical requests differ; how much of each span is CPU. Profiles returned
are ordinary :class:`~profilelab.model.profile.Profile` objects restricted to the chosen
samples (all sample types kept), ready for every other profilelab view.

A span's profile is *inclusive* by default: its own samples and those of its descendants
in the trace tree (other services' too, when their profiles are loaded), each sample
counted once however many chosen spans contain it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.model.spans import Spans
from profilelab.model.spantree import covered_rows, subtree_sums
from profilelab.model.sql import run_sql
from profilelab.traces import analysis
from profilelab.traces.coverage import Coverage, coverage
from profilelab.traces.functions import pick_profiles, restrict
from profilelab.traces.join import Refine, attribute

if TYPE_CHECKING:
    import duckdb

    from profilelab.traces.analysis import CohortDiff


class SpanJoin:
    """Samples of ``profile`` attributed to spans of ``spans``."""

    def __init__(self, profile: Profile, spans: Spans, refine: Refine = "auto") -> None:
        self.profile = profile
        self.spans = spans
        self.refine = refine
        #: one row per sample row: profile_id, sample_index, span_row, labelled_row, method,
        #: miss, time_outside (see profilelab.traces.join.ATTRIBUTION)
        self.attribution: pl.DataFrame = attribute(profile, spans, refine)

    # ---- counts -------------------------------------------------------------------------
    @cached_property
    def self_counts(self) -> np.ndarray:
        """Per span row: how many input samples are attributed to the span itself."""
        default = self.profile.profiles.filter(pl.col("is_default")).select("profile_id")
        rows = self.attribution.join(default, on="profile_id")["span_row"].drop_nulls()
        return np.bincount(rows.to_numpy(), minlength=self.spans.spans.height).astype(np.int64)

    @cached_property
    def coverage(self) -> Coverage:
        """How many labelled samples found their span, and how many spans have samples."""
        return coverage(self.profile, self.spans, self.attribution, self.self_counts)

    def self_values(self, sample_type: str | None = None) -> np.ndarray:
        """Per span row: the summed value of its own samples in one sample type."""
        ids, _, _ = pick_profiles(self.profile, sample_type)
        rows = self.attribution.filter(
            pl.col("profile_id").is_in(ids) & pl.col("span_row").is_not_null()
        ).join(
            self.profile.samples.select("profile_id", "sample_index", "value"),
            on=["profile_id", "sample_index"],
        )
        return np.bincount(
            rows["span_row"].to_numpy(),
            weights=rows["value"].to_numpy().astype(np.float64),
            minlength=self.spans.spans.height,
        ).astype(np.int64)

    def span_table(self, sample_type: str | None = None) -> pl.DataFrame:
        """Spans with duration and sample counts and values.

        ``samples``: input samples attributed to the span itself (``local_samples``: and to
        its local descendants); ``self_value``: their
        value in ``sample_type`` (default cpu, else the default type); ``local_value``: the
        span and its local descendants (same process: what bounds CPU by wall time);
        ``total_value``: the span and all its descendants.
        """
        values = self.self_values(sample_type)
        n = self.spans.nodes
        local = subtree_sums(values, n["lpre"].to_numpy(), n["lpost"].to_numpy())
        total = subtree_sums(values, n["pre"].to_numpy(), n["post"].to_numpy())
        lpre, lpost = n["lpre"].to_numpy(), n["lpost"].to_numpy()
        return self.spans.with_duration().with_columns(
            pl.Series("samples", self.self_counts),
            pl.Series("local_samples", subtree_sums(self.self_counts, lpre, lpost)),
            pl.Series("self_value", values),
            pl.Series("local_value", local),
            pl.Series("total_value", total),
        )

    # ---- choosing spans ---------------------------------------------------------------------
    def rows(
        self, name: str | None = None, service: str | None = None, trace_id: str | None = None
    ) -> list[int]:
        """Rows of the spans with this name / service / trace (all given must match)."""
        cond = pl.lit(True)
        if name is not None:
            cond &= pl.col("name") == name
        if service is not None:
            cond &= pl.col("service") == service
        if trace_id is not None:
            from profilelab.model.spans import hex_id

            cond &= pl.col("trace_id") == (hex_id(trace_id, 32)[0] or "")
        return self.spans.with_duration().filter(cond)["span_row"].cast(pl.Int64).to_list()

    def slowest_spans(
        self, name: str | None = None, n: int = 10, service: str | None = None
    ) -> pl.DataFrame:
        """The ``n`` longest spans (of ``name``/``service``), longest first."""
        table = self.span_table().filter(pl.col("span_row").is_in(self.rows(name, service)))
        return table.sort(["duration_ns", "span_row"], descending=[True, False]).head(n)

    # ---- profiles -----------------------------------------------------------------------------
    def profile_of(self, rows: Sequence[int], inclusive: bool = True) -> Profile:
        """The profile of the samples attributed to span ``rows`` (and their descendants)."""
        rows_arr = np.asarray(list(rows), dtype=np.int64)
        if inclusive and len(rows_arr):
            n = self.spans.nodes
            mask = covered_rows(rows_arr, n["pre"].to_numpy(), n["post"].to_numpy())
            rows_arr = np.nonzero(mask)[0]
        keys = self.attribution.filter(pl.col("span_row").is_in(rows_arr.tolist()))
        return restrict(self.profile, keys)

    def span_profile(
        self,
        span_id: str,
        trace_id: str | None = None,
        service: str | None = None,
        inclusive: bool = True,
    ) -> Profile:
        """The profile of one span (QueryError when it is unknown or ambiguous)."""
        return self.profile_of([self.spans.find(span_id, trace_id, service)], inclusive)

    def name_profile(
        self, name: str, service: str | None = None, inclusive: bool = True
    ) -> Profile:
        """The profile of every span called ``name`` (of ``service``)."""
        rows = self.rows(name, service)
        if not rows:
            raise QueryError(f"no span named {name!r}" + (f" in {service}" if service else ""))
        return self.profile_of(rows, inclusive)

    def slowest(
        self,
        name: str | None = None,
        n: int = 10,
        service: str | None = None,
        inclusive: bool = True,
    ) -> Profile:
        """The profile of the ``n`` slowest spans called ``name`` (an endpoint's tail)."""
        return self.profile_of(
            self.slowest_spans(name, n, service)["span_row"].to_list(), inclusive
        )

    # ---- analyses -------------------------------------------------------------------------------
    def cohort_diff(
        self, name: str, n: int = 10, service: str | None = None, sample_type: str | None = None
    ) -> CohortDiff:
        """Slowest ``n`` spans of ``name`` versus the ``n`` spans nearest its median."""
        return analysis.cohort_diff(self, name, n, service, sample_type)

    def cpu_vs_wall(
        self, cores: float = 1.0, sample_type: str | None = None, by_span: bool = False
    ) -> pl.DataFrame:
        """Per span name (or per span): on-CPU time from samples against wall duration."""
        return analysis.cpu_vs_wall(self, cores, sample_type, by_span)

    def exemplar_profile(self, exemplars: pl.DataFrame, inclusive: bool = True) -> Profile:
        """The profile of the spans that exemplars point to (see ``read_exemplars``)."""
        from profilelab.traces.exemplars import exemplar_spans

        rows = exemplar_spans(exemplars, self.spans)["span_row"].drop_nulls().unique()
        return self.profile_of(rows.to_list(), inclusive)

    # ---- SQL ----------------------------------------------------------------------------------
    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """DuckDB with the profile tables, the span tables and ``span_samples`` registered.

        ``span_samples`` is the attribution: one row per sample row with its ``span_row``
        (the row number of ``span_tree``), ``method`` and ``miss``.
        """
        con = self.spans.connect(self.profile.connect(con))
        con.register("span_samples", self.attribution.to_arrow())
        return con

    def sql(self, query: str) -> pl.DataFrame:
        """Run a DuckDB query over the joined tables and return a Polars frame."""
        return run_sql(self.connect, query)

    def __repr__(self) -> str:
        c = self.coverage
        return (
            f"<SpanJoin {c.matched_samples}/{c.labelled_samples} labelled samples matched, "
            f"{c.spans_with_samples}/{c.total_spans} spans with samples>"
        )


def join_spans(profile: Profile, spans: Spans, refine: Refine = "auto") -> SpanJoin:
    """Attribute the samples of ``profile`` to ``spans`` (see :mod:`profilelab.traces.join`)."""
    return SpanJoin(profile, spans, refine)
