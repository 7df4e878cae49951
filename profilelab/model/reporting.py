"""The seam behind ``Profile``'s report and display methods, filled from above.

``Profile.top()``, ``.peek()``, ``.tags()``, ``.traces()``, ``.list()``, ``.graph()``, a
notebook's display of a Profile, the diff widget of a span cohort (``CohortDiff.widget()``)
the flame-graph pages an alert writes as evidence, and the profile's own drop_frames
that a selection applies outside the reports (``narrow``) are computed by layers above the
model and its consumers: ``ops`` builds the pprof reports, ``render`` writes pages,
``widgets`` draw. Neither the model nor ``traces`` nor ``analysis`` may import them
(imports only go down, see ``docs/architecture.md``), so the model states here what they
need, :class:`Reporting`, and the package root installs the implementation
(:mod:`profilelab._reporting`) when ``profilelab`` is imported. Python imports a package
before any of its modules, so every ``Profile`` finds it installed.

"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the protocol only types the seam: importing profilelab stays light
    from pathlib import Path
    from typing import Protocol

    import polars as pl

    from profilelab.model.graph_tables import GraphTables
    from profilelab.model.profile import Profile

    class Reporting(Protocol):
        """What the report methods, the notebook display and ``CohortDiff.widget()`` call."""

        def top(self, profile: Profile, **options: Any) -> pl.DataFrame: ...
        def tags(self, profile: Profile, **options: Any) -> pl.DataFrame: ...
        def peek(self, profile: Profile, regex: str, **options: Any) -> pl.DataFrame: ...
        def traces(self, profile: Profile, **options: Any) -> pl.DataFrame: ...
        def source_list(self, profile: Profile, regex: str, **options: Any) -> pl.DataFrame: ...
        def call_graph(self, profile: Profile, **options: Any) -> GraphTables: ...
        def mimebundle(self, profile: Profile) -> dict[str, Any]: ...
        def diff_widget(
            self, base: Profile, target: Profile, functions: pl.DataFrame, sample_type: str | None
        ) -> Any: ...
        def flame_page(
            self, profile: Profile, path: Path, *, title: str, focus: str | None
        ) -> Path: ...
        def diff_page(self, base: Profile, target: Profile, path: Path, *, title: str) -> Path: ...
        def pruned(self, profile: Profile) -> Profile: ...


_installed: list[Reporting] = []


def install(reporting: Reporting) -> None:
    """Make ``reporting`` what every Profile's report methods call (the package root does)."""
    _installed[:] = [reporting]


def reporting() -> Reporting:
    """The installed implementation."""
    if not _installed:  # only when the package root was bypassed, which Python does not allow
        raise RuntimeError("profilelab's reports are not installed: import profilelab")
    return _installed[0]
