"""Decoding inputs for ingest: read and hash in the ingesting process, decode in chunks.

A chunk of inputs is decoded input by input (a bad one is reported and skipped) and the
good ones are built into tables together (:func:`profilelab.model.builder.build`), which
costs a fraction of building them one by one. The chunk's tables travel as one
:class:`Decoded` and are cut into one Profile per input by :meth:`Decoded.split`: each
input gets its own ``profiles`` and ``samples`` rows, and the chunk's dictionary tables
(stacks, frames, mappings, labels) ride with its first input. Such Profiles only feed the
store's writer, which keeps every dictionary row it receives, in order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from profilelab.errors import ProfileLabError
from profilelab.model.ids import digest_bytes
from profilelab.model.profile import Profile
from profilelab.model.raw import RawProfile
from profilelab.readers._input import read_bytes


@dataclass
class Loaded:
    """The outcome for one input: a Profile, an error, or neither (already stored)."""

    source: str
    input_id: int
    profile: Profile | None = None
    error: str | None = None
    mtime_ns: int | None = None
    #: the input's mappings in its order (its Profile may carry the chunk's, or none)
    mapping_ids: list[int] | None = None


@dataclass
class Pending:
    """An input read and hashed, waiting to be decoded."""

    source: str
    data: bytes
    input_id: int
    mtime_ns: int


def read_input(path: str, present: set[int]) -> Loaded | Pending:
    """The input's bytes, id and mtime, or a finished result (already stored, unreadable)."""
    try:  # regular files only, capped: a FIFO would hang the batch, /dev/zero never ends
        data, _ = read_bytes(path)
        mtime_ns = os.stat(path).st_mtime_ns
    except ProfileLabError as exc:
        return Loaded(path, 0, error=_reason(exc, path))
    except OSError as exc:
        return Loaded(path, 0, error=exc.strerror or str(exc))
    input_id = digest_bytes(data)
    if input_id in present:
        return Loaded(path, input_id)
    return Pending(path, data, input_id, mtime_ns)


@dataclass
class Decoded:
    """Several inputs decoded and built together (see the module docstring)."""

    results: list[Loaded]  # in input order; good inputs have no profile until split
    profile: Profile | None = None  # the tables of every good input
    good: list[int] = field(default_factory=list)  # positions in results, in table order
    profile_rows: list[int] = field(default_factory=list)  # per good input
    sample_rows: list[int] = field(default_factory=list)

    def split(self) -> list[Loaded]:
        """One Loaded per input; a good input's Profile holds its rows (zero-copy slices)."""
        if self.profile is None:
            return self.results
        p = self.profile
        at_profile = at_sample = 0
        empty = {t: getattr(p, t).clear() for t in _DICTS}  # shared: frames are immutable
        for k, (pos, n_rows, n_samples) in enumerate(
            zip(self.good, self.profile_rows, self.sample_rows, strict=True)
        ):
            dictionaries = {t: getattr(p, t) for t in _DICTS} if k == 0 else empty
            self.results[pos].profile = Profile(
                profiles=p.profiles.slice(at_profile, n_rows),
                samples=p.samples.slice(at_sample, n_samples),
                **dictionaries,
            )
            at_profile += n_rows
            at_sample += n_samples
        return self.results


_DICTS = ("stacks", "frames", "mappings", "labels")


def read_each(inputs: Sequence[Pending]) -> list[list[RawProfile] | str]:
    """Each input's RawProfiles (inflated, sniffed and decoded), or why it cannot be stored.

    Worker processes run this and hand back the RawProfiles (flat arrays: cheap to
    pickle), so that the ingesting process builds a whole batch's tables at once."""
    from profilelab.readers import limits

    with limits.held():
        return [_read(inp) for inp in inputs]


def decode_inputs(
    inputs: Sequence[Pending], read: Sequence[list[RawProfile] | str] | None = None
) -> Decoded:
    """Decode ``inputs`` (each as :func:`profilelab.load` would) and build them together;
    ``read`` is their :func:`read_each` when a worker process already read them.

    Any failure of one input becomes its error reason; the others go on.
    """
    from profilelab.model import builder

    out = Decoded([Loaded(i.source, i.input_id, mtime_ns=i.mtime_ns) for i in inputs])
    raws: list[RawProfile] = []
    per_input: list[list[RawProfile]] = []
    for pos, inp in enumerate(inputs):
        got = _read(inp) if read is None else read[pos]
        if isinstance(got, str):
            out.results[pos].error = got
            continue
        raws.extend(got)
        per_input.append(got)
        out.good.append(pos)
        out.profile_rows.append(sum(len(r.sample_types) for r in got))
        out.sample_rows.append(sum(r.n_samples * len(r.sample_types) for r in got))
    if not raws:
        return out
    try:
        profile, each = builder.build_with_mapping_ids(per_input)
        for pos, mappings in zip(out.good, each, strict=True):
            out.results[pos].mapping_ids = mappings
    except Exception:  # one input breaks the builder: build each alone to name it
        return _one_by_one(inputs, out)
    if profile.profiles.height != sum(out.profile_rows):  # profile ids shared across inputs
        return _one_by_one(inputs, out)
    out.profile = profile
    return out


def _read(inp: Pending) -> list[RawProfile] | str:
    """The input's RawProfiles, or the reason it cannot be stored."""
    from profilelab.readers import read

    try:
        raws = read(inp.data, inp.source, raw_id=inp.input_id)  # hashed when it was read
    except ProfileLabError as exc:
        return _reason(exc, inp.source)
    except Exception as exc:  # a reader bug must not abort a batch of thousands of files
        return f"internal error {type(exc).__name__}: {exc}"
    if not any(r.sample_types for r in raws):
        return "no profiles in the input"
    return raws


def _one_by_one(inputs: Sequence[Pending], out: Decoded) -> Decoded:
    for pos in out.good:
        out.results[pos] = decode_input(inputs[pos])
    out.good, out.profile_rows, out.sample_rows = [], [], []
    return out


def decode_input(inp: Pending) -> Loaded:
    """Decode one input with :func:`profilelab.load`; any failure becomes a reason."""
    from profilelab.api import load

    try:
        profile = load(inp.data, name=inp.source)
    except ProfileLabError as exc:
        return Loaded(inp.source, inp.input_id, error=_reason(exc, inp.source))
    except Exception as exc:  # a reader bug must not abort a batch of thousands of files
        return Loaded(inp.source, inp.input_id, error=f"internal error {type(exc).__name__}: {exc}")
    if profile.profiles.height == 0:
        return Loaded(inp.source, inp.input_id, error="no profiles in the input")
    mappings = profile.mappings["mapping_id"].to_list()
    return Loaded(inp.source, inp.input_id, profile, mtime_ns=inp.mtime_ns, mapping_ids=mappings)


def _reason(exc: Exception, path: str) -> str:
    text = str(exc)
    return text[len(path) + 2 :] if text.startswith(f"{path}: ") else text


def build_each(groups: Sequence[Sequence[RawProfile]]) -> list[Profile]:
    """Build several inputs' RawProfiles together and cut the result into one Profile per
    input (the dictionary rows ride with the first, see :class:`Decoded`); ValueError when
    the inputs cannot be cut apart (profile ids shared across inputs)."""
    from profilelab.model import builder

    out = Decoded([Loaded("", 0) for _ in groups], good=list(range(len(groups))))
    for raws in groups:
        out.profile_rows.append(sum(len(r.sample_types) for r in raws))
        out.sample_rows.append(sum(r.n_samples * len(r.sample_types) for r in raws))
    out.profile = builder.build([r for raws in groups for r in raws])
    if out.profile.profiles.height != sum(out.profile_rows):
        raise ValueError("the inputs share profile ids: they cannot be built together")
    return [loaded.profile for loaded in out.split() if loaded.profile is not None]


def load_bounded(data: bytes, name: str, limit: int) -> Profile:
    """:func:`profilelab.load` of received bytes (a push, a scrape) whose gzip, if any, may
    inflate to ``limit`` bytes at most (TooLargeError beyond), not the file default: a
    network peer must not be able to make the receiver inflate a bomb."""
    from profilelab.model import builder

    return builder.build(read_bounded(data, name, limit))


def read_bounded(data: bytes, name: str, limit: int) -> list[RawProfile]:
    """The RawProfiles of received bytes (see :func:`load_bounded`), not yet built."""
    from profilelab.readers import read

    return read(data, name, limit)
