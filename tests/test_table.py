"""profilelab.table: notebook tables with units, raw values one attribute away."""

from __future__ import annotations

import polars as pl
import pytest

import profilelab
from profilelab.errors import QueryError
from profilelab.render.table import human


def test_human_units() -> None:
    assert human(185_000_000, "nanoseconds") == "185 ms"
    assert human(20_903_251_699, "nanoseconds") == "20.9 s"
    assert human(9.7e6, "nanoseconds") == "9.7 ms"
    assert human(1536, "bytes") == "1.5 KiB"
    assert human(0.963, "share") == "96.3%"
    assert human(11.3846, "percent") == "11.4%"
    assert human(0.156, "pp") == "+15.6 pp"
    assert human(2**31, "bytes/h") == "2 GiB/h"
    assert human(0, "nanoseconds") == "0 ns"
    assert human(None, "bytes") == "–"
    assert human(12345, "count") == "12,345"
    assert human(1_795_742_084_982_416_000, "timestamp") == "2026-11-27 01:14:44 UTC"
    assert human(float("inf"), "") == "∞" and human(float("-inf"), "nanoseconds") == "−∞"


def test_table_infers_units_from_names_and_keeps_raw_values() -> None:
    df = pl.DataFrame(
        {
            "name": ["a<b>", "c"],
            "flat": [185_000_000, 5_000],
            "flat_pct": [11.38, 0.01],
            "cum_share": [0.96, 0.5],
            "duration_ns": [1_500_000, 2],
            "q_value": [0.0012, 0.5],
        }
    )
    t = profilelab.table(df, "nanoseconds")
    assert t.raw is df
    assert t.units == {
        "flat": "nanoseconds",
        "flat_pct": "percent",
        "cum_share": "share",
        "duration_ns": "nanoseconds",
    }
    text = repr(t)
    assert "185 ms" in text and "11.4%" in text and "96.0%" in text and "1.5 ms" in text
    assert "185000000" not in text and "0.96" not in text
    page = t._repr_html_()
    assert 'data-value="185000000"' in page and ">185 ms</td>" in page
    assert "a&lt;b&gt;" in page and "<b>" not in page  # names are escaped
    assert t.sort("flat", descending=False).raw["name"].to_list() == ["c", "a<b>"]


def test_table_unit_overrides() -> None:
    df = pl.DataFrame({"cpu_ms": [12.5], "flat": [3]})
    t = profilelab.table(df, units={"cpu_ms": "milliseconds", "flat": None})
    assert t.units == {"cpu_ms": "milliseconds"}
    assert t.text(0, "cpu_ms") == "12.5 ms" and t.text(0, "flat") == "3"
    with pytest.raises(QueryError, match="no column 'nope'"):
        profilelab.table(df, units={"nope": "bytes"})
