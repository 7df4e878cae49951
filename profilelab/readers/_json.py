"""One JSON loader for every JSON reader: strict numbers, repaired strings, one-line errors.

Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``1e999`` (an infinite float),
none of which JSON allows, and turns a lone UTF-16 surrogate escape (``"\\ud800"``) into a
string that cannot be encoded again, so that it fails far away, in Arrow or Polars. Here:

* ``NaN``, ``Infinity`` and ``-Infinity`` are refused, and so are numbers too large for a
  float (a FormatError naming the token);
* lone surrogate escapes become U+FFFD, the replacement character, as invalid UTF-8 does
  in every reader (pprof's decoder, ``bytes.decode(errors="replace")``);
* nesting deeper than Python's recursion limit, invalid UTF-8 and syntax errors are one
  FormatError each, with the line and column.

Integers of any size are kept: the readers range-check them where they become int64.

orjson parses what it can (faster, and strict about the same things); a
document it refuses, or one with an integer it would turn into a float (20 digits or
more), is parsed again by ``json``, whose errors are the ones reported. While a document
is parsed and read (:func:`paused_gc`), the cyclic garbage collector waits: the millions
of small objects of a big document would otherwise be traversed again and again, for
nothing, since JSON objects form no cycles.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from profilelab.errors import FormatError

_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
# a surrogate escape that is not half of a pair (and not an escaped backslash's text)
_LONE = re.compile(
    rb"(?<!\\)(?:" + _HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW + rb")"
)


def parse(data: bytes | str) -> Any:
    """Parse JSON text strictly (see the module docstring); raises what ``json.loads`` does,
    and ValueError for a refused number. :func:`loads` turns these into one FormatError."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if b"\\u" in raw:
        raw = _LONE.sub(rb"\\ufffd", raw)
    if not _wide_int(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # refused: ``json`` below says why, in the words every reader reports
    return json.loads(raw, parse_constant=_constant, parse_float=_float)


def _wide_int(raw: bytes) -> bool:
    """Whether ``raw`` may hold an integer that orjson reads as a float (beyond 64 bits:
    20 digits, or a minus and 19). A number follows ``:``, ``[``, ``,`` or white space
    (all ``:`` here, and every digit ``0``), a run of digits inside a string (a hex id)
    mostly does not; a string that looks like one only costs the slower parser."""
    text = raw.translate(_TOKENS)
    start = text.lstrip(b":")[:20]
    return (
        b":" + b"0" * 20 in text
        or b":-" + b"0" * 19 in text
        or start == b"0" * 20
        or start == b"-" + b"0" * 19
    )


_TOKENS = bytes.maketrans(b"123456789[, \t\r\n", b"000000000::::::")


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a document is parsed and read, and on again
    after when it was on (a thread that reads meanwhile may turn it on early: that costs
    time, never correctness)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def loads(data: bytes | str, what: str) -> Any:
    """Parse JSON text; FormatError (``what`` is not valid JSON: ...) when it is not."""
    try:
        return parse(data)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"{what} is not valid UTF-8 JSON (byte {exc.start})") from None
    except RecursionError:
        raise FormatError(f"{what}: JSON nested too deeply") from None
    except _Refused as exc:
        raise FormatError(f"{what}: JSON number {exc} is not allowed (not finite)") from None


class _Refused(ValueError):
    pass


def _constant(token: str) -> float:
    raise _Refused(token)


def _float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _Refused(token[:40])
    return value
