"""Type stub of the compiled stack-view kernels (source: _lookup.c)."""

from typing import Any

def positions(keys: Any, ids: Any, out: Any, /) -> None:
    """``out[k]``: the position of ``keys[k]`` among the distinct ``ids`` (-1 when absent);
    ``keys`` and ``ids`` int64 buffers, ``out`` a writable int32 buffer, one per key."""

def stack_rows(
    offsets: Any,
    frame: Any,
    inlined: Any,
    stack_ids: Any,
    stack_id: Any,
    pos: Any,
    loc: Any,
    li: Any,
    /,
) -> None:
    """The stack view's rows of stacks ``offsets[s]:offsets[s + 1]`` (int64 offsets; ``frame``:
    int32 rows of the frames table, ``inlined``: one byte per frame; ``stack_ids``: int64 per
    stack) into the writable int64 ``stack_id`` and int32 ``pos``, ``loc``, ``li``."""

def flat_cum(
    offsets: Any, keys: Any, values: Any, m: int, flat: Any, cum: Any, leaf_first: bool, /
) -> None:
    """Add each path's ``m`` int64 values to its leaf key's row of ``flat`` (its first key
    with ``leaf_first``, else its last) and once to each of its distinct keys' rows of
    ``cum`` (writable int64, ``m`` per key); ``keys`` int64 in ``0..n_keys - 1``."""

def fold(hashes: tuple[Any, ...], ints: tuple[Any, ...], out: Any, /) -> None:
    """``out[r]``: ``model.ids.fold`` of row ``r``'s fields, the uint64 ``hashes`` first,
    then ``ids.hash_ints`` of the int64 ``ints`` (buffers of 8 bytes per row each; ``out``
    a writable buffer of one uint64 per row; at most 16 fields)."""
