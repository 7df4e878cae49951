"""Stable content-addressed ids, computed with vectorized numpy.

The hash is defined here and nowhere else, so that ids agree across processes, machines
and profilelab versions (Python's ``hash`` and Polars' ``hash`` are not stable):

* a string hashes to FNV-1a 64 over its UTF-8 bytes, then :func:`mix64` of that xor its length;
  a missing (null) string hashes to :data:`NULL_HASH`;
* an integer hashes to ``mix64(value + GOLDEN)``;
* a record of fields hashes by folding: ``h = mix64(h ^ field + GOLDEN)`` field by field;
* a sequence (a stack, leaf first) hashes to
  ``mix64(sum_i mix64(item_i ^ position_key(i)) + depth * GOLDEN)``,
  a sum of strongly mixed terms, so it can be computed by segmented sums;
* a set (a label set) hashes to ``mix64(sum of its members' hashes ^ count)``, independent of order.

Ids are returned as signed int64 (the same 64 bits) for engines without unsigned types.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from profilelab.model import _arrow

_kernel: ModuleType | None
try:
    from profilelab._native import _strhash as _kernel
except ImportError:  # not built (no C compiler at install time): NumPy's steps are used
    _kernel = None
_lookup: ModuleType | None
try:
    from profilelab._native import _lookup
except ImportError:  # not built (no C compiler at install time): NumPy computes it all
    _lookup = None

U64 = np.uint64
GOLDEN = U64(0x9E3779B97F4A7C15)
FNV_OFFSET = U64(0xCBF29CE484222325)
FNV_PRIME = U64(0x100000001B3)
NULL_HASH = U64(0x5BD1E9955BD1E995)
_M1 = U64(0xBF58476D1CE4E5B9)
_M2 = U64(0x94D049BB133111EB)


#: mix64 works through a big array in blocks of this many items, which stay in the CPU's
#: cache through its eight steps (the whole array would go to memory and back for each).
MIX_BLOCK = 1 << 15


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer, applied elementwise to a uint64 array (wrapping arithmetic)."""
    z = np.array(x, dtype=U64)  # a copy, updated in place: two arrays of traffic, not eight
    flat = z.reshape(-1)  # (a view: the copy is contiguous)
    t = np.empty(min(len(flat), MIX_BLOCK), dtype=U64)
    with np.errstate(over="ignore"):
        for start in range(0, len(flat), MIX_BLOCK):
            zb = flat[start : start + MIX_BLOCK]
            tb = t[: len(zb)]
            for shift, mult in ((30, _M1), (27, _M2)):
                np.right_shift(zb, U64(shift), out=tb)
                zb ^= tb
                zb *= mult
            np.right_shift(zb, U64(31), out=tb)
            zb ^= tb
    return z


def hash_ints(values: np.ndarray) -> np.ndarray:
    """Hash integers (any integer dtype; negatives by their two's complement bits)."""
    v = np.asarray(values).astype(np.int64, copy=False).view(U64)
    with np.errstate(over="ignore"):
        return mix64(v + GOLDEN)


def fold(*fields: np.ndarray) -> np.ndarray:
    """Hash records whose fields are already uint64 hashes (all arrays of one length)."""
    h = np.full(len(fields[0]), GOLDEN, dtype=U64)
    with np.errstate(over="ignore"):
        for f in fields:
            h = mix64(h ^ np.asarray(f, dtype=U64) + GOLDEN)
    return h


def fold_with_ints(hashes: Sequence[np.ndarray], ints: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`fold` of records whose fields are ``hashes`` (uint64 hashes, in order) then
    ``ints`` (integers, each hashed as :func:`hash_ints` does), all of one length.

    The compiled kernel (``_native._lookup.fold``) does it in one pass over the rows; NumPy
    takes about ten passes per field (the builder's frames: nine fields of 167,424 rows
    for a batch of 256 small profiles)."""
    fields = [np.ascontiguousarray(h, dtype=U64) for h in hashes]
    fields += [np.ascontiguousarray(np.asarray(v).astype(np.int64, copy=False)) for v in ints]
    if _lookup is None or not fields:
        return _fold_numpy(fields[: len(hashes)], fields[len(hashes) :])
    out = np.empty(len(fields[0]), dtype=U64)
    if any(len(f) != len(out) for f in fields):
        raise ValueError("the fields of a record must be arrays of one length")
    _lookup.fold(tuple(fields[: len(hashes)]), tuple(fields[len(hashes) :]), out)
    return out


def _fold_numpy(hashes: Sequence[np.ndarray], ints: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`fold_with_ints` with NumPy (no compiled kernel): the reference."""
    return fold(*hashes, *(hash_ints(v) for v in ints))


def hash_strings(strings: Any) -> np.ndarray:
    """Hash each string of an Arrow string array (``model._arrow``'s or pyarrow's) or of a
    list of strings (None for null) to uint64."""
    arr = _arrow.adopt(_arrow.text(strings) if isinstance(strings, list | tuple) else strings)
    return hash_strings_at(arr, None)


def hash_strings_at(arr: Any, index: np.ndarray | None, *, dedup: bool = False) -> np.ndarray:
    """:func:`hash_strings` of ``arr[index]`` (of all of ``arr`` when ``index`` is None),
    read where the strings are: their bytes are not gathered first. The compiled kernel
    hashes each string in one go (a tenth of NumPy's time on a big profile's strings);
    what it does not take goes to :func:`hash_strings_numpy`, its tests' reference.

    ``dedup`` (for strings that repeat each other, such as a batch of inputs' tables):
    equal strings are found first and each distinct one is hashed once (the kernel's hash
    table; without the kernel, Arrow's). The same hashes either way."""
    arr = _arrow.adopt(arr)
    if _kernel is None:
        return _hash_distinct_arrow(arr, index) if dedup else hash_strings_numpy(arr, index)
    if index is None or np.asarray(index).dtype.kind in "iu":
        offsets, data = _arrow.string_buffers(arr)
        at = None if index is None else np.ascontiguousarray(index, dtype=np.int64)
        out = np.empty(len(offsets) - 1 if at is None else len(at), dtype=U64)
        if len(offsets) and _kernel.hash_at(offsets, data, at, out, dedup):
            return _with_null_hashes(arr, index, out)
    return hash_strings_numpy(arr, index)


def _hash_distinct_arrow(arr: Any, index: np.ndarray | None) -> np.ndarray:
    """:func:`hash_strings_at` with ``dedup`` without the kernel: Arrow's hash table finds
    the equal strings, NumPy's steps hash each distinct one."""
    import pyarrow.compute as pc  # without a compiler only

    taken = arr if index is None else _arrow.take_strings(arr, np.asarray(index, np.int64))
    if len(taken) == 0:
        return np.empty(0, dtype=U64)
    encoded = pc.dictionary_encode(_arrow.to_pyarrow(taken))
    indices = encoded.indices  # int32; its buffer, as Arrow's to_numpy imports pandas
    codes = np.frombuffer(indices.buffers()[1], dtype=np.int32)[indices.offset :][: len(taken)]
    # a null's code is whatever its slot holds: it is given NULL_HASH after
    hashes = np.append(hash_strings_numpy(encoded.dictionary, None), U64(0))
    out = hashes[np.where(codes < len(hashes) - 1, codes, len(hashes) - 1)]
    return _with_null_hashes(arr, index, out)


def hash_strings_numpy(arr: Any, index: np.ndarray | None) -> np.ndarray:
    """:func:`hash_strings_at` with NumPy (without the compiled kernel)."""
    arr = _arrow.adopt(arr)
    offsets, data = _arrow.string_buffers(arr)
    starts = offsets[:-1] if index is None else offsets[index]
    ends = offsets[1:] if index is None else offsets[index + 1]
    lengths = (ends - starts).astype(np.int64)
    n = len(starts)
    out = np.empty(n, dtype=U64)
    if n == 0:
        return out
    h = np.full(n, FNV_OFFSET, dtype=U64)
    # FNV-1a byte by byte, vectorized across strings: step j touches the strings longer than j.
    order = np.argsort(-lengths, kind="stable")
    sorted_len = lengths[order]
    sorted_start = starts[order]
    hs = h[order]
    max_len = int(sorted_len[0]) if n else 0
    active = n
    with np.errstate(over="ignore"):
        for j in range(max_len):
            while active and sorted_len[active - 1] <= j:
                active -= 1
            byte = data[sorted_start[:active] + j].astype(U64)
            hs[:active] = (hs[:active] ^ byte) * FNV_PRIME
        h[order] = hs
        out = mix64(h ^ lengths.astype(U64))
    return _with_null_hashes(arr, index, out)


def _with_null_hashes(arr: Any, index: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """``out`` (the hashes of ``arr[index]``) with :data:`NULL_HASH` where they are null."""
    if arr.null_count:
        valid = _arrow.valid(arr)
        out[~(valid if index is None else valid[index])] = NULL_HASH
    return out


def hash_sequences(items: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Hash variable-length sequences of uint64 items given by ``offsets`` (length n+1)."""
    items = np.asarray(items, dtype=U64)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    n = len(lengths)
    if n == 0:
        return np.empty(0, dtype=U64)
    pos = np.arange(len(items), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    # position keys mix64(i + GOLDEN), computed once per depth rather than once per item
    depth = int(lengths.max()) if len(items) else 0
    with np.errstate(over="ignore"):
        position_key = mix64(np.arange(depth, dtype=U64) + GOLDEN)
        terms = mix64(items ^ position_key[pos])
    sums = _segment_sums(terms, offsets)
    with np.errstate(over="ignore"):
        return mix64(sums + lengths.astype(U64) * GOLDEN)


def hash_sets(
    member_hashes: np.ndarray, offsets: np.ndarray, counts: np.ndarray | None = None
) -> np.ndarray:
    """Order-independent hash of variable-length sets of uint64 member hashes.

    ``counts`` overrides the member count of each set (when some slots hold 0 for dropped members).
    """
    lengths = np.diff(np.asarray(offsets, dtype=np.int64)) if counts is None else counts
    sums = _segment_sums(np.asarray(member_hashes, dtype=U64), offsets)
    with np.errstate(over="ignore"):
        return mix64(sums ^ lengths.astype(U64))


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Wrapping uint64 sums of ``values`` per segment of ``offsets`` (empty segments: 0)."""
    n = len(offsets) - 1
    out = np.zeros(n, dtype=U64)
    if len(values) == 0:
        return out
    lengths = np.diff(offsets)
    nonempty = lengths > 0
    with np.errstate(over="ignore"):
        out[nonempty] = np.add.reduceat(values, offsets[:-1][nonempty])
    return out


def positions(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The position of each of ``keys`` among the distinct ``ids`` (int32; -1 when absent).

    An open-addressing hash table in NumPy (Fibonacci hashing, linear probing, at most a
    quarter full), filled and probed a round at a time: one gather per round for all keys
    still looking, and few keys need a second round. Several times faster than a join on
    millions of keys (the stack view looks up every frame of every stack).
    """
    keys = np.asarray(keys).astype(np.int64, copy=False)
    ids = np.asarray(ids).astype(np.int64, copy=False)
    bits = max(4, (4 * len(ids)).bit_length())
    mask = (1 << bits) - 1
    slots = np.full(mask + 1, -1, dtype=np.int32)

    def home(x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((x.view(U64) * GOLDEN) >> U64(64 - bits)).astype(np.intp)

    pending, at = np.arange(len(ids), dtype=np.int32), home(ids)
    while len(pending):  # each round, one of the ids wanting a free slot takes it
        free = np.flatnonzero(slots[at] < 0)
        slots[at[free]] = pending[free]
        left = np.ones(len(pending), dtype=bool)
        left[free[slots[at[free]] == pending[free]]] = False
        pending, at = pending[left], (at[left] + 1) & mask
    if len(ids) == 0:
        return np.full(len(keys), -1, dtype=np.int32)
    at = home(keys)
    out = slots[at]  # a key stops at its id or at an empty slot (absent)
    todo = np.flatnonzero((ids[out] != keys) & (out >= 0))  # out -1 reads the last id
    out[todo] = -1
    while len(todo):
        at_t = (at[todo] + 1) & mask
        at[todo] = at_t
        cand = slots[at_t]
        found = (cand >= 0) & (ids[cand] == keys[todo])  # cand -1 reads the last id
        out[todo[found]] = cand[found]
        todo = todo[~found & (cand >= 0)]
    return out


def locate(keys: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """:func:`positions`, by the compiled kernel when it was built (the same table in C,
    a tenth of the time: every frame of every stack of a report's view, 3.1M keys on the
    benchmark profile; every function index row of a commit)."""
    if _lookup is None:
        return positions(keys, distinct)
    out = np.empty(len(keys), dtype=np.int32)
    _lookup.positions(
        np.ascontiguousarray(keys, dtype=np.int64),
        np.ascontiguousarray(distinct, dtype=np.int64),
        out,
    )
    return out


def as_id(h: np.ndarray) -> np.ndarray:
    """View uint64 hashes as signed int64 ids (same bits)."""
    return np.asarray(h, dtype=U64).view(np.int64)


def digest_bytes(data: bytes | memoryview) -> int:
    """A signed 64-bit id for a byte string (an input file's content)."""
    import hashlib

    d = hashlib.blake2b(data, digest_size=8).digest()
    return int.from_bytes(d, "little", signed=True)
