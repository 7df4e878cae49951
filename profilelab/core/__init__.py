"""The query core: one selection, one aggregation, every consumer.

* :class:`Selection` (``selection.py``): sample type, time range, label and frame filters,
  transforms, granularity - built once, validated once;
* ``sampletypes.py``: the offered sample types, pprof's default, choosing one;
* ``restriction.py``: the sample-level step (time, labels, transforms);
* ``transforms.py``: call-tree transforms as pure ``Profile -> Profile`` functions;
* ``aggregate.py``: flat/cum per node (recursion counted once), per stack, label, profile;
* ``regex.py``, ``timeparse.py``, ``selector.py``: the one parser of each syntax;
* ``vocabulary.py``: the shared words (granularities, transforms, formats), importable
  without Polars.

Names are imported lazily so that argument parsers can use ``vocabulary`` cheaply.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Selection": "profilelab.core.selection",
    "restrict": "profilelab.core.restriction",
    "GRANULARITIES": "profilelab.core.vocabulary",
    "TRANSFORMS": "profilelab.core.vocabulary",
    "granularity": "profilelab.core.vocabulary",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
