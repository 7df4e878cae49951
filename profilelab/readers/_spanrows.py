"""What every trace reader shares: id and attribute normalization, and the row collector.

The three trace formats disagree on ids (OTLP bytes or hex, Jaeger short hex, Zipkin 16 or
32 hex digits), on time units (nanoseconds or microseconds) and on attribute types (typed
values, typed tags, strings). Readers hand their spans to :class:`SpanRows`, which turns
them into the canonical ``spans`` columns: lower-case hex ids left-padded to 32 (trace) and
16 (span) digits, Unix nanoseconds, and attributes as ``(key, text)`` pairs sorted by key,
whose text is what Go's OpenTelemetry exporters write when they turn a typed value into a
string (``true``, ``42``, ``0.5``, ``1`` for 1.0, base64 for bytes, compact JSON for lists
and maps). A span that cannot be identified is dropped and reported in ``problems``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from profilelab.model import schema
from profilelab.model.spans import hex_id

SPAN_KINDS = ("internal", "server", "client", "producer", "consumer")
STATUSES = ("unset", "ok", "error")
_ATTRIBUTES = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def attr_text(value: Any) -> str:
    """The text of a typed attribute value, as Go's OpenTelemetry exporters render it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def float_text(value: float) -> str:
    """Shortest positional text that reads back as ``value`` (Go ``FormatFloat(f, 'f', -1)``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(np.format_float_positional(value, trim="-"))


@dataclass
class SpanRows:
    """Collects normalized spans and problems from one input."""

    source: str
    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in schema.SPANS})
    problems: list[tuple[Any, ...]] = field(default_factory=list)

    def problem(
        self,
        trace_id: str | None,
        span_id: str | None,
        problem: str,
        detail: str,
        dropped: bool = False,
    ) -> None:
        self.problems.append((self.source, trace_id, span_id, problem, detail, dropped))

    def add(
        self,
        *,
        trace_id: str | bytes | None,
        span_id: str | bytes | None,
        parent_span_id: str | bytes | None,
        name: Any,
        kind: str,
        service: Any,
        start_ns: int | None,
        end_ns: int | None,
        status: str,
        attributes: Iterable[tuple[str, str]],
    ) -> None:
        """Add one span; ids are normalized here, and a span without valid ids is dropped."""
        tid, why_t = hex_id(trace_id, 32)
        sid, why_s = hex_id(span_id, 16)
        shown_t = tid or (None if trace_id is None else _show(trace_id))
        shown_s = sid or (None if span_id is None else _show(span_id))
        if why_t or why_s:
            what = "trace_id" if why_t else "span_id"
            self.problem(shown_t, shown_s, f"bad_{what}", f"{what} {why_t or why_s}", True)
            return
        pid, why_p = hex_id(parent_span_id, 16)
        if why_p and why_p != "missing":
            self.problem(tid, sid, "bad_parent_span_id", f"parent_span_id {why_p}; kept as root")
        start_ns = self._time(tid, sid, start_ns, "start")
        end_ns = self._time(tid, sid, end_ns, "end")
        self.columns["trace_id"].append(tid)
        self.columns["span_id"].append(sid)
        self.columns["parent_span_id"].append(pid)
        self.columns["name"].append("" if name is None else str(name))
        self.columns["kind"].append(kind)
        self.columns["service"].append(str(service) if service else None)
        self.columns["start_ns"].append(start_ns)
        self.columns["end_ns"].append(end_ns)
        self.columns["status"].append(status)
        self.columns["attributes"].append(self._attributes(tid, sid, attributes))

    def frame(self) -> pl.DataFrame:
        """The spans collected so far as a ``spans`` table. The attributes (lists of key/value
        structs) are converted by Arrow in C: Polars builds such rows one by one."""
        columns = {c: v for c, v in self.columns.items() if c != "attributes"}
        spans = pl.DataFrame(columns, schema={c: schema.SPANS[c] for c in columns})
        attributes = pa.array(self.columns["attributes"], type=_ATTRIBUTES)
        return spans.with_columns(
            pl.Series("attributes", attributes).cast(schema.SPANS["attributes"])
        ).select(list(schema.SPANS))

    def _time(self, tid: str | None, sid: str | None, ns: int | None, what: str) -> int | None:
        """A time in int64 nanoseconds, or None (reported) when it does not fit."""
        if ns is None or _INT64_MIN <= ns <= _INT64_MAX:
            return ns
        self.problem(tid, sid, "bad_time", f"{what} time {ns} ns does not fit 64 bits; dropped")
        return None

    def _attributes(
        self, tid: str | None, sid: str | None, attributes: Iterable[tuple[str, str]]
    ) -> list[dict[str, str]]:
        seen: dict[str, str] = {}
        for key, value in attributes:
            if key in seen:
                if seen[key] != value:
                    self.problem(
                        tid, sid, "duplicate_attribute", f"{key}: kept {seen[key]!r}, not {value!r}"
                    )
                continue
            seen[key] = value
        return [{"key": k, "value": seen[k]} for k in sorted(seen)]


def _show(value: str | bytes) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def status_from_tags(tags: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Span status from Jaeger/Zipkin tags, and the tags left once status tags are consumed.

    OpenTelemetry's Jaeger and Zipkin exporters write ``otel.status_code`` (``OK``/``ERROR``)
    and an ``error`` tag (``true``, or the status message); a status message moves to
    ``otel.status_description``, which is where the OTLP reader puts ``Status.message``.
    """
    rest = dict(tags)
    code = rest.pop("otel.status_code", "").upper()
    error = rest.pop("error", None)
    if error is not None and error.lower() not in ("", "true", "false"):
        rest.setdefault("otel.status_description", error)
    if code == "ERROR" or (error is not None and error.lower() != "false"):
        return "error", rest
    if code == "OK":
        return "ok", rest
    return "unset", rest


def kind_text(value: str | None) -> str:
    """Canonical span kind; unknown and unspecified kinds are ``internal`` (OTel's default)."""
    text = (value or "").lower().removeprefix("span_kind_")
    return text if text in SPAN_KINDS else "internal"
