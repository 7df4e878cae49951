"""``profilelab report``: the playbooks' findings for the shipped datasets as one HTML page.

For people without Jupyter: the same story as the notebooks (findings with their numbers,
top tables, plotly charts, static flame graphs), in one self-contained offline file::

    from profilelab import report
    report.write("report.html", ["order-service"], format="pprof")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from profilelab.core.selection import Selection
from profilelab.datasets import FORMATS
from profilelab.errors import QueryError
from profilelab.render.flame_html import write as write_text
from profilelab.report.html import Section, render
from profilelab.report.stories import STORIES, profiles_section

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


def build(
    datasets: Sequence[str],
    *,
    format: str = "pprof",
    profiles: Sequence[str | Path] = (),
    selection: Selection | None = None,
) -> str:
    """The report page for the datasets (see :data:`STORIES`), read in ``format``, and for
    the profile files ``profiles`` (merged): their top table and flame graph under
    ``selection`` (sample type, filters, transforms, granularity), as ``top`` and
    ``flame`` show them. The datasets' stories choose their own sample types and filters:
    a selection applies to the profile files only."""
    if format not in FORMATS:
        raise QueryError(f"unknown format {format!r} (expected one of {FORMATS})")
    if not datasets and not profiles:
        raise QueryError("name at least one dataset (or all) or give --profile FILE")
    chosen = names(datasets) if datasets else []
    selection = selection or Selection()
    if selection != Selection() and not profiles:
        raise QueryError(
            "the selection flags choose what the --profile files show; the datasets' "
            "stories choose their own sample types (give --profile FILE)"
        )
    sections: list[Section] = []
    if profiles:
        sections.append(profiles_section([str(p) for p in profiles], selection))
    for name in chosen:
        sections.extend(STORIES[name](format))
    shown = [*chosen, *(Path(p).name for p in profiles)]
    title = "profilelab report: " + ", ".join(shown)
    meta = f"Datasets: {', '.join(chosen) or 'none'} (read as {format})."
    return render(title, sections, meta=meta)


def write(
    path: str | Path,
    datasets: Sequence[str],
    *,
    format: str = "pprof",
    profiles: Sequence[str | Path] = (),
    selection: Selection | None = None,
) -> Path:
    """Build the report and write it to ``path``."""
    page = build(datasets, format=format, profiles=profiles, selection=selection)
    return write_text(path, page)
