"""``list REGEX``: annotated source of the matching functions, as ``go tool pprof -list``.

pprof's printSource (``internal/report/source.go``) on the untrimmed graph at ``lines``
granularity (``-list`` forces it; ``-noinlines`` is honoured):

* functions are the distinct node names matching the regex (unanchored), sorted by name;
  a function without any file name gets "No source information for NAME";
* each (function, file), files sorted by name, is one routine: its flat and cum are the
  sums over the function's line nodes in that file (raw values, no ``-mean`` division),
  and cum is also a percentage of the report total;
* the lines shown run from the function's start line (or 5 lines before its first
  sampled line when the profile has no start line) to 5 lines after its last sampled
  line, clipped to the file; each line carries the flat and cum of its nodes.

Source files are found as :mod:`.sources` says; an unreadable file is reported per
routine (``error``) and the listing goes on; the table then has the routine's sampled
lines with a null ``source``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import polars as pl

from profilelab.core.regex import matches
from profilelab.errors import QueryError
from profilelab.ops.pipeline import Prepared
from profilelab.ops.report_top import graph_nodes
from profilelab.ops.sources import SourceReader

MARGIN = 5  # pprof: lines shown before the first and after the last sampled line
LIST_COLUMNS = ("function", "file", "line", "flat", "cum", "source")


@dataclass(frozen=True)
class Routine:
    """One function in one source file."""

    function: str
    file: str  # as the profile names it (trimmed, cleaned); "" = no source information
    flat: int
    cum: int
    lines: pl.DataFrame  # line, flat, cum, source (only sampled lines, source null: no file)
    error: str | None = None  # why the source could not be read
    found: str | None = None  # the file that was read
    looked_in: tuple[str, ...] = ()  # the file names tried, when none could be read


@dataclass(frozen=True)
class ListResult:
    routines: list[Routine]
    total: int


def source_list(
    prepared: Prepared,
    regex: str,
    reader: SourceReader | None = None,
    nodes: pl.DataFrame | None = None,
) -> ListResult:
    """The routines of ``regex`` in ``prepared`` (built at ``lines`` granularity);
    ``nodes``: :func:`line_nodes` of ``prepared``, when the caller keeps them for several
    listings."""
    if nodes is None:
        nodes = line_nodes(prepared)
    hit = matches(nodes["n_name"], regex, "list").fill_null(False)
    nodes = nodes.filter(hit)
    if nodes.height == 0:
        raise QueryError(f"no matches found for regexp: {regex}")
    opts = prepared.options
    if reader is None:
        reader = SourceReader(opts.source_path or os.getcwd(), opts.trim_path or "")
    routines: list[Routine] = []
    nodes = nodes.sort("n_name", "n_file", "n_line", maintain_order=True)
    for (name,), fn_nodes in nodes.group_by("n_name", maintain_order=True):
        with_file = fn_nodes.filter(pl.col("n_file") != "")
        if with_file.height == 0:
            routines.append(Routine(str(name), "", 0, 0, _empty_lines()))
            continue
        for (file,), fns in with_file.group_by("n_file", maintain_order=True):
            routines.append(_routine(str(name), str(file), fns, reader))
    return ListResult(routines, prepared.total)


def line_nodes(prepared: Prepared) -> pl.DataFrame:
    """Graph nodes (name, file, line, raw flat/cum) with their function's start line."""
    nodes = graph_nodes(prepared)
    first_frame = prepared.stacks.select("node_id", "frame_id").unique("node_id")
    starts = first_frame.join(
        prepared.profile.frames.select("frame_id", "start_line"), on="frame_id", how="left"
    ).select("node_id", pl.col("start_line").fill_null(0))
    return nodes.join(starts, on="node_id", how="left").select(
        "n_name", "n_file", "n_line", "start_line", "flat", "cum"
    )


def _routine(name: str, file: str, fns: pl.DataFrame, reader: SourceReader) -> Routine:
    flat, cum = int(fns["flat"].sum()), int(fns["cum"].sum())
    start, end = _line_range(fns)
    per_line = fns.group_by("n_line").agg(pl.col("flat").sum(), pl.col("cum").sum())
    values = {int(r[0]): (int(r[1]), int(r[2])) for r in per_line.iter_rows()}
    rows: list[tuple[int, int, int, str | None]] = []
    for lineno in range(start, end + 1):
        text = reader.line(file, lineno)
        if text is None:
            break
        f, c = values.get(lineno, (0, 0))
        rows.append((lineno, f, c, text))
    error = reader.error(file)
    if error:  # the sampled lines, without their text
        rows = [(ln, f, c, None) for ln, (f, c) in sorted(values.items())]
    lines = _lines_frame(rows)
    looked = tuple(reader.looked_in(file)) if error else ()
    return Routine(name, file, flat, cum, lines, error, reader.location(file), looked)


def _line_range(fns: pl.DataFrame) -> tuple[int, int]:
    """pprof's getSourceFromFile range: start line (or first line - 5) to last line + 5."""
    first_start, first_line = int(fns["start_line"][0]), int(fns["n_line"][0])
    start = first_start if first_start else first_line - MARGIN
    end = first_line + MARGIN
    for lineno, node_start in fns.select("n_line", "start_line").iter_rows():
        node_start = node_start or lineno - MARGIN
        if node_start < start:
            start = node_start
        elif lineno + MARGIN > end:
            end = lineno + MARGIN
    return max(start, 1), end


def _lines_frame(rows: list[tuple[int, int, int, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"line": pl.Int64, "flat": pl.Int64, "cum": pl.Int64, "source": pl.Utf8},
        orient="row",
    )


def _empty_lines() -> pl.DataFrame:
    return _lines_frame([])


def list_table(result: ListResult) -> pl.DataFrame:
    """One row per listed source line: function, file, line, flat, cum, source."""
    frames = [
        r.lines.select(pl.lit(r.function).alias("function"), pl.lit(r.file).alias("file"), pl.all())
        for r in result.routines
        if r.lines.height
    ]
    if not frames:
        schema = {"function": pl.Utf8, "file": pl.Utf8}
        return pl.DataFrame(schema=schema).hstack(_empty_lines())
    return pl.concat(frames).select(LIST_COLUMNS)
