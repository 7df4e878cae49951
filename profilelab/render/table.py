"""Notebook tables with units: ``table(df)`` shows "185 ms" and "11.4%" where Polars shows
``185000000`` and ``0.1138``; the numbers themselves stay one attribute away.

Units come from ``units`` (column -> unit) or from the column name:

* ``time_ns``, ``start_ns``, ``end_ns``, ``fired_ns``, ``*_at_ns``: UTC times;
* other ``*_ns`` and ``duration``: nanoseconds; ``*_bytes``: bytes;
* ``*_pct`` (pprof's ``flat_pct``, ``cum_pct``): already percentages;
* ``*share*``, ``ci_low``, ``ci_high``: fractions, shown as percentages (``delta_*share``
  columns as percentage points);
* ``*share*``, ``*fraction*``: fractions as percentages too;
* value columns (``flat``, ``cum``, ``self``, ``total``, ``value``, ``per_count``, ``first``,
  ``last``, ``mean``, ``slope`` and their ``base_``/``new_``/``delta_``/``slow_``/``median_``/
  ``local_`` forms): the ``unit`` argument (a profile's sample unit, e.g. ``nanoseconds``);
  ``*_per_hour`` columns get that unit per hour.

``Table.raw`` is the Polars frame unchanged; every cell of the HTML carries its raw value in
``data-value``, and ``Table.sort(column)`` orders by the raw value, not the text.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

#: Unit name -> (scale, suffix) from the largest down; values below the last scale use it.
SCALES: dict[str, list[tuple[float, str]]] = {
    "nanoseconds": [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1, "ns")],
    "microseconds": [(1e6, "s"), (1e3, "ms"), (1, "µs")],
    "milliseconds": [(1e3, "s"), (1, "ms")],
    "seconds": [(1, "s")],
    "bytes": [(2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B")],
}
_VALUE = re.compile(
    r"^((base|new|delta|slow|median|local|self|total|mean)_)?"
    r"(flat|cum|self|total|value|per_count|self_value|local_value|total_value|first|last|mean|slope)"
    r"(_per_span|_per_hour)?$"
)
_PERCENT_POINTS = re.compile(r"^delta_\w*share$")
#: nanoseconds since the Unix epoch, shown as UTC times
_TIMESTAMPS = {"time_ns", "start_ns", "end_ns", "fired_ns"}


def human(value: float | None, unit: str) -> str:
    """``value`` in ``unit`` as text with 3 significant digits (``185 ms``, ``1.5 MiB``,
    ``11.4%``); ``share`` is a fraction, ``percent`` already a percentage, ``pp`` a signed
    fraction in percentage points."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = float(value)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if unit == "timestamp":
        import datetime as dt

        when = dt.datetime.fromtimestamp(v / 1e9, tz=dt.UTC)
        return when.strftime("%Y-%m-%d %H:%M:%S UTC")
    if unit == "share":
        return f"{100 * v:.1f}%"
    if unit == "percent":
        return f"{v:.1f}%"
    if unit == "pp":
        return f"{100 * v:+.1f} pp"
    base, per = unit.split("/", 1) if "/" in unit else (unit, "")
    if per:
        return f"{human(v, base)}/{per}"
    scales = SCALES.get(unit)
    if scales:
        for scale, suffix in scales:
            if abs(v) >= scale:
                return f"{v / scale:.3g} {suffix}"
        return f"0 {scales[-1][1]}"
    text = f"{v:,.0f}" if v == int(v) or abs(v) >= 100 else f"{v:.3g}"
    return text if unit in ("", "count") else f"{text} {unit}"


def column_unit(name: str, dtype: pl.DataType, unit: str) -> str | None:
    """The unit :func:`table` gives column ``name`` (None: shown as is)."""
    if not dtype.is_numeric():
        return None
    if name in _TIMESTAMPS or name.endswith("_at_ns"):
        return "timestamp"
    if name.endswith("_ns") or name == "duration":
        return "nanoseconds"
    if name.endswith("_bytes"):
        return "bytes"
    if name.endswith("_pct"):
        return "percent"
    if _PERCENT_POINTS.match(name):
        return "pp"
    if "share" in name or "fraction" in name or name in ("ci_low", "ci_high"):
        return "share"
    if _VALUE.match(name):
        return f"{unit}/h" if name.endswith("_per_hour") else unit
    return None


@dataclass(frozen=True)
class Table:
    """A Polars frame shown with units (see the module docstring); ``raw`` is the frame."""

    raw: pl.DataFrame
    units: dict[str, str] = field(default_factory=dict)

    def sort(self, column: str, descending: bool = True) -> Table:
        """The same table ordered by the raw values of ``column``."""
        return Table(self.raw.sort(column, descending=descending, nulls_last=True), self.units)

    def text(self, row: int, column: str) -> str:
        """The cell as displayed."""
        value = self.raw[row, column]
        unit = self.units.get(column)
        if unit is None:
            numeric = self.raw.schema[column].is_numeric()
            return human(value, "") if numeric and value is not None else _plain(value)
        return human(value, unit)

    def __repr__(self) -> str:
        cols = self.raw.columns
        rows = [[self.text(r, c) for c in cols] for r in range(self.raw.height)]
        heads = list(cols)
        widths = [max([len(h), *(len(row[k]) for row in rows)]) for k, h in enumerate(heads)]
        right = [self.raw.schema[c].is_numeric() for c in cols]

        def line(cells: list[str]) -> str:
            padded = zip(cells, widths, right, strict=True)
            return "  ".join(t.rjust(w) if r else t.ljust(w) for t, w, r in padded).rstrip()

        return "\n".join([line(heads), *(line(row) for row in rows)])

    def _repr_html_(self) -> str:
        cols = self.raw.columns
        head = "".join(
            f'<th data-unit="{html.escape(self.units.get(c, ""))}">{html.escape(c)}</th>'
            for c in cols
        )
        body = []
        for r in range(self.raw.height):
            cells = []
            for c in cols:
                value = self.raw[r, c]
                align = "right" if self.raw.schema[c].is_numeric() else "left"
                cells.append(
                    f'<td data-value="{html.escape(_plain(value), quote=True)}" '
                    f'style="text-align:{align}">{html.escape(self.text(r, c))}</td>'
                )
            body.append("<tr>" + "".join(cells) + "</tr>")
        more = f"<caption>{self.raw.height} rows</caption>" if self.raw.height > 20 else ""
        return (
            f'<table class="profilelab-table">{more}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def table(
    df: pl.DataFrame, unit: str = "count", *, units: Mapping[str, str | None] | None = None
) -> Table:
    """``df`` shown with units: ``unit`` is the sample unit of value columns (``flat``,
    ``cum``, ``self``, ...); ``units`` overrides per column (``None`` entries: no unit)."""
    chosen = {
        name: u
        for name, dtype in df.schema.items()
        if (u := column_unit(name, dtype, unit)) is not None
    }
    for name, u in (units or {}).items():
        if name not in df.columns:
            from profilelab.errors import QueryError

            raise QueryError(f"units: no column {name!r} (columns: {', '.join(df.columns)})")
        if u is None:
            chosen.pop(name, None)
        else:
            chosen[name] = u
    return Table(df, chosen)
