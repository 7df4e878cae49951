"""Go's text/tabwriter (right-aligned cells, space padding), as pprof's ``-tags`` uses it.

Cells are tab-terminated; the text after a line's last tab is not part of any column.
Consecutive lines with a cell in column k form a column block whose width is the widest
cell plus the padding; blocks nest exactly as in Go's implementation.
"""

from __future__ import annotations


def tabwrite(text: str, padding: int = 1, align_right: bool = True) -> str:
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    _format(lines, 0, len(lines), [], padding, align_right, out)
    return "\n".join(out)


def _format(
    lines: list[list[str]],
    line0: int,
    line1: int,
    widths: list[int],
    padding: int,
    align_right: bool,
    out: list[str],
) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        _write(lines, line0, this, widths, align_right, out)
        line0 = this
        width = 0
        while this < line1 and column < len(lines[this]) - 1:
            width = max(width, len(lines[this][column]) + padding)
            this += 1
        _format(lines, line0, this, [*widths, width], padding, align_right, out)
        line0 = this
    _write(lines, line0, line1, widths, align_right, out)


def _write(
    lines: list[list[str]], line0: int, line1: int, widths: list[int], right: bool, out: list[str]
) -> None:
    for cells in lines[line0:line1]:
        parts = []
        for j, cell in enumerate(cells):
            pad = " " * (widths[j] - len(cell)) if j < len(widths) else ""
            parts.append(pad + cell if right else cell + pad)
        out.append("".join(parts))
