"""Selection: which samples to look at and how to see them, as one validated value.

A :class:`Selection` says, for any profile set:

* **sample type** (``sample_index``: a name or a position, pprof's default rules; see
  :mod:`profilelab.core.sampletypes`);
* **time range** (``start_ns`` <= time < ``end_ns`` on each sample's ``time_ns``, or its
  profile's start time when the sample has none);
* **label filters**: ``labels`` (the store's selector syntax on sample labels,
  ``{service="api", region=~"eu-.*"}``) and pprof's ``tagfocus``/``tagignore``
  (``tagshow``/``taghide`` choose the label keys a report shows);
* **frame filters**, pprof's: ``focus``/``ignore`` (keep or drop samples with a matching
  frame), ``hide``/``show`` (remove frames), ``show_from``/``prune_from`` (cut stacks);
* **transforms**: call-tree rewrites applied first (:mod:`profilelab.core.transforms`),
  a list of ``(name, argument)`` pairs;
* **granularity** (pprof's plural names; the singular is accepted everywhere),
  ``noinlines``, and ``drop_frames`` (apply the profile's own drop/keep_frames).

It is built once, from keyword arguments, CLI flags (``profilelab.cli._common``), a
widget's controls or a JSON document (:meth:`Selection.from_dict`), and validated once, on
construction: every bad value raises one :class:`~profilelab.errors.QueryError` naming it.
Every report, view, analysis and writer takes one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from profilelab.core import transforms as transforms_mod
from profilelab.core.regex import check_regex
from profilelab.core.vocabulary import granularity
from profilelab.errors import QueryError

if TYPE_CHECKING:
    from profilelab.core.selector import Matcher

#: Options that are regular expressions (checked on construction).
REGEX_OPTIONS = ("focus", "ignore", "hide", "show", "show_from", "prune_from", "tagshow", "taghide")

#: A label filter as a mapping: key -> accepted value (or values).
LabelFilter = Mapping[str, str | Sequence[str]]
TimeArg = str | int | float | datetime | None


def label_matchers(labels: str | LabelFilter | Iterable[Matcher] | None) -> tuple[Matcher, ...]:
    """Label matchers from a selector (``{k="v"}``), a mapping or matchers."""
    if labels is None or labels == "":
        return ()
    if not isinstance(labels, str | Mapping):  # matchers already (a copy's, say)
        return tuple(labels)
    # imported here: a report without label filters (most of them) has no selector to
    # parse, and the parser's classes and expressions are a millisecond and a half
    from profilelab.core.selector import Matcher, parse

    if isinstance(labels, str):
        text = labels.strip()
        sel = parse(text if text.startswith("{") else "{" + text + "}")
        return sel.matchers
    out = []
    for key, accepted in labels.items():
        if isinstance(accepted, str):
            out.append(Matcher(str(key), "=", accepted))
        else:
            values = [str(v) for v in accepted]
            alternatives = "|".join(re_escape(v) for v in values)
            out.append(Matcher(str(key), "=~", alternatives))
    return tuple(out)


def re_escape(text: str) -> str:
    """Escape for RE2, Polars (Rust ``regex``) and Python ``re``: ASCII punctuation but ``<>``.

    ``<`` and ``>`` are literal in all three, while Rust's ``regex`` reads ``\\<`` and ``\\>``
    as word boundaries, so escaping them would make ``vector<int>`` match nothing.
    """
    return "".join(
        "\\" + c if not c.isalnum() and c.isascii() and c not in "_<>" else c for c in text
    )


@dataclass(frozen=True)
class Selection:
    """Which samples and how to see them (see the module docstring). Immutable."""

    sample_index: str | int | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    labels: tuple[Matcher, ...] = ()
    tagfocus: str | None = None
    tagignore: str | None = None
    tagshow: str | None = None
    taghide: str | None = None
    focus: str | None = None
    ignore: str | None = None
    hide: str | None = None
    show: str | None = None
    show_from: str | None = None
    prune_from: str | None = None
    transforms: tuple[tuple[str, str | None], ...] = ()
    granularity: str = "functions"
    noinlines: bool = False
    drop_frames: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "granularity", granularity(self.granularity))
        set_(self, "labels", label_matchers(self.labels))  # type: ignore[arg-type]
        set_(self, "transforms", transforms_mod.specs(self.transforms))
        for name in ("start_ns", "end_ns"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, int):
                from profilelab.core.timeparse import parse_time  # a range is given: rarely

                set_(self, name, parse_time(value))  # "-1h", RFC 3339, a date, ...
        if self.start_ns is not None and self.end_ns is not None and self.end_ns <= self.start_ns:
            raise QueryError(f"empty time range: end ({self.end_ns}) is not after start")
        for name in REGEX_OPTIONS:
            value = getattr(self, name)
            if value == "":
                set_(self, name, None)
            elif value is not None:
                check_regex(value, name)

    # ---- construction ---------------------------------------------------------------------
    def with_(self, **changes: Any) -> Selection:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        """From :meth:`to_dict` output (JSON); unknown keys raise QueryError."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise QueryError(f"unknown selection field(s) {', '.join(extra)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serializable data (labels as a selector string, transforms as lists)."""
        data = asdict(self)
        data["labels"] = self.selector_text()
        data["transforms"] = [list(t) for t in self.transforms]
        return data

    def selector_text(self) -> str:
        """The label matchers as a selector (``{key="v",...}``), "" when there are none."""
        if not self.labels:
            return ""
        parts = [f"{m.label}{m.op}{_quote(m.value)}" for m in self.labels]
        return "{" + ", ".join(parts) + "}"

    # ---- questions ------------------------------------------------------------------------
    def narrows_samples(self) -> bool:
        """Whether :func:`profilelab.core.apply.restrict` changes anything."""
        return bool(
            self.start_ns is not None
            or self.end_ns is not None
            or self.labels
            or transforms_mod.rewrites(self.transforms)
        )

    def active_filters(self) -> list[str]:
        """The ``key=value`` filter list pprof prints under "Active filters:"."""
        names: tuple[str, ...] = ("focus", "ignore", "hide", "show", "show_from")
        names += ("tagfocus", "tagignore", "tagshow", "taghide")
        return [f"{n}={getattr(self, n)}" for n in names if getattr(self, n)]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selection_fields() -> tuple[str, ...]:
    """The field names of :class:`Selection` (the shared vocabulary of every consumer)."""
    return tuple(f.name for f in fields(Selection))


def selection_of(options: Any) -> Selection:
    """The :class:`Selection` part of any value that holds the selection fields."""
    if type(options) is Selection:
        return options
    return Selection(**{name: getattr(options, name) for name in selection_fields()})
