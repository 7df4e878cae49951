"""The result of a playbook: one headline sentence with its numbers, and the numbers alone."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """What an investigation found, computed from the data.

    ``headline`` is the sentence a notebook prints and a report shows; ``facts`` holds every
    number in it (and a few more) so that tests and notebooks can assert them; ``details``
    are further sentences; ``tables`` are Polars frames that back the finding.
    """

    playbook: str
    question: str
    headline: str
    facts: dict[str, Any]
    details: tuple[str, ...] = ()
    tables: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return "\n".join([self.headline, *self.details])

    def _repr_html_(self) -> str:
        # Notebooks print plain text in <pre> that breaks lines anywhere ("(*encodeStat e)");
        # as HTML the sentences wrap between words and long names break only when they must.
        style = "white-space:normal;word-break:normal;overflow-wrap:break-word;max-width:60em"
        items = "".join(f"<li>{html.escape(d)}</li>" for d in self.details)
        return (
            f'<div class="profilelab-finding" style="{style}">'
            f"<p><b>{html.escape(self.headline)}</b></p>"
            + (f"<ul>{items}</ul>" if items else "")
            + "</div>"
        )

    def _repr_markdown_(self) -> str:
        lines = [f"**{_md(self.headline)}**", *(f"- {_md(d)}" for d in self.details)]
        return "\n".join(lines)


def _md(text: str) -> str:
    """Escape what Markdown would interpret in function names (``*``, ``_``, ``<``)."""
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return text


def pct(share: float) -> str:
    """A share as a percentage: ``0.197`` -> ``19.7%``."""
    return f"{100 * share:.1f}%"


def pp(delta: float) -> str:
    """A share change in percentage points, signed: ``+15.6 pp``."""
    return f"{100 * delta:+.1f} pp"


_UNITS: dict[str, list[tuple[float, str]]] = {
    "bytes": [(2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B")],
    "nanoseconds": [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1, "ns")],
}


def amount(value: float, unit: str) -> str:
    """A value with a readable unit: bytes as KiB/MiB, nanoseconds as ms/s, counts as is."""
    for scale, name in _UNITS.get(unit, []):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {name}"
    if unit in _UNITS:
        return f"{value:.0f} {_UNITS[unit][-1][1]}"
    return f"{value:,.0f}" + ("" if unit in ("count", "") else f" {unit}")
