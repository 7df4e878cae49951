"""Folded ("collapsed") stacks: Brendan Gregg's ``root;caller;leaf 123`` lines.

One line per sample: frame names from the root to the leaf separated by ``;``, then
whitespace and a non-negative integer count. The count is the last whitespace-separated
token, so names may contain spaces (``func (file.go:12)`` is simply a name). Empty lines
and lines starting with ``#`` are skipped; empty frame names (``a;;b``) are dropped.
The result has one sample type, ``samples/count``. Parsing is vectorized (Polars). UTF-16
text with a byte-order mark is read too.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from profilelab.errors import FormatError
from profilelab.model.raw import RawProfile
from profilelab.readers._input import Input
from profilelab.readers._stacks import NamedStacks, build_raw, reversed_lists
from profilelab.readers.sniff import utf8_text

FORMAT = "folded"
_COUNT = r"\s(\d+)$"  # end-anchored patterns run backwards from the line end: fast
_COUNT_SUFFIX = r"\s+\d+$"


def read(inp: Input) -> list[RawProfile]:
    """Decode folded stacks; a line that is not ``stack count`` is a FormatError naming it."""
    text = utf8_text(inp.data).decode("utf-8", errors="replace")
    lines = pl.Series("line", text.split("\n"), dtype=pl.Utf8).str.strip_chars_end()
    frame = pl.DataFrame({"line": lines}).with_row_index("no", offset=1)
    frame = frame.filter((pl.col("line") != "") & ~pl.col("line").str.starts_with("#"))
    parsed = frame.with_columns(
        pl.col("line").str.replace(_COUNT_SUFFIX, "").str.strip_chars().alias("stack"),
        pl.col("line").str.extract(_COUNT, 1).cast(pl.Int64, strict=False).alias("count"),
    )
    bad = parsed.filter(pl.col("count").is_null())
    if bad.height:
        no, line = bad.row(0)[:2]
        shown = line if len(line) <= 80 else line[:77] + "..."
        raise FormatError(
            f"{inp.name}: folded stacks: line {no} is not 'frame;frame;... count': {shown!r}"
        )
    raw = _build(parsed["stack"], parsed["count"].to_numpy(), inp.name)
    raw.source_id = inp.content_id()
    return [raw]


def _build(stack_text: pl.Series, counts: np.ndarray, name: str) -> RawProfile:
    encoded = pc.dictionary_encode(stack_text.to_arrow())
    sample_stack = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    unique_stacks = pl.Series(encoded.dictionary)
    parts = unique_stacks.str.split(";")
    depth = parts.list.eval(pl.element().filter(pl.element() != "")).list.len().to_numpy()
    names = parts.explode().filter(parts.explode() != "")
    offsets = np.zeros(len(depth) + 1, dtype=np.int64)
    np.cumsum(depth, out=offsets[1:])
    frames = pc.dictionary_encode(names.to_arrow())
    frame_of_slot = np.asarray(frames.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    stacks = NamedStacks(
        frame_name=frames.dictionary.cast(pa.string()),
        stack_offsets=offsets,
        stack_frames=reversed_lists(offsets, frame_of_slot),  # folded is root first
        # no system name: names are shown as written (py-spy's "<module> (prog.py:3)"),
        # not simplified as demangled C++
        frame_system_name=pa.nulls(len(frames.dictionary), pa.string()),
    )
    return build_raw(
        stacks,
        sample_stack,
        counts.reshape(-1, 1),
        source=name,
        fmt=FORMAT,
        sample_types=[("samples", "count")],
    )
