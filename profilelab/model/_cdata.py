"""The Arrow C data interface for :class:`profilelab.model._arrow.Array`, without pyarrow.

Polars takes any object with ``__arrow_c_array__`` (the Arrow PyCapsule interface) as a
Series, reading its buffers where they are. This module fills the two C structs of the
interface (``ArrowSchema``, ``ArrowArray``; https://arrow.apache.org/docs/format/CDataInterface.html)
with ctypes, which Polars has imported already, so that a profile's tables reach Polars
without loading Arrow's C++ library (a tenth of ``import polars`` on the command line).

Ownership, as the interface states it: each struct's ``private_data`` is a new reference
to a tuple holding its children's structs, its strings and the NumPy buffers it points
to; its ``release`` (C, :mod:`profilelab._native._arrowc`) releases the children and drops
that reference. Polars moves the array out of its capsule and releases it when its
Series goes, from any thread, possibly while an exception is being raised: a Python
callback cannot run then, the C one sets the exception aside. On a thread without the GIL
the C callback does not wait for it (a Python thread may hold it while it waits for
Polars' workers): it queues the reference, which the next export drops. The capsules have no
destructor: the consumer's call is wrapped in :func:`consuming`, which releases what it
left (the schema Polars only reads) and lets the top-level structs go.

Without the compiled callbacks (no C compiler at install), the arrays are made by pyarrow
from the same buffers (:func:`export` imports it then).
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

_releases: tuple[int, int] | None
try:
    from profilelab._native import _arrowc

    _releases = _arrowc.releases()
except ImportError:  # not built: pyarrow makes the arrays (see the module docstring)
    _releases = None


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


# C functions; called from Python (consuming()) with the GIL held, so that they drop their
# reference at once instead of queueing it (see _arrowc.c)
_RELEASE = ctypes.PYFUNCTYPE(None, ctypes.c_void_p)

_Schema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(_Schema))),
    ("dictionary", ctypes.POINTER(_Schema)),
    ("release", _RELEASE),
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
    ("release", _RELEASE),
    ("private_data", ctypes.c_void_p),
]

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


def _keep(struct: _Schema | _Array, *owned: object) -> None:
    """Give ``struct`` its release callback and a new reference to what it points to."""
    assert _releases is not None
    owner = tuple(owned)
    _incref(owner)  # dropped by the C release
    struct.private_data = id(owner)
    struct.release = _RELEASE(_releases[0] if isinstance(struct, _Schema) else _releases[1])


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
    )
    _keep(struct, children, fmt, label, pointers)
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
    )
    _keep(struct, children, addresses, pointers, arr.buffers)
    return struct


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_NAMES = (b"arrow_schema", b"arrow_array")
#: Per thread, the top-level structs exported since :func:`consuming` began.
_EXPORTED = threading.local()


def export(arr: Array) -> tuple[object, object]:
    """``(schema, array)`` capsules of ``arr``: the value of ``__arrow_c_array__``. The
    capsules must be consumed within :func:`consuming`."""
    if _releases is None:
        return _pyarrow(arr).__arrow_c_array__()  # type: ignore[no-any-return]
    pending = getattr(_EXPORTED, "structs", None)
    if pending is None:
        raise RuntimeError("an Array is exported only within _cdata.consuming()")
    _arrowc.drain()  # what Polars released on its own threads meanwhile
    schema, array = _schema(arr, ""), _array(arr)
    pending += [schema, array]
    return (
        _capsule_new(ctypes.addressof(schema), _NAMES[0], None),
        _capsule_new(ctypes.addressof(array), _NAMES[1], None),
    )


@contextlib.contextmanager
def consuming() -> Iterator[None]:
    """Around a consumer's import of exported arrays (``pl.Series(array)``): afterwards,
    release what it did not take over (it moved the array, it only read the schema) and
    let the top-level structs go."""
    outer = getattr(_EXPORTED, "structs", None)
    _EXPORTED.structs = []
    try:
        yield
    finally:
        for struct in _EXPORTED.structs:
            if struct.release:
                struct.release(ctypes.addressof(struct))
        _EXPORTED.structs = outer


def _pyarrow(arr: Array) -> Any:
    """``arr`` made by pyarrow from the same buffers (without the compiled callbacks)."""
    import pyarrow as pa

    children = [_pyarrow(child) for _, child in arr.children]
    buffers = [None if b is None else pa.py_buffer(b) for b in arr.buffers]
    if arr.format == "+s":
        kind = pa.struct(
            [pa.field(n, c.type) for (n, _), c in zip(arr.children, children, strict=True)]
        )
    elif arr.format in ("+l", "+L"):
        kind = (pa.list_ if arr.format == "+l" else pa.large_list)(children[0].type)
    else:
        kind = pa.lib.type_for_alias(_PYARROW_NAMES[arr.format])
    return pa.Array.from_buffers(
        kind, arr.length, buffers, arr.null_count, arr.offset, children=children or None
    )


#: pyarrow's name of each format the model exports.
_PYARROW_NAMES = {
    "b": "bool",
    "c": "int8",
    "s": "int16",
    "i": "int32",
    "l": "int64",
    "C": "uint8",
    "S": "uint16",
    "I": "uint32",
    "L": "uint64",
    "f": "float32",
    "g": "float64",
    "u": "string",
    "U": "large_string",
}
