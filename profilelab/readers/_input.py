"""Getting an input's bytes: from a path, bytes or a file object; gunzip by magic, bounded.

Compression is detected from the content (gzip magic 1f 8b), never from the file name: real
``.pb.gz`` files are often raw protobuf. Inflation stops at :data:`MAX_INFLATED_BYTES`
(``PROFILELAB_MAX_INFLATED_BYTES`` in the environment overrides it) so that a
decompression bomb fails fast with bounded memory.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

from profilelab.errors import FormatError

_inflate: ModuleType | None
try:
    from profilelab._native import _inflate
except ImportError:  # not built: the zlib module is used
    _inflate = None

#: Largest decompressed size accepted, in bytes (default 4 GiB; the pprof format itself
#: cannot exceed 2 GiB per message in most implementations).
MAX_INFLATED_BYTES = int(os.environ.get("PROFILELAB_MAX_INFLATED_BYTES", 4 << 30))
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 16 << 20

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


@dataclass(frozen=True)
class Input:
    """An input's display name and its (decompressed) bytes."""

    name: str
    data: bytes
    raw: bytes  # the bytes as given (compressed or not), for content ids


def open_input(source: Source, name: str | None = None, limit: int | None = None) -> Input:
    """Read ``source`` and gunzip it when it starts with the gzip magic."""
    raw, display = _read(source, name)
    data = gunzip(raw, display, limit) if raw[:2] == GZIP_MAGIC else raw
    return Input(display, data, raw)


def _read(source: Source, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), name or "<bytes>"
    if hasattr(source, "read"):
        data = source.read()  # type: ignore[union-attr]
        return bytes(data), name or str(getattr(source, "name", "<stream>"))
    path = Path(os.fspath(source))  # type: ignore[arg-type]
    display = name or str(path)
    try:
        return path.read_bytes(), display
    except IsADirectoryError:
        raise FormatError(f"{display}: is a directory, not a profile") from None
    except FileNotFoundError:
        raise FormatError(f"{display}: no such file") from None
    except OSError as exc:
        raise FormatError(f"{display}: cannot read: {exc.strerror or exc}") from None


def gunzip(raw: bytes, name: str, limit: int | None = None) -> bytes:
    """Inflate every gzip member of ``raw``; refuse to grow past ``limit`` bytes.

    The compiled path inflates into one growing buffer (peak memory: the output once);
    the pure-Python path, used when it is not built, joins chunks at the end.
    """
    limit = MAX_INFLATED_BYTES if limit is None else limit
    if _inflate is not None:
        try:
            return _inflate.gunzip(raw, limit)
        except _inflate.GzipError as exc:
            raise FormatError(f"{name}: {exc}") from None
    return gunzip_python(raw, name, limit)


def gunzip_python(raw: bytes, name: str, limit: int) -> bytes:
    """The pure-Python gunzip (zlib module, 16 MiB chunks), same rules and messages."""
    out: list[bytes] = []
    size = 0
    rest = raw
    while rest:
        d = zlib.decompressobj(wbits=31)
        pending = rest
        try:
            while True:
                chunk = d.decompress(pending, _CHUNK)
                size += len(chunk)
                if size > limit:
                    raise FormatError(
                        f"{name}: gzip data inflates past the limit of {limit} bytes "
                        "(set PROFILELAB_MAX_INFLATED_BYTES to raise it)"
                    )
                out.append(chunk)
                pending = d.unconsumed_tail
                if d.eof or (not pending and not chunk):
                    break
        except zlib.error as exc:
            raise FormatError(
                f"{name}: damaged gzip data at byte {len(raw) - len(rest)}: {exc}"
            ) from None
        if not d.eof:
            raise FormatError(f"{name}: truncated gzip stream ({len(raw)} bytes read)")
        rest = d.unused_data.lstrip(b"\x00")
        if rest and rest[:2] != GZIP_MAGIC:
            break  # trailing garbage after a complete member: ignored, as gzip(1) does
    return b"".join(out)
