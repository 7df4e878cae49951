"""The implementation of :class:`profilelab.model.reporting.Reporting` the package root installs.

It sits on top of the layers, so it may call down into ``ops`` (the one report dispatch)
and ``widgets`` (the notebook display, span cohort diffs); each is imported on first use,
which keeps ``import profilelab`` cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

    from profilelab.model.graph_tables import GraphTables
    from profilelab.model.profile import Profile


class Reports:
    """``Profile.top()`` and the others are :mod:`profilelab.ops`'s functions of the same name."""

    def top(self, profile: Profile, **options: Any) -> pl.DataFrame:
        from profilelab import ops

        return ops.top(profile, **options)

    def tags(self, profile: Profile, **options: Any) -> pl.DataFrame:
        from profilelab import ops

        return ops.tags(profile, **options)

    def peek(self, profile: Profile, regex: str, **options: Any) -> pl.DataFrame:
        from profilelab import ops

        return ops.peek(profile, regex, **options)

    def traces(self, profile: Profile, **options: Any) -> pl.DataFrame:
        from profilelab import ops

        return ops.traces(profile, **options)

    def source_list(self, profile: Profile, regex: str, **options: Any) -> pl.DataFrame:
        from profilelab import ops

        return ops.source_list(profile, regex, **options)

    def call_graph(self, profile: Profile, **options: Any) -> GraphTables:
        from profilelab import ops

        return ops.call_graph(profile, **options)

    def mimebundle(self, profile: Profile) -> dict[str, Any]:
        from profilelab.widgets.display import profile_mimebundle

        return profile_mimebundle(profile)

    def diff_widget(
        self, base: Profile, target: Profile, functions: pl.DataFrame, sample_type: str | None
    ) -> Any:
        from profilelab.widgets.spans import diff_view

        widget, _kind = diff_view(base, target, functions, sample_type=sample_type)
        return widget

    def flame_page(self, profile: Profile, path: Path, *, title: str, focus: str | None) -> Path:
        from profilelab.render import flame_html

        return flame_html.write(path, flame_html.flame_html(profile, title=title, focus=focus))

    def diff_page(self, base: Profile, target: Profile, path: Path, *, title: str) -> Path:
        from profilelab.render import flame_html
        from profilelab.views import comparison

        return flame_html.write(path, flame_html.diff_html(comparison(base, target), title=title))

    def pruned(self, profile: Profile) -> Profile:
        from profilelab.ops.pipeline import pruned

        return pruned(profile)
