"""The FlameGraph widget's source panel and call-graph view (``static/panels.js``).

Both are computed here by the report code, for the flame graph's current selection (sample
type, labels, keep/drop regexes, time range, the function focused from the call graph):

* **source panel**: clicking a frame sets ``focus``; its function's source comes from
  pprof's ``-list`` code (:mod:`profilelab.ops.report_list`, files found by
  :mod:`profilelab.ops.sources` in ``source_path`` after ``trim_path``) as ``_source``:
  every line with its flat and cum, or the file that could not be found and every file
  name tried. Without ``source_path`` the search path is the current directory and the
  shipped datasets' generator sources, so the datasets list out of the box.
* **call-graph view** (``tab="graph"``): pprof's ``-dot`` graph (``nodecount``,
  ``nodefraction``, ``edgefraction``) laid out by Graphviz's ``dot``
  (:mod:`profilelab.render.graph_layout`) as ``_graph``; without ``dot`` the view says so in
  one line. Clicking a node sets ``focus_function``: the flame graph applies the core's
  ``focus_function`` transform (the function becomes the root, its calls merged) and zooms
  to it; ``""`` removes it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import polars as pl
import traitlets

from profilelab.core import transforms as transforms_mod
from profilelab.core.selection import label_matchers, re_escape
from profilelab.errors import ProfileLabError
from profilelab.ops.options import ReportOptions
from profilelab.ops.pipeline import Prepared

#: Traits whose change alters the samples the panels describe.
SELECTION_TRAITS = ("sample_type", "labels", "focus_regex", "ignore_regex", "range_ns")


def exact(name: str) -> str:
    """A regex matching exactly ``name``."""
    return f"^{re_escape(name)}$"


def default_source_path() -> str:
    """The current directory, then the shipped datasets' generator sources when present."""
    dirs = [os.getcwd()]
    try:
        from profilelab import datasets

        generators = datasets.root() / "generators"
        if generators.is_dir():
            dirs.append(str(generators))
    except ProfileLabError:
        pass
    return os.pathsep.join(dirs)


class FlamePanels(traitlets.HasTraits):  # type: ignore[misc]
    """Traits and builders of the source panel and the call-graph view (mixed into
    :class:`~profilelab.widgets.FlameGraph`, which provides the selection traits)."""

    #: "flame" or "graph": the view shown
    tab = traitlets.Unicode("flame").tag(sync=True)
    #: the function the flame graph is focused on (a call-graph click); "" = none
    focus_function = traitlets.Unicode("").tag(sync=True)
    nodecount = traitlets.Int(80).tag(sync=True)
    nodefraction = traitlets.Float(0.005).tag(sync=True)
    edgefraction = traitlets.Float(0.001).tag(sync=True)
    #: where source files are searched (":"-separated; "" = default_source_path())
    source_path = traitlets.Unicode("").tag(sync=True)
    trim_path = traitlets.Unicode("").tag(sync=True)
    show_source = traitlets.Bool(True).tag(sync=True)
    _source = traitlets.Dict().tag(sync=True)
    _graph = traitlets.Dict().tag(sync=True)

    _graph_key: str = ""
    _source_key: str = ""
    #: the selection prepared at line granularity with its line nodes, and its options' repr
    _lines: tuple[str, Prepared, pl.DataFrame] | None = None

    # provided by the widget
    _profile: Any
    _ready: bool
    sample_type: str
    labels: dict[str, str]
    focus_regex: str
    ignore_regex: str
    range_ns: list[int]
    transforms: list[Any]
    focus: str
    selected: list[str]
    root: list[str]
    view: str

    if TYPE_CHECKING:

        def _refilter(self) -> None: ...

    # ---- the selection ------------------------------------------------------------------------
    def _focus_specs(self) -> tuple[tuple[str, str | None], ...]:
        """The transform that focuses the view on ``focus_function`` (none without one)."""
        ff = self.focus_function
        return (("focus_function", exact(ff)),) if ff else ()

    def report_options(self) -> ReportOptions:
        """The widget's selection as report options (what ``Profile.list``/``graph`` take)."""
        rng = self.range_ns
        transforms = transforms_mod.specs(self.transforms) + self._focus_specs()
        return ReportOptions(
            sample_index=self.sample_type or None,
            labels=label_matchers(dict(self.labels)),
            focus=self.focus_regex or None,
            ignore=self.ignore_regex or None,
            start_ns=rng[0] if len(rng) == 2 else None,
            end_ns=rng[1] if len(rng) == 2 else None,
            transforms=transforms,
            names="full",
            nodecount=self.nodecount,
            nodefraction=self.nodefraction,
            edgefraction=self.edgefraction,
            source_path=self.source_path or default_source_path(),
            trim_path=self.trim_path or None,
        )

    def _send_panels(self) -> None:
        self._send_source()
        self._send_graph()

    # ---- source -----------------------------------------------------------------------------
    def source_payload(self, function: str) -> dict[str, Any]:
        """What the source panel shows for ``function`` (see ``render.source.source_payload``)."""
        from profilelab.ops.pipeline import prepare
        from profilelab.ops.report_list import line_nodes, source_list
        from profilelab.render.source import source_payload

        try:
            opts = self.report_options().with_(granularity="lines")
            key = repr(opts)
            cached = self._lines
            if cached is None or cached[0] != key:  # prepared once per selection
                prepared = prepare(self._profile, opts)
                cached = self._lines = (key, prepared, line_nodes(prepared))
            _, prepared, nodes = cached
            result = source_list(prepared, exact(function), nodes=nodes)
            payload = source_payload(prepared, result)
        except ProfileLabError as exc:
            return {"function": function, "message": str(exc), "routines": []}
        return {"function": function, **payload}

    def _send_source(self) -> None:
        if not (self.show_source and self.selected and self.focus):
            self._source, self._source_key = {}, ""
            return
        try:  # a click sets selected and focus: list once
            key = f"{self.report_options()!r}\0{self.focus}"
        except ProfileLabError:
            key = ""
        if not key or key != self._source_key:
            self._source, self._source_key = self.source_payload(self.focus), key

    @traitlets.observe(
        *SELECTION_TRAITS, "focus", "selected", "show_source", "source_path", "trim_path"
    )
    def _on_source_inputs(self, change: dict[str, Any]) -> None:
        if self._ready:
            self._send_source()

    # ---- call graph ---------------------------------------------------------------------------
    def graph_payload(self) -> dict[str, Any]:
        """The laid-out call graph of the current selection, or ``{"message": why not}``."""
        from profilelab.render.graph_layout import call_graph_layout

        try:
            return call_graph_layout(self._profile, self.report_options())
        except ProfileLabError as exc:
            return {"message": str(exc)}

    def _send_graph(self) -> None:
        if self.tab != "graph":
            return
        try:
            key = repr(self.report_options().with_(source_path=None))
        except ProfileLabError as exc:
            self._graph, self._graph_key = {"message": str(exc)}, ""
            return
        if key != self._graph_key or not self._graph:
            self._graph = self.graph_payload()
            self._graph_key = key

    @traitlets.observe(*SELECTION_TRAITS, "tab", "nodecount", "nodefraction", "edgefraction")
    def _on_graph_inputs(self, change: dict[str, Any]) -> None:
        if self._ready:
            self._send_graph()

    @traitlets.observe("focus_function")
    def _on_focus_function(self, change: dict[str, Any]) -> None:
        """Show the flame graph focused on the function (or unfocused), zoomed to it."""
        if not self._ready:
            return
        name = change["new"]
        self._ready = False
        try:
            self.view = "flame"
            self.tab = "flame"
            self.root = [name] if name else []
            self.selected = [name] if name else []
            self.focus = name
        finally:
            self._ready = True
        self._refilter()
        self._send_source()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """With the call-graph tab shown, the static fallback is the graph's SVG."""
        data = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        bundle, meta = data if isinstance(data, tuple) else (data, {})
        if bundle is None or self.tab != "graph" or not self._graph.get("items"):
            return data
        from profilelab.render.flame_svg import fallback_html
        from profilelab.render.graph_layout import layout_svg

        svg = layout_svg(self._graph)
        note = "static snapshot of the call graph; run the notebook for the interactive view"
        bundle = {**bundle, "image/svg+xml": svg, "text/html": fallback_html(svg, note)}
        return (bundle, meta) if isinstance(data, tuple) else bundle
