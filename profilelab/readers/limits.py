"""The limits every reader works within, read from the environment and validated.

Readers must stay linear in their input: a small hostile file must not take gigabytes or
minutes. The limits below bound what an input may grow into; each one has a default that
real profiles stay far below, and an environment variable that overrides it (documented in
docs/formats.md, "Limits"). A value that is not a whole number in range is refused with
one line (:class:`~profilelab.errors.ConfigError`) naming the variable, the value and what
is expected.

=================================  =========  ===============================================
variable                           default    bounds
=================================  =========  ===============================================
``PROFILELAB_MAX_INPUT_BYTES``     1 GiB      bytes read from one file or stream
``PROFILELAB_MAX_INFLATED_BYTES``  1 GiB      bytes one input may gunzip into
``PROFILELAB_MAX_INFLATE_RATIO``   100        inflated / compressed size, past the floor
``PROFILELAB_MAX_STACK_DEPTH``     20000      frames in one stack rebuilt from a call tree
``PROFILELAB_MAX_STACK_FRAMES``    6000000    frames of all stacks rebuilt from a call tree
=================================  =========  ===============================================

The ratio applies once the output passes :data:`RATIO_FLOOR` (64 MiB), and is checked as the
data inflates, so a bomb stops there: a small gzip of a highly repetitive profile is fine,
a 2 MB gzip of gigabytes is not. Real profiles compress 3 to 30 times; deflate itself
cannot exceed about 1032:1.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from profilelab.errors import ConfigError

#: Inflated sizes up to this many bytes are never refused for their ratio.
RATIO_FLOOR = 64 << 20

_DEFAULTS = {
    "PROFILELAB_MAX_INPUT_BYTES": 1 << 30,
    "PROFILELAB_MAX_INFLATED_BYTES": 1 << 30,
    "PROFILELAB_MAX_INFLATE_RATIO": 100,
    "PROFILELAB_MAX_STACK_DEPTH": 20_000,
    "PROFILELAB_MAX_STACK_FRAMES": 6_000_000,
}
_MAX = (1 << 62) - 1  # far past any real size, and far from the int64 and size_t edges


@dataclass(frozen=True)
class Limits:
    """The limits in force (see the module docstring); :func:`current` reads them."""

    max_input_bytes: int
    max_inflated_bytes: int
    max_inflate_ratio: int
    max_stack_depth: int
    max_stack_frames: int


def current() -> Limits:
    """The limits from the environment (read on every call: cheap, and tests can set them),
    or those this thread holds (:func:`held`)."""
    fixed: Limits | None = getattr(_holding, "limits", None)
    if fixed is not None:
        return fixed
    texts = tuple(os.environ.get(name) for name in _DEFAULTS)
    cached = _parsed.get(texts)
    if cached is None:  # parsed once per distinct setting: every input asks, often
        cached = Limits(*(env_int(name, default) for name, default in _DEFAULTS.items()))
        _parsed.clear()
        _parsed[texts] = cached
    return cached


_parsed: dict[tuple[str | None, ...], Limits] = {}
_holding = threading.local()


@contextmanager
def held() -> Iterator[None]:
    """The limits read once (a bad setting raises here) and kept for this thread until the
    block ends: a batch of thousands of inputs asks for them several times per input, and
    reading five variables from the environment each time costs more than an inflate of
    a small one. A bad setting is not held: each :func:`current` raises it, as before."""
    before = getattr(_holding, "limits", None)
    try:
        _holding.limits = current()
    except ConfigError:
        _holding.limits = None
    try:
        yield
    finally:
        _holding.limits = before


def env_int(name: str, default: int) -> int:
    """A positive whole-number setting from the environment; ConfigError names a bad one."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        value = -1
    if not 1 <= value <= _MAX:
        raise ConfigError(
            f"{name}={text!r}: expected a whole number from 1 to {_MAX} (default {default})"
        )
    return value
