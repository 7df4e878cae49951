"""``profilelab report``: the playbooks' findings for the shipped datasets as one HTML page.

For people without Jupyter: the same story as the notebooks (findings with their numbers,
top tables, plotly charts, static flame graphs), in one self-contained offline file::

    from profilelab import report
    report.write("report.html", ["order-service"], format="pprof")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from profilelab.datasets import FORMATS
from profilelab.errors import QueryError
from profilelab.render.flame_html import write as write_text
from profilelab.report.html import Section, render
from profilelab.report.stories import STORIES

__all__ = ["STORIES", "build", "names", "write"]


def names(requested: Sequence[str]) -> list[str]:
    """Dataset names with a story; ``all`` expands to every story, in a fixed order."""
    out: list[str] = []
    for name in requested:
        if name == "all":
            out.extend(n for n in STORIES if n not in out)
        elif name in STORIES:
            if name not in out:
                out.append(name)
        else:
            known = ", ".join([*STORIES, "all"])
            raise QueryError(f"no report for dataset {name!r} (reports exist for: {known})")
    if not out:
        raise QueryError("name at least one dataset (or all)")
    return out


def build(datasets: Sequence[str], *, format: str = "pprof") -> str:
    """The report page for the datasets (see :data:`STORIES`), read in ``format``."""
    if format not in FORMATS:
        raise QueryError(f"unknown format {format!r} (expected one of {FORMATS})")
    chosen = names(datasets)
    sections: list[Section] = []
    for name in chosen:
        sections.extend(STORIES[name](format))
    title = "profilelab report: " + ", ".join(chosen)
    meta = f"Datasets: {', '.join(chosen)} (read as {format})."
    return render(title, sections, meta=meta)


def write(path: str | Path, datasets: Sequence[str], *, format: str = "pprof") -> Path:
    """Build the report and write it to ``path``."""
    return write_text(path, build(datasets, format=format))
