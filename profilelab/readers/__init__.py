"""Readers: one per format, one signature, one place that picks the reader from the bytes.

A reader is ``read(inp: Input) -> list[RawProfile]``; :func:`read` sniffs the content
(never the file name) and dispatches. :data:`FORMATS` lists the formats in the order they
are tried, most specific first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from profilelab.errors import FormatError, ProfileLabError
from profilelab.readers import sniff
from profilelab.readers._input import Input, Prefetch, Prefetched, Source, open_input
from profilelab.readers.sniff import protobuf_start

if TYPE_CHECKING:  # the package itself imports no NumPy: the command line prefetches with it
    from profilelab.model.raw import RawProfile


@dataclass(frozen=True)
class Format:
    """A readable format: a name, a content test and a reader."""

    name: str
    sniff: Callable[[bytes], bool]
    read: Callable[[Input], list[RawProfile]]


FORMATS: list[Format] = []


def register(fmt: Format, *, first: bool = False) -> None:
    """Add a format to the registry (``first`` puts it ahead of the others)."""
    FORMATS.insert(0, fmt) if first else FORMATS.append(fmt)


def read(
    source: Source | Prefetched,
    name: str | None = None,
    limit: int | None = None,
    *,
    raw_id: int | None = None,
) -> list[RawProfile]:
    """Decode any supported input into RawProfiles; errors name the input and the problem.
    ``raw_id``: the content id of ``source``'s bytes, when the caller hashed them already."""
    _load_builtin_formats()
    sniffed: list[tuple[bytes, Format | None]] = []

    def judge_head(head: bytes) -> bool:  # known_head, remembering the format it found
        fmt = _format_of(head)
        sniffed.append((head, fmt))
        return fmt is not None or protobuf_start(head)

    if isinstance(source, Prefetched):  # opened already (its name and limit are the defaults)
        inp = source.result()
    else:
        inp = open_input(source, name, limit, sniff=judge_head, raw_id=raw_id)
    if not inp.data:
        raise FormatError(f"{inp.name}: empty input")
    # a small gzip input is its head: its format is known already
    fmt = sniffed[0][1] if sniffed and sniffed[0][0] is inp.data else _format_of(inp.data)
    if fmt is None:
        raise FormatError(
            f"{inp.name}: unrecognized format (known: {', '.join(f.name for f in FORMATS)})"
        )
    inp.hash_beside()  # a big input's content id, hashed while it is decoded
    with reader_errors(inp.name, fmt.name):
        raws = fmt.read(inp)
    from profilelab.readers._overflow import check_sums

    check_sums(raws, inp.name)
    return raws


def _format_of(data: bytes) -> Format | None:
    """The first format (in :data:`FORMATS` order) whose sniff accepts ``data``."""
    return next((fmt for fmt in FORMATS if fmt.sniff(data)), None)


@contextmanager
def reader_errors(name: str, fmt: str) -> Iterator[None]:
    """Whatever a reader raises on bad input ends as one FormatError line naming the input.

    Readers check what they read and raise FormatError themselves; this is the boundary
    that keeps the promise when a check is missing (a wrong type deep in a document):
    the error names the input, the format and the Python error, on one line.
    """
    try:
        yield
    except ProfileLabError as exc:
        raise exc if str(exc).startswith(name) else exc.with_context(name) from None
    except (RecursionError, MemoryError) as exc:
        raise FormatError(
            f"{name}: {fmt} input too deeply nested or too large ({type(exc).__name__})"
        ) from None
    except Exception as exc:  # the boundary described above
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        why = f"{type(exc).__name__}: {first}"
        raise FormatError(f"{name}: malformed {fmt} data ({why})") from None


def prefetch(sources: list[Source]) -> list[Prefetched]:
    """``sources`` opened by a background thread, each checked as :func:`read` checks them:
    pass the results to :func:`read` or :func:`profilelab.load` (see :class:`._input.Prefetch`)."""
    return Prefetch(sources, sniff=known_head).inputs


def known_head(head: bytes) -> bool:
    """Whether the first inflated bytes of an input can start a readable format.

    Used to refuse a gzip member before inflating all of it: a format's own sniff accepts
    the head, or the head starts with a protobuf tag (field >= 1, a known wire type), which
    every binary format does (its first record may be longer than the head).
    """
    _load_builtin_formats()
    return _format_of(head) is not None or protobuf_start(head)


def _lazy(module: str) -> Callable[[Input], list[RawProfile]]:
    """The ``read`` of a built-in reader module, which is imported on its first input."""

    def read(inp: Input) -> list[RawProfile]:
        reader: Callable[[Input], list[RawProfile]] = import_module(module).read
        return reader(inp)

    return read


# The built-in formats, in the order they are tried: text and JSON formats ahead of pprof,
# whose sniff accepts many text first bytes, the strictest first. The sniffs are those of
# readers/sniff.py (standard library only); a reader module is imported when its format
# is the one found, so reading pprof imports no other reader.
_BUILTIN: tuple[tuple[str, Callable[[bytes], bool], str], ...] = (
    ("pstats", sniff.looks_like_pstats, "pstats"),
    ("pprof-legacy", sniff.looks_like_legacy, "legacy"),
    ("perf-script", sniff.looks_like_perf_script, "perf_script"),
    ("folded", sniff.looks_like_folded, "folded"),
    ("speedscope", sniff.looks_like_speedscope, "speedscope"),
    ("trace-event", sniff.looks_like_trace_event, "trace_event"),
    ("cpuprofile", sniff.looks_like_cpuprofile, "cpuprofile"),
    ("jfr", sniff.looks_like_jfr, "jfr"),
    ("otlp", sniff.looks_like_otlp, "otlp"),
    ("pprof", sniff.pprof_start, "pprof"),  # looks_like_pprof, with OTLP tried before it
)

_loaded = False
_loading = threading.Lock()


def _load_builtin_formats() -> None:
    # Under a lock, and marked loaded only once registered: threads that read their first
    # inputs at the same time (a server's handlers) must not see an empty registry.
    global _loaded
    if _loaded:
        return
    with _loading:
        if _loaded:
            return
        FORMATS.extend(
            Format(name, test, _lazy(f"profilelab.readers.{module}"))
            for name, test, module in _BUILTIN
        )
        _loaded = True
