"""The report nodes' printed names: one Polars expression for all nodes, against pprof's
NodeInfo.PrintableName written per node (``granularity.printable_name``)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from profilelab.ops.granularity import printable_name, printable_names

_TEXT = st.sampled_from(["", "main.f", "a b", "ünï", "/usr/lib/libc.so.6", "bin/", "/", "x:y"])
_NODE = st.tuples(
    st.sampled_from([0, 1, 0x401234, 2**63, 2**64 - 1]),  # n_address (uint64)
    _TEXT,  # n_name
    st.sampled_from([0, 1, 12, -3]),  # n_line
    _TEXT,  # n_file
    _TEXT,  # n_obj
)


def _nodes(rows: list[tuple[int, str, int, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "n_address": pl.UInt64,
            "n_name": pl.Utf8,
            "n_line": pl.Int64,
            "n_file": pl.Utf8,
            "n_obj": pl.Utf8,
        },
        orient="row",
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_NODE, max_size=12))
def test_printable_names_equal_pprofs_name_per_node(rows: list) -> None:
    out = printable_names(_nodes(rows))
    assert out.name == "name"
    assert out.to_list() == [printable_name(*row) for row in rows]


def test_printable_names_join_the_kept_fields_as_pprof_does() -> None:
    rows = [
        (0x401234, "main.f", 12, "f.go", ""),
        (0, "main.g", 0, "", "/bin/app"),
        (0, "", 0, "", "/usr/lib/libc.so.6"),
        (0, "", 0, "", ""),
        (0, "", 0, "g.go", ""),
    ]
    assert printable_names(_nodes(rows)).to_list() == [
        "0000000000401234 main.f f.go:12",
        "main.g",
        "[libc.so.6]",
        "<unknown>",
        "g.go",
    ]
