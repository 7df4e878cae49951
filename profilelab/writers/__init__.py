"""Writers: one module per output format, one signature, one registry.

A writer is ``write(profile: Profile, out: BinaryIO) -> None`` registered under a format
name (``pprof``, ``otlp``, ``otlp-json``, ``folded``, ``speedscope``, ...). :func:`write`
looks the name up; :func:`format_for_path` guesses a name from an output file name for the
``convert`` command (reading never trusts names; writing may, when the user gave no ``--to``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from profilelab.errors import QueryError

if TYPE_CHECKING:
    from profilelab.model.profile import Profile


@dataclass(frozen=True)
class Writer:
    name: str
    write: Callable[..., None]  # (profile, out, **format options)
    suffixes: tuple[str, ...] = ()


WRITERS: dict[str, Writer] = {}

#: Modules that register writers when imported (each calls :func:`register`).
_BUILTIN = ("pprof", "otlp", "folded", "speedscope")


def register(writer: Writer) -> None:
    WRITERS[writer.name] = writer


def _load_builtin() -> None:
    for mod in _BUILTIN:
        try:
            importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{mod}":
                raise


def write(
    profile: Profile,
    out: BinaryIO,
    fmt: str,
    *,
    sample_type: str | int | None = None,
    **options: object,
) -> None:
    """Write ``profile`` to ``out`` in format ``fmt``.

    ``sample_type`` (a name such as ``cpu``, or an index as pprof's ``-sample_index``)
    first keeps only the profiles of that sample type; writers of single-type formats
    (folded) otherwise use the default type. ``options`` go to the writer (the folded
    writer's ``root``, ``annotate``, ``unknown``).
    """
    _load_builtin()
    if fmt not in WRITERS:
        raise QueryError(f"unknown output format {fmt!r} (known: {', '.join(sorted(WRITERS))})")
    if sample_type is not None:
        from profilelab.writers._select import select_sample_type

        profile = select_sample_type(profile, sample_type)
    WRITERS[fmt].write(profile, out, **options)


def format_for_path(path: str) -> str | None:
    """The writer whose suffixes match ``path`` (longest suffix wins), or None."""
    _load_builtin()
    best: tuple[int, str] | None = None
    for w in WRITERS.values():
        for suffix in w.suffixes:
            if path.endswith(suffix) and (best is None or len(suffix) > best[0]):
                best = (len(suffix), w.name)
    return best[1] if best else None
