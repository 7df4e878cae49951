"""The Arrow C data interface for :class:`profilelab.model._arrow.Array`, without pyarrow.

Polars takes any object with ``__arrow_c_array__`` (the Arrow PyCapsule interface) as a
Series, reading its buffers where they are. This module fills the two C structs of the
interface (``ArrowSchema``, ``ArrowArray``; https://arrow.apache.org/docs/format/CDataInterface.html)
with ctypes, which Polars has imported already, so that a profile's tables reach Polars
without loading Arrow's C++ library (a fifth of ``import polars`` on the command line).

Ownership, as the interface states it: the consumer calls ``release`` once it is done
(Polars moves the array out of its capsule, so ``release`` may come much later, from the
struct it moved); until then the children's structs, the strings and the NumPy buffers
they point to are kept in ``_LIVE`` under the number stored in ``private_data``. A
parent's ``release`` releases its children. The struct a capsule points to lives as long
as the capsule (``_CAPSULED``); a capsule that was never consumed releases its struct.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class Array(Protocol):
    """What is exported: :class:`profilelab.model._arrow.Array`'s fields."""

    @property
    def format(self) -> str: ...
    @property
    def length(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def null_count(self) -> int: ...
    @property
    def buffers(self) -> Sequence[np.ndarray | None]: ...
    @property
    def children(self) -> Sequence[tuple[str, Array]]: ...


_NULLABLE = 2  # ARROW_FLAG_NULLABLE


class _Schema(ctypes.Structure):
    pass


class _Array(ctypes.Structure):
    pass


_RELEASE_SCHEMA = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Schema))
_RELEASE_ARRAY = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Array))

_Schema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(_Schema))),
    ("dictionary", ctypes.POINTER(_Schema)),
    ("release", _RELEASE_SCHEMA),
    ("private_data", ctypes.c_void_p),
]
_Array._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_Array))),
    ("dictionary", ctypes.POINTER(_Array)),
    ("release", _RELEASE_ARRAY),
    ("private_data", ctypes.c_void_p),
]

#: What each exported struct keeps alive (its children, strings and buffers), by the
#: number in its ``private_data``; an entry leaves when the consumer releases the struct.
_LIVE: dict[int, tuple[Any, ...]] = {}
_NUMBERS = itertools.count(1)


def _release(ptr: Any) -> None:
    """The ``release`` of both structs: children first, then what the struct kept alive."""
    struct = ptr.contents
    for i in range(struct.n_children):
        child = struct.children[i].contents
        if child.release:
            child.release(struct.children[i])
    _LIVE.pop(struct.private_data or 0, None)
    struct.release = type(struct.release)()  # NULL: released


_release_schema = _RELEASE_SCHEMA(_release)
_release_array = _RELEASE_ARRAY(_release)


def _keep(struct: _Schema | _Array, *alive: object) -> None:
    number = next(_NUMBERS)
    struct.private_data = number
    _LIVE[number] = alive


def _schema(arr: Array, name: str) -> _Schema:
    children = [_schema(child, child_name) for child_name, child in arr.children]
    pointers = (ctypes.POINTER(_Schema) * len(children))(*(ctypes.pointer(c) for c in children))
    fmt, label = arr.format.encode(), name.encode()
    struct = _Schema(
        format=fmt,
        name=label,
        flags=_NULLABLE,
        n_children=len(children),
        children=pointers,
        release=_release_schema,
    )
    _keep(struct, fmt, label, pointers, children)
    return struct


def _array(arr: Array) -> _Array:
    children = [_array(child) for _, child in arr.children]
    pointers = (ctypes.POINTER(_Array) * len(children))(*(ctypes.pointer(c) for c in children))
    addresses = (ctypes.c_void_p * len(arr.buffers))(
        *(None if b is None else b.ctypes.data for b in arr.buffers)
    )
    struct = _Array(
        length=arr.length,
        null_count=arr.null_count,
        offset=arr.offset,
        n_buffers=len(arr.buffers),
        n_children=len(children),
        buffers=addresses,
        children=pointers,
        release=_release_array,
    )
    _keep(struct, addresses, pointers, children, arr.buffers)
    return struct


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


#: The structs that capsules point to, by address: a consumer moves a struct's contents
#: out (and releases them later); the struct itself lives as long as its capsule.
_CAPSULED: dict[int, _Schema | _Array] = {}


def _destructor(kind: type[_Schema] | type[_Array], name: bytes) -> Any:
    """A capsule destructor: it releases a struct nobody consumed (the interface asks for
    it), then lets the struct go. It gets the capsule's address only: a Python reference
    to a capsule being freed would free it again."""

    def destroy(capsule: int) -> None:
        address = _capsule_pointer(capsule, name)
        struct = ctypes.cast(address, ctypes.POINTER(kind))
        if struct.contents.release:
            struct.contents.release(struct)
        _CAPSULED.pop(address, None)

    return _DESTRUCTOR(destroy)


_NAMES = (b"arrow_schema", b"arrow_array")
_destroy_schema = _destructor(_Schema, _NAMES[0])
_destroy_array = _destructor(_Array, _NAMES[1])
_DESTROY_SCHEMA = ctypes.cast(_destroy_schema, ctypes.c_void_p).value
_DESTROY_ARRAY = ctypes.cast(_destroy_array, ctypes.c_void_p).value


def export(arr: Array) -> tuple[object, object]:
    """``(schema, array)`` capsules of ``arr``: the value of ``__arrow_c_array__``."""
    schema, array = _schema(arr, ""), _array(arr)
    _CAPSULED[ctypes.addressof(schema)] = schema
    _CAPSULED[ctypes.addressof(array)] = array
    return (
        _capsule_new(ctypes.addressof(schema), _NAMES[0], _DESTROY_SCHEMA),
        _capsule_new(ctypes.addressof(array), _NAMES[1], _DESTROY_ARRAY),
    )
