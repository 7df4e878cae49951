"""pprof reader: profile.proto (gzipped or raw) into a RawProfile.

Two decoders give the same RawProfile and the same errors: the compiled kernel of
:mod:`profilelab._native` (``native``, used when it was built) and the numpy one of
:mod:`profilelab.readers._pprof_wire` (``numpy``, the fallback; no Python loop per sample
either). ``PROFILELAB_PPROF_DECODER=numpy`` (or ``native``) forces one. Both enforce the
same invariants as Go's ``profile.CheckValid``: ids are non-zero and resolve, string
indices are in range, every sample has one value per sample type.
"""

from __future__ import annotations

import os

from profilelab.errors import ConfigError
from profilelab.model._background import Background
from profilelab.model.raw import RawProfile
from profilelab.readers import _pprof_native
from profilelab.readers._input import Input

#: Inputs from this size on are hashed (their content id) by a second thread while they
#: decode: both release the GIL, and a big input's hash takes a tenth of its decode.
PARALLEL_DIGEST_BYTES = 4 << 20


def read(inp: Input) -> list[RawProfile]:
    """Decode one pprof input (already gunzipped) into a RawProfile."""
    if len(inp.raw) < PARALLEL_DIGEST_BYTES:
        raw = decode(inp.data, inp.name)
        raw.source_id = inp.content_id()
        return [raw]
    digest = Background(inp.content_id, "digest")
    raw = decode(inp.data, inp.name)  # (on bad input, the digest is left to finish alone)
    raw.source_id = digest.result()
    return [raw]


DECODER_ENV = "PROFILELAB_PPROF_DECODER"
DECODERS = ("native", "numpy")


def decoder() -> str:
    """The decoder in force: ``PROFILELAB_PPROF_DECODER`` when set, else ``native`` when the
    compiled kernel was built and ``numpy`` otherwise (read on every call: tests set it)."""
    text = os.environ.get(DECODER_ENV, "")
    choice = text.strip().lower()
    if choice not in ("", *DECODERS):
        raise ConfigError(f"{DECODER_ENV}={text!r}: expected one of {', '.join(DECODERS)}")
    if choice == "native" and not _pprof_native.available():
        raise ConfigError(
            f"{DECODER_ENV}=native: the compiled decoder was not built "
            "(reinstall with a C compiler, or unset it to use the numpy decoder)"
        )
    return choice or ("native" if _pprof_native.available() else "numpy")


def decode(data: bytes, name: str, using: str | None = None) -> RawProfile:
    """Decode a raw (not gzipped) pprof message with ``using`` (``native`` or ``numpy``;
    by default :func:`decoder`).

    Both give identical RawProfiles and raise FormatError for the same inputs, with the
    same message, except that a wire-format error is described in each decoder's words.
    """
    return _pprof_native.decode(data, name, compiled=(using or decoder()) == "native")
