"""FlameGraph and DiffFlameGraph: anywidget canvas flame graphs fed by binary payloads.

The browser draws what :mod:`profilelab.views` computes; state goes both ways as traits.
Zoom: the browser rescales what it has at once and reports the node path in ``root``; when
the current payload lacks detail at that zoom (it was pruned relative to a wider root), the
Python side rebuilds the tree rooted there and sends it. Clicking a frame also sets
``selected`` (its path from the root) and ``focus`` (its name), so a notebook can continue
from what the analyst clicked.

Call-tree transforms (``transforms``: merge, focus, drop, collapse, ... of
:mod:`profilelab.core.transforms`) come from a frame's context menu in the browser and are
shown as a list of removable chips; the Python side applies them through the core (each
prefix of the list once, so appending one applies one) and says which of them no longer
change anything (``transform_notes``).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import polars as pl
import traitlets

from profilelab.core import sampletypes
from profilelab.core import transforms as transforms_mod
from profilelab.core.selection import Selection as CoreSelection
from profilelab.core.vocabulary import transform_args
from profilelab.errors import ProfileLabError
from profilelab.model.profile import Profile
from profilelab.render.flame_html import STATIC, Applied, bundle, diff_html, flame_html, write
from profilelab.views import Comparison, LabelFilter, Selection, label_values, sample_types
from profilelab.views.encode import encode_table, encode_tree
from profilelab.views.flame import DEFAULT_WIDTH_PX, fraction_for
from profilelab.views.timeline import range_text
from profilelab.views.tree import DiffTree, FlameTree
from profilelab.widgets.flame_panels import FlamePanels


class _FlameBase(anywidget.AnyWidget):  # type: ignore[misc]
    _esm: Path | str = STATIC / "flame.js"
    _css: Path | str = STATIC / "flame.css"
    _kind = traitlets.Unicode("flame").tag(sync=True)
    _tree = traitlets.Bytes(b"").tag(sync=True)
    _table = traitlets.Bytes(b"").tag(sync=True)
    #: zoom: the node path (names below "all") the view is rooted at
    root = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: the path of the last clicked frame, and its name
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    focus = traitlets.Unicode("").tag(sync=True)
    width_px = traitlets.Int(DEFAULT_WIDTH_PX).tag(sync=True)
    orientation = traitlets.Unicode("icicle").tag(sync=True)
    search = traitlets.Unicode("").tag(sync=True)
    sample_type = traitlets.Unicode("").tag(sync=True)
    sample_types = traitlets.List(traitlets.Unicode()).tag(sync=True)
    granularity = traitlets.Unicode("function").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    _current: FlameTree | DiffTree | None = None
    #: observers wait until the constructor has built the first tree
    _ready = False

    def _covers(self, path: Sequence[str]) -> bool:
        """Whether the current payload already shows ``path`` in full detail."""
        tree = self._current
        if tree is None or list(path[: len(tree.root_path)]) != list(tree.root_path):
            return False
        node = tree.find(list(path[len(tree.root_path) :]))
        if node < 0:
            return False
        needed = fraction_for(max(self.width_px, 1)) * abs(float(tree.width[node]))
        return tree.threshold <= needed

    def _run(self, action: Any) -> None:
        try:
            action()
            self.error = ""
        except ProfileLabError as exc:
            self.error = str(exc)

    @traitlets.observe("root")
    def _on_root(self, change: dict[str, Any]) -> None:
        if self._ready and not self._covers(change["new"]):
            self._run(self._send_tree)

    @traitlets.observe("width_px")
    def _on_width(self, change: dict[str, Any]) -> None:
        old = change["old"] or 0
        if self._ready and change["new"] > 0 and abs(change["new"] - old) > 4:
            self._run(self._send_tree)

    def _send_tree(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view plus a static SVG of the current view (``image/svg+xml`` and
        ``text/html``) for GitHub, nbviewer and nbconvert, which cannot run the widget."""
        data = super()._repr_mimebundle_(**kwargs)
        bundle, meta = data if isinstance(data, tuple) else (data, {})
        tree = self._current
        if bundle is None or tree is None:
            return data
        from profilelab.render.flame_svg import fallback_html, flame_svg

        svg = flame_svg(tree, width_px=min(max(self.width_px, 300), 1200))
        note = "static snapshot of the flame graph; run the notebook for the interactive view"
        if getattr(self, "view", "") == "sandwich":
            note = "static snapshot of the whole flame graph; the sandwich view needs a kernel"
        applied = self._applied().text()
        note = f"{note}; {applied}" if applied else note
        bundle = {**bundle, "image/svg+xml": svg, "text/html": fallback_html(svg, note)}
        return (bundle, meta) if isinstance(data, tuple) else bundle

    def _applied(self) -> Applied:
        """The call-tree transforms of the view shown (none for a diff)."""
        return Applied()


#: How many transformed profiles (prefixes of the transform list) a FlameGraph keeps.
_KEEP_TRANSFORMED = 6


class FlameGraph(FlamePanels, _FlameBase):
    """An interactive flame graph of one profile.

    ``FlameGraph(profile)`` shows pprof's default sample type, function granularity.
    Traits a notebook reads or sets: ``root`` (zoom path), ``selected`` / ``focus`` (last
    clicked frame), ``view`` (``flame``, ``inverted``, ``sandwich``), ``sandwich_function``,
    ``sample_type``, ``granularity``, ``labels`` (key -> value), ``focus_regex``,
    ``ignore_regex``, ``search``, ``orientation`` (``icicle`` or ``flame``), ``transforms``
    (call-tree transforms, in order: ``[["merge_function", "^runtime\\."], ["left_heavy",
    None]]``, the names and arguments of :mod:`profilelab.core.transforms`; a frame's
    context menu appends to it, a chip's remove button takes one out). ``transform_notes``
    says, per transform, why it no longer changes anything; ``command`` is the
    ``profilelab flame`` command line that writes this view. The source panel's
    ``source_path`` / ``trim_path`` / ``show_source`` and the call-graph view's ``tab``
    (``flame`` or ``graph``), ``nodecount``, ``nodefraction``, ``edgefraction`` and
    ``focus_function`` (applied after ``transforms``): see
    :mod:`profilelab.widgets.flame_panels`.
    """

    _esm = bundle("flame.js", "transforms.js", "panels.js")
    _css = bundle("flame.css", "transforms.css", "panels.css")
    view = traitlets.Unicode("flame").tag(sync=True)
    sandwich_function = traitlets.Unicode("").tag(sync=True)
    _callers = traitlets.Bytes(b"").tag(sync=True)
    _callees = traitlets.Bytes(b"").tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)
    label_choices = traitlets.Dict().tag(sync=True)
    focus_regex = traitlets.Unicode("").tag(sync=True)
    ignore_regex = traitlets.Unicode("").tag(sync=True)
    #: exact search shares for ``search`` at ``root``: {search, root, zoom, total} (the
    #: browser's own figures miss frames folded into "other" and, zoomed, the rest)
    search_shares = traitlets.Dict().tag(sync=True)
    #: time range ``[start_ns, end_ns)`` of the samples shown (``[]``: all); a linked
    #: :class:`~profilelab.widgets.timeline.Timeline` sets it when brushed
    range_ns = traitlets.List(traitlets.Int()).tag(sync=True)
    #: call-tree transforms applied first, in order: ``[[name, argument], ...]``
    transforms: traitlets.List[Any] = traitlets.List().tag(sync=True)
    #: per transform: "" when it changed the profile, else why it changes nothing
    transform_notes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: the ``profilelab flame`` command line that writes this view (an HTML file)
    command = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        profile: Profile,
        *,
        sample_type: str | None = None,
        granularity: str = "function",
        labels: LabelFilter | None = None,
        focus_regex: str = "",
        ignore_regex: str = "",
        transforms: Sequence[Sequence[str | None]] = (),
        **kwargs: Any,
    ) -> None:
        self._profile = profile
        sel = Selection(profile, sample_type)
        #: views per (sample type, transforms); transformed profiles per transform prefix
        self._indexes: dict[tuple[str, tuple[transforms_mod.Spec, ...]], Selection] = {
            (sel.sample_type, ()): sel
        }
        self._prefixes: dict[tuple[str, tuple[transforms_mod.Spec, ...]], tuple[Profile, str]] = {}
        self._selection = sel
        super().__init__(
            sample_type=sel.sample_type,
            sample_types=sample_types(profile),
            granularity=granularity,
            label_choices=label_values(profile),
            labels={k: v if isinstance(v, str) else v[0] for k, v in (labels or {}).items()},
            focus_regex=focus_regex,
            ignore_regex=ignore_regex,
            transforms=[list(t) for t in transforms],
            **kwargs,
        )
        self._ready = True
        self._refilter()
        self._send_panels()

    # ---- building -------------------------------------------------------------------------
    def _refilter(self) -> None:
        """Apply sample type and filters, then resend the tree and table from the top."""

        def action() -> None:
            base = self._transformed_view()
            rng = self.range_ns
            self._selection = base.with_filters(
                labels=dict(self.labels),
                focus=self.focus_regex,
                ignore=self.ignore_regex,
                time_range=(rng[0], rng[1]) if len(rng) == 2 else None,
            )
            self._current = None
            self._send_tree()
            self._send_table()
            if self.view == "sandwich":
                self._send_sandwich()
            self.command = self.command_line()

        self._run(action)

    # ---- transforms -------------------------------------------------------------------------
    def _transformed_view(self) -> Selection:
        """The view of the current sample type after ``transforms`` (cached per list), and
        ``transform_notes`` set; QueryError for an invalid transform."""
        try:
            specs = transforms_mod.specs(self.transforms)
        except ProfileLabError:
            self.transform_notes = []  # the notes of another list would mark the wrong chips
            raise
        shown = len(specs)
        specs += self._focus_specs()  # the call graph's focus, after the listed transforms
        key = (self.sample_type, specs)
        profile, notes = self._transformed(specs)
        self.transform_notes = notes[:shown]
        view = self._indexes.get(key)
        if view is None:
            display = tuple(s for s in specs if s[0] in transforms_mod.DISPLAY_ONLY)
            core = CoreSelection(sample_index=self.sample_type, transforms=display)
            view = Selection(profile, selection=core)
            _remember(self._indexes, key, view, keep=((self.sample_type, ()),))
        return view

    def _transformed(self, specs: tuple[transforms_mod.Spec, ...]) -> tuple[Profile, list[str]]:
        """The samples of the current sample type after ``specs``, and a note per transform.

        Each step is applied once to the cached profile of the prefix before it (so the
        menu's append costs one transform, and removing a chip reapplies only the ones after
        it), and only to the samples of the shown sample type (a pprof CPU profile's
        ``samples`` and ``cpu`` are two sets of samples)."""
        stype = self.sample_type
        cache = self._prefixes
        if (stype, ()) not in cache:
            kept = sampletypes.rows_of(self._profile, sampletypes.resolve(self._profile, stype))
            only = self._profile.samples.filter(
                pl.col("profile_id").is_in(kept.get_column("profile_id").implode())
            )
            _remember(cache, (stype, ()), (self._profile.replace(samples=only), ""), keep=())
        done = max(n for n in range(len(specs) + 1) if (stype, specs[:n]) in cache)
        profile = cache[(stype, specs[:done])][0]
        for n in range(done, len(specs)):
            after = transforms_mod.apply(profile, specs[n : n + 1])
            note = _no_effect(specs[n], profile, after)
            _remember(cache, (stype, specs[: n + 1]), (after, note), keep=((stype, ()),))
            profile = after
        return profile, [cache[(stype, specs[: n + 1])][1] for n in range(len(specs))]

    def command_line(self, output: str = "flame.html") -> str:
        """The ``profilelab flame`` command that writes this view (sample type, granularity,
        labels, time range, focus/ignore, transforms in order) as ``output``."""
        sources = (
            self._profile.profiles.get_column("source").drop_nulls().unique(maintain_order=True)
        )
        files = [s for s in sources.to_list() if s and not s.startswith("<")] or ["PROFILE"]
        args = ["profilelab", "flame", *files, "--sample-index", self.sample_type]
        if self.granularity not in ("function", "functions"):
            args += ["--granularity", self.granularity]
        for key, value in sorted(self.labels.items()):
            args += ["--label", f"{key}={value}"]
        if len(self.range_ns) == 2:
            args += ["--from", str(self.range_ns[0]), "--to", str(self.range_ns[1])]
        if self.focus_regex:
            args += ["--focus", self.focus_regex]
        if self.ignore_regex:
            args += ["--ignore", self.ignore_regex]
        args += transform_args(self.transforms)
        if self.view == "inverted":
            args.append("--inverted")
        return shlex.join([*args, "-o", output])

    def _applied(self) -> Applied:
        try:
            specs = transforms_mod.specs(self.transforms)
        except ProfileLabError:
            specs = ()
        return Applied(specs, self.command)

    def _send_tree(self) -> None:
        inverted = self.view == "inverted"
        tree = self._selection.flame(
            granularity=self.granularity,
            width_px=max(self.width_px, 1),
            root=list(self.root),
            inverted=inverted,
        )
        self._current = tree
        rng = self.range_ns
        shown = range_text(rng[0], rng[1]) if len(rng) == 2 else ""
        self._tree = encode_tree(tree, width_px=self.width_px, time_range=shown)

    def _send_table(self) -> None:
        sel = self._selection
        top = sel.top(self.granularity, 200)
        self._table = encode_table(top, 200, grand_total=sel.total, unit=sel.unit)

    def _send_sandwich(self) -> None:
        if not self.sandwich_function:
            return
        sw = self._selection.sandwich(
            self.sandwich_function, granularity=self.granularity, width_px=self.width_px
        )
        self._callers = encode_tree(sw.callers)
        self._callees = encode_tree(sw.callees)

    # ---- observers --------------------------------------------------------------------------
    @traitlets.observe(
        "sample_type", "labels", "focus_regex", "ignore_regex", "range_ns", "transforms"
    )
    def _on_filters(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        self.root = []
        self._refilter()

    @traitlets.observe("granularity")
    def _on_granularity(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        self.root = []
        if self.view == "sandwich":
            self.view = "flame"
        self._refilter()

    @traitlets.observe("view")
    def _on_view(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        if change["new"] == "sandwich":
            self._run(self._send_sandwich)
            return
        current = self._current
        if change["old"] == "sandwich" and current is not None and current.kind == change["new"]:
            return  # back from a sandwich to the tree that is still shown
        self.root = []
        self._current = None
        self._run(self._send_tree)

    @traitlets.observe("search", "root", "view")
    def _on_search(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        if not self.search or self.view == "sandwich":
            self.search_shares = {}
            return

        def action() -> None:
            zoom, total = self._selection.search_shares(
                self.search,
                granularity=self.granularity,
                root=list(self.root),
                inverted=self.view == "inverted",
            )
            self.search_shares = {
                "search": self.search,
                "root": list(self.root),
                "zoom": zoom,
                "total": total,
            }

        self._run(action)

    @traitlets.observe("sandwich_function")
    def _on_sandwich(self, change: dict[str, Any]) -> None:
        if self._ready and self.view == "sandwich":
            self._run(self._send_sandwich)

    # ---- API --------------------------------------------------------------------------------
    @property
    def tree(self) -> FlameTree | None:
        """The tree currently shown (pruned for ``width_px`` at the current root)."""
        return self._current if isinstance(self._current, FlameTree) else None

    def to_html(self, path: str | Path, *, max_nodes: int = 100_000) -> Path:
        """Write the current selection (filters, granularity, view) as one HTML file."""
        applied = self._applied()
        page = flame_html(
            self._selection,
            granularity=self.granularity,
            inverted=self.view == "inverted",
            max_nodes=max_nodes,
            transforms=applied.transforms,
            command=self.command_line(Path(path).name),
        )
        return write(path, page)


def _remember(cache: dict[Any, Any], key: Any, value: Any, *, keep: tuple[Any, ...]) -> None:
    """``cache[key] = value``, dropping the oldest entries but ``keep`` past a few."""
    cache.pop(key, None)
    cache[key] = value
    for old in [k for k in cache if k not in keep][: max(0, len(cache) - _KEEP_TRANSFORMED)]:
        del cache[old]


def _no_effect(spec: transforms_mod.Spec, before: Profile, after: Profile) -> str:
    """Why the transform ``spec`` changes nothing from ``before`` to ``after`` ("" if it
    does): a frame or path that a transform before it (or a filter) took away."""
    name, arg = spec
    if name in transforms_mod.DISPLAY_ONLY:
        return ""
    if after.samples.height == 0 and before.samples.height > 0:
        return f"{name.replace('_', ' ')} {arg} leaves no samples: nothing matches it any more"
    same = after.samples.height == before.samples.height and after.samples.get_column(
        "stack_id"
    ).equals(before.samples.get_column("stack_id"))
    if same:
        return f"{name.replace('_', ' ')} {arg} changes nothing: nothing matches it any more"
    return ""


class DiffFlameGraph(_FlameBase):
    """A red/blue diff flame graph of two profiles or two label selections of one.

    ``DiffFlameGraph(base, new)`` or ``DiffFlameGraph(profile, base_labels=..., new_labels=...)``.
    Widths follow the new profile (``width_by="max"``: the larger of both); red frames grew,
    blue shrank, the stronger the larger the relative change. ``normalize`` scales the base
    to the new total (pprof ``-normalize``). ``warnings`` lists why the diff may mislead
    (a side with too few samples, totals far apart); the widget shows them above the graph.
    """

    normalize = traitlets.Bool(False).tag(sync=True)
    width_by = traitlets.Unicode("new").tag(sync=True)

    def __init__(
        self,
        base: Profile,
        new: Profile | None = None,
        *,
        base_labels: LabelFilter | None = None,
        new_labels: LabelFilter | None = None,
        sample_type: str | None = None,
        granularity: str = "function",
        normalize: bool = False,
        width_by: str = "new",
        **kwargs: Any,
    ) -> None:
        from profilelab.views import comparison

        self._args = (base, new, base_labels, new_labels)
        self._cmp: Comparison = comparison(
            base, new, base_labels=base_labels, new_labels=new_labels, sample_type=sample_type
        )
        super().__init__(
            _kind="diff",
            sample_type=self._cmp.new.sample_type,
            sample_types=sample_types(base),
            granularity=granularity,
            normalize=normalize,
            width_by=width_by,
            **kwargs,
        )
        self._ready = True
        self._run(self._send_all)

    def _send_all(self) -> None:
        self._current = None
        self._send_tree()
        table = self._cmp.table(self.granularity, normalize=self.normalize)
        self._table = encode_table(table, 200, unit=self._cmp.new.unit)

    def _send_tree(self) -> None:
        tree = self._cmp.tree(
            granularity=self.granularity,
            width_px=max(self.width_px, 1),
            root=list(self.root),
            normalize=self.normalize,
            width_by=self.width_by,
        )
        self._current = tree
        self._tree = encode_tree(tree, width_px=self.width_px, warnings=self.warnings)

    @property
    def warnings(self) -> list[str]:
        """Why this diff may mislead (too few samples, far-apart totals); shown above it."""
        return self._cmp.warnings()

    @traitlets.observe("sample_type")
    def _on_sample_type(self, change: dict[str, Any]) -> None:
        from profilelab.views import comparison

        if not self._ready:
            return

        def action() -> None:
            base, new, bl, nl = self._args
            self._cmp = comparison(
                base, new, base_labels=bl, new_labels=nl, sample_type=change["new"]
            )
            self.root = []
            self._send_all()

        self._run(action)

    @traitlets.observe("granularity", "normalize")
    def _on_granularity(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        if change["name"] == "granularity":
            self.root = []
        self._run(self._send_all)

    @property
    def tree(self) -> DiffTree | None:
        return self._current if isinstance(self._current, DiffTree) else None

    def table(self) -> Any:
        """The diff table (Polars) at the current granularity and normalization."""
        return self._cmp.table(self.granularity, normalize=self.normalize)

    def to_html(self, path: str | Path, *, max_nodes: int = 100_000) -> Path:
        """Write the diff (current granularity, normalization, widths) as one HTML file."""
        page = diff_html(
            self._cmp,
            granularity=self.granularity,
            normalize=self.normalize,
            width_by=self.width_by,
            max_nodes=max_nodes,
        )
        return write(path, page)
