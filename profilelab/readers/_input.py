"""Getting an input's bytes: from a path, bytes or a file object; gunzip by magic, bounded.

Compression is detected from the content (gzip magic 1f 8b), never from the file name: real
``.pb.gz`` files are often raw protobuf. Every step is bounded by the limits of
:mod:`profilelab.readers.limits`, so that a hostile input fails fast in little memory:

* only regular files are read (a FIFO would block, ``/dev/zero`` never ends), at most
  ``PROFILELAB_MAX_INPUT_BYTES``;
* gzip data is first inflated by a few KiB only, and refused when those bytes start no
  known format (a bomb of zeros stops there);
* the rest inflates up to ``PROFILELAB_MAX_INFLATED_BYTES``, and, once past 64 MiB, up to
  ``PROFILELAB_MAX_INFLATE_RATIO`` times the compressed bytes read so far.

:func:`inflate_bounded` is the one entry point for bytes that arrive any other way (an
HTTP body, a scraped response): it applies the same rules.
"""

from __future__ import annotations

import os
import stat
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

from profilelab.errors import FormatError, TooLargeError
from profilelab.readers import limits

if TYPE_CHECKING:
    from profilelab.model._background import Background

_isal_zlib: ModuleType | None
try:  # ISA-L's inflate, about 1.6 times zlib's speed (the ``isal`` package)
    from isal import isal_zlib as _isal_zlib
except ImportError:  # not installed: the compiled zlib gunzip, else the zlib module
    _isal_zlib = None

_inflate: ModuleType | None
try:
    from profilelab._native import _inflate
except ImportError:  # not built: the zlib module is used
    _inflate = None

GZIP_MAGIC = b"\x1f\x8b"
#: Bytes inflated first, to tell the format before inflating the rest.
HEAD_BYTES = 64 << 10
_CHUNK = 16 << 20
_READ_CHUNK = 1 << 20

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


@dataclass(frozen=True)
class Input:
    """An input's display name and its (decompressed) bytes."""

    name: str
    data: bytes
    raw: bytes  # the bytes as given (compressed or not), for content ids
    #: the content id of ``raw`` when the caller hashed it already (a store's ingest)
    raw_id: int | None = None
    #: the hashing of ``raw`` started by :meth:`hash_beside`, when it was
    _hashing: list[Background[int]] = field(default_factory=list, compare=False, repr=False)

    def hash_beside(self) -> None:
        """Start hashing a big input's content id on a thread of its own, to run beside its
        decoding (blake2b lets go of the GIL): :meth:`content_id` then waits for it. The
        hash of a 150 MB OTLP/JSON document is an eighth of a second of CPU."""
        if self.raw_id is None and not self._hashing and len(self.raw) >= HASH_BESIDE_BYTES:
            from profilelab.model._background import Background
            from profilelab.model.ids import digest_bytes  # imported here, not on the thread

            raw = self.raw
            self._hashing.append(Background(lambda: digest_bytes(raw), "content-id"))

    def content_id(self) -> int:
        """:func:`~profilelab.model.ids.digest_bytes` of :attr:`raw`, hashed once."""
        if self.raw_id is not None:
            return self.raw_id
        if self._hashing:
            return self._hashing[0].result()
        from profilelab.model.ids import digest_bytes  # imports NumPy: not at package import

        return digest_bytes(self.raw)


#: From this many bytes on, an input's content id is hashed beside its decoding.
HASH_BESIDE_BYTES = 1 << 20


def open_input(
    source: Source,
    name: str | None = None,
    limit: int | None = None,
    sniff: Callable[[bytes], bool] | None = None,
    raw_id: int | None = None,
) -> Input:
    """Read ``source`` and gunzip it when it starts with the gzip magic (all bounded).

    ``limit`` overrides ``PROFILELAB_MAX_INFLATED_BYTES``; ``sniff`` judges the first
    inflated bytes (see :func:`inflate_bounded`); ``raw_id`` is the content id of
    ``source``'s bytes when the caller has it (:attr:`Input.raw_id`).
    """
    raw, display = read_bytes(source, name)
    return Input(display, inflate_bounded(raw, display, limit=limit, sniff=sniff), raw, raw_id)


class Prefetch:
    """Inputs opened (:func:`open_input`: read and gunzipped) by a background thread.

    The command line starts one for its files before it imports the libraries a command
    needs (Polars, NumPy, Arrow: a few tenths of a second), so that reading and inflating
    a big input (whose inflate releases the GIL) overlaps those imports.
    :func:`profilelab.readers.read` takes each of :attr:`inputs` as a source and waits for
    it; an error is raised there, in the caller's thread, as opening it there would.
    """

    def __init__(self, sources: list[Source], sniff: Callable[[bytes], bool] | None = None):
        self.inputs = [Prefetched(src) for src in sources]
        self._sniff = sniff
        threading.Thread(target=self._run, name="profilelab-prefetch", daemon=True).start()

    def _run(self) -> None:
        for item in self.inputs:
            try:
                item.input = open_input(item.source, sniff=self._sniff)
            except BaseException as exc:  # raised again by result(), in the caller's thread
                item.error = exc
            item.done.set()


@dataclass
class Prefetched:
    """One input of a :class:`Prefetch`."""

    source: Source
    input: Input | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def result(self) -> Input:
        """The opened input, once the background thread has it (its error, raised)."""
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.input is not None
        return self.input


def read_bytes(source: Source, name: str | None = None) -> tuple[bytes, str]:
    """The bytes of a path, bytes or file object, and its display name; regular files only,
    at most ``PROFILELAB_MAX_INPUT_BYTES`` (TooLargeError past it)."""
    cap = limits.current().max_input_bytes
    if isinstance(source, bytes | bytearray | memoryview):
        display = name or "<bytes>"
        _check_size(len(source), cap, display)
        return bytes(source), display
    if hasattr(source, "read"):
        display = name or str(getattr(source, "name", "<stream>"))
        return _read_capped(source, cap, display), display  # type: ignore[arg-type]
    path = Path(os.fspath(source))  # type: ignore[arg-type]
    display = name or str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FormatError(f"{display}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{display}: is a directory, not a profile") from None
    except OSError as exc:
        raise FormatError(f"{display}: cannot read: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FormatError(f"{display}: is a directory, not a profile")
        raise FormatError(
            f"{display}: not a regular file ({_kind(info.st_mode)}); only files are read"
        )
    with os.fdopen(fd, "rb", buffering=0) as fh:
        _check_size(info.st_size, cap, display)
        try:
            return _read_capped(fh, cap, display, first=info.st_size + 1), display
        except OSError as exc:
            raise FormatError(f"{display}: cannot read: {exc.strerror or exc}") from None


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device")]
    kinds += [(stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((what for test, what in kinds if test(mode)), "not a file")


def _read_capped(fh: BinaryIO, cap: int, name: str, first: int = _READ_CHUNK) -> bytes:
    """Read to the end, refusing to hold more than ``cap`` bytes (``first``: the size of
    the first read; a regular file's size plus one reads it in one call)."""
    parts: list[bytes] = []
    size = 0
    step = min(first, cap + 1)
    while True:
        part = fh.read(step)
        step = _READ_CHUNK
        if not part:
            return b"".join(parts)
        size += len(part)
        _check_size(size, cap, name)
        parts.append(bytes(part))


def _check_size(size: int, cap: int, name: str) -> None:
    if size > cap:
        raise TooLargeError(
            f"{name}: input is larger than the limit of {cap} bytes "
            "(set PROFILELAB_MAX_INPUT_BYTES to raise it)"
        )


def inflate_bounded(
    raw: bytes,
    name: str,
    *,
    limit: int | None = None,
    sniff: Callable[[bytes], bool] | None = None,
    expected: str = "a known format",
) -> bytes:
    """``raw`` gunzipped when it starts with the gzip magic (else ``raw`` itself), bounded.

    The bounded decompression that every input path shares (files, HTTP bodies, scraped
    responses):

    1. ``sniff``, when given, is called with the first inflated bytes (up to
       :data:`HEAD_BYTES`); when it returns False the input is refused with a FormatError
       ("unrecognized format inside gzip", naming ``expected``) before inflating the rest.
    2. The rest inflates up to ``limit`` bytes (default ``PROFILELAB_MAX_INFLATED_BYTES``)
       and, once past 64 MiB, up to ``PROFILELAB_MAX_INFLATE_RATIO`` times the compressed
       bytes consumed so far; past either, :class:`~profilelab.errors.TooLargeError`
       (a FormatError; an HTTP route answers 413) is raised as soon as it happens.

    Damaged and truncated gzip data is a FormatError. Every message starts with ``name``
    and fits on one line.
    """
    if raw[:2] != GZIP_MAGIC:
        return raw
    if sniff is not None:
        head, whole = _head(raw)
        if head and not sniff(head):
            raise FormatError(
                f"{name}: unrecognized format inside gzip (expected {expected}; "
                f"first bytes {head[:8].hex(' ')}); not inflated further"
            )
        if whole and len(head) <= (limits.current().max_inflated_bytes if limit is None else limit):
            return head  # a small input: inflated once (far below the ratio's floor)
    return gunzip(raw, name, limit)


def _head(raw: bytes) -> tuple[bytes, bool]:
    """The first inflated bytes of ``raw`` (empty when even those are damaged), and
    whether they are all of it: one gzip member, inflated to its end within
    :data:`HEAD_BYTES`, followed by nothing :func:`gunzip` would read."""
    codec = _isal_zlib or zlib
    d = codec.decompressobj(wbits=31)
    try:
        head = d.decompress(raw, HEAD_BYTES)
    except codec.error:
        return b"", False  # the full inflate reports the damage with its position
    rest = d.unused_data.lstrip(b"\x00") if d.eof else b""
    return head, d.eof and rest[:2] != GZIP_MAGIC


def gunzip(raw: bytes, name: str, limit: int | None = None) -> bytes:
    """Inflate every gzip member of ``raw``; refuse to grow past the limits.

    Three implementations with the same rules and messages, the first available used:
    ISA-L's inflate (the ``isal`` package), the compiled zlib path (one growing buffer),
    the zlib module.
    """
    lim = limits.current()
    limit = lim.max_inflated_bytes if limit is None else limit
    if limit < 0:
        raise ValueError(f"gunzip limit must not be negative (got {limit})")
    ratio = lim.max_inflate_ratio
    if _isal_zlib is not None:
        return gunzip_stream(raw, name, limit, ratio, _isal_zlib, _whole_output(raw, limit, ratio))
    if _inflate is not None:
        try:
            return _inflate.gunzip(raw, limit, ratio, limits.RATIO_FLOOR)
        except _inflate.LimitError as exc:
            raise TooLargeError(f"{name}: {exc}") from None
        except _inflate.GzipError as exc:
            raise FormatError(f"{name}: {exc}") from None
    return gunzip_python(raw, name, limit, ratio)


def _whole_output(raw: bytes, limit: int, ratio: int) -> int:
    """Output per inflate call that holds any input within the limits in one piece.

    An output within the limits has at most ``limit`` bytes and, past the floor, at most
    ``ratio`` times the whole input (plus the rounding of the ratio check); one byte more
    shows that a limit was passed, so the checks after the call stop a bomb as early in
    memory as chunked checks would, without joining chunks at the end.
    """
    reach = max(limits.RATIO_FLOOR, ratio * (len(raw) + 1)) if ratio else limit
    return min(limit, reach) + 1


def gunzip_python(raw: bytes, name: str, limit: int, ratio: int = 0) -> bytes:
    """The pure-Python gunzip (zlib module, 16 MiB chunks), same rules and messages."""
    return gunzip_stream(raw, name, limit, ratio, zlib, _CHUNK)


def gunzip_stream(
    raw: bytes, name: str, limit: int, ratio: int, codec: ModuleType, step: int
) -> bytes:
    """Gunzip with a zlib-compatible ``codec`` module (zlib, isal_zlib), ``step`` bytes of
    output per call, checking the limits after each call."""
    out: list[bytes] = []
    size = 0
    rest = raw
    while rest:
        d = codec.decompressobj(wbits=31)
        pending = rest
        try:
            while True:
                chunk = d.decompress(pending, step)
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(
                        f"{name}: gzip data inflates past the limit of {limit} bytes "
                        "(set PROFILELAB_MAX_INFLATED_BYTES to raise it)"
                    )
                consumed = len(raw) - len(d.unconsumed_tail)
                if ratio and size > limits.RATIO_FLOOR and size // ratio > consumed:
                    raise TooLargeError(
                        f"{name}: gzip data inflates more than {ratio} times its compressed "
                        "size (a decompression bomb? set PROFILELAB_MAX_INFLATE_RATIO "
                        "to raise it)"
                    )
                out.append(chunk)
                pending = d.unconsumed_tail
                if d.eof or (not pending and not chunk):
                    break
        except codec.error as exc:
            raise FormatError(
                f"{name}: damaged gzip data at byte {len(raw) - len(rest)}: {exc}"
            ) from None
        if not d.eof:
            raise FormatError(f"{name}: truncated gzip stream ({len(raw)} bytes read)")
        rest = d.unused_data.lstrip(b"\x00")
        if rest and rest[:2] != GZIP_MAGIC:
            break  # trailing garbage after a complete member: ignored, as gzip(1) does
    return out[0] if len(out) == 1 else b"".join(out)
