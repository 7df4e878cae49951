"""What both pprof decoders share: string-index checks and the profile header.

The compiled decoder and the numpy one (and the tests' oracle, the protobuf runtime) each
turn the wire format into plain integers; from there the checks and messages are these, so
the decoders report the same problem in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from profilelab.errors import FormatError
from profilelab.model import _arrow
from profilelab.model.raw import RawProfile

#: Why ids must be non-zero; .NET profiles with every Function.id == 0 exist in the wild.
RESERVED_ID_NOTE = "pprof ids start at 1; go tool pprof rejects this profile too"


def reserved_id_message(what: str) -> str:
    return f"{what} with reserved id 0 ({RESERVED_ID_NOTE})"


class Strings:
    """The decoded string table and the range checks of indices into it."""

    def __init__(self, table: _arrow.Array, name: str) -> None:
        self.n = len(table)
        self.name = name
        self.table = table
        self._at = _arrow.string_reader(table)
        #: every index :meth:`check_all` will be given is known to be in range already
        self.all_in_range = False

    def index(self, i: int, what: str) -> int:
        if i < 0 or i >= self.n:
            raise FormatError(
                f"{self.name}: {what} string index {i} out of range (table has {self.n})"
            )
        return i

    def text(self, i: int, what: str) -> str:
        return str(self._at(self.index(i, what)))

    def check_all(self, arr: np.ndarray, what: str) -> np.ndarray:
        """``arr`` unchanged when every index is in range; else the first bad one is named."""
        if self.all_in_range:
            return arr
        if len(arr) and (arr.min() < 0 or arr.max() >= self.n):
            bad = int(arr[(arr < 0) | (arr >= self.n)][0])
            raise FormatError(
                f"{self.name}: {what} string index {bad} out of range (table has {self.n})"
            )
        return arr


@dataclass
class Header:
    """The scalar fields of a pprof Profile message, as raw integers (string indices)."""

    sample_types: list[tuple[int, int]] = field(default_factory=list)
    default_sample_type: int = 0
    period_type: tuple[int, int] = (0, 0)
    period: int = 0
    time_nanos: int = 0
    duration_nanos: int = 0
    drop_frames: int = 0
    keep_frames: int = 0
    comments: list[int] = field(default_factory=list)
    doc_url: int = 0


def apply_header(raw: RawProfile | SimpleNamespace, h: Header, s: Strings, n_samples: int) -> None:
    """Fill ``raw``'s metadata from ``h``, checking every string index in message order
    (``raw``: a RawProfile, or a namespace of the fields a RawProfile is then made with)."""
    if not h.sample_types and n_samples:
        raise FormatError(f"{s.name}: missing sample type information")
    raw.sample_types = [
        (s.text(t, "sample type"), s.text(u, "sample unit")) for t, u in h.sample_types
    ]
    if h.default_sample_type:
        raw.default_sample_type = s.text(h.default_sample_type, "default sample type")
    raw.period_type = (
        s.text(h.period_type[0], "period type"),
        s.text(h.period_type[1], "period unit"),
    )
    raw.period = h.period
    raw.time_ns = h.time_nanos or None
    raw.duration_ns = h.duration_nanos or None
    raw.drop_frames = s.text(h.drop_frames, "drop_frames") or None
    raw.keep_frames = s.text(h.keep_frames, "keep_frames") or None
    raw.comments = [s.text(c, "comment") for c in h.comments]
    raw.doc_url = s.text(h.doc_url, "doc_url") or None


def check_first_string(table: _arrow.Array, name: str) -> None:
    if _arrow.string_at(table, 0) != "":
        raise FormatError(f"{name}: string table must start with the empty string")
