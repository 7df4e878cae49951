"""Pack trees and tables into one compact binary payload for the browser.

Layout (little endian): ``b"PLF1"``, a uint32 header length, the UTF-8 JSON header, then
each array 8-byte aligned. The header holds ``meta`` (plain JSON values) and, per array,
its name, dtype (``i32``, ``u32``, ``f64``, ``u8``), byte offset and length. Strings travel
as one UTF-8 text (array ``str_text``) cut by ``str_offsets`` in UTF-16 code units, so the
browser decodes the text once and slices it. Numbers (int64 sums) go as float64, exact up
to 2**53. The same bytes feed the widget (a traitlets ``Bytes``) and static HTML (base64).

What the tree payload carries per node: ``parent``, ``name`` and the values (``total``, or
``base`` and ``new``); the browser derives depth, self (total minus children) and layout.
Per string: ``str_file``, ``str_line``, ``str_package`` (tooltip and colour data of a name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np
import polars as pl

from profilelab.views.tree import DiffTree, FlameTree

MAGIC = b"PLF1"
_DTYPES = {"i32": np.int32, "u32": np.uint32, "f64": np.float64, "u8": np.uint8}


def encode(
    meta: Mapping[str, object], arrays: Mapping[str, np.ndarray], strings: Sequence[str]
) -> bytes:
    """One payload from JSON-able ``meta``, typed ``arrays`` and a string table."""
    text = "".join(strings)
    units = np.array([len(s.encode("utf-16-le")) // 2 for s in strings], dtype=np.uint32)
    offsets = np.zeros(len(strings) + 1, dtype=np.uint32)
    np.cumsum(units, out=offsets[1:])
    all_arrays = dict(arrays)
    all_arrays["str_offsets"] = offsets
    all_arrays["str_text"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    specs, blobs, pos = [], [], 0
    for name, arr in all_arrays.items():
        dtype = _dtype_name(arr)
        data = np.ascontiguousarray(arr, dtype=_DTYPES[dtype]).tobytes()
        specs.append({"name": name, "dtype": dtype, "offset": pos, "length": int(arr.size)})
        pad = -len(data) % 8
        blobs.append(data + b"\0" * pad)
        pos += len(data) + pad
    header = json.dumps({"meta": meta, "arrays": specs}, separators=(",", ":")).encode()
    head = MAGIC + len(header).to_bytes(4, "little") + header
    head += b"\0" * (-len(head) % 8)
    # Array offsets are relative to the end of the (padded) header.
    return head + b"".join(blobs)


def decode(payload: bytes) -> tuple[dict[str, object], dict[str, np.ndarray], list[str]]:
    """The inverse of :func:`encode` (used by tests and tools)."""
    if payload[:4] != MAGIC:
        raise ValueError("not a profilelab flame payload")
    n = int.from_bytes(payload[4:8], "little")
    header = json.loads(payload[8 : 8 + n])
    base = 8 + n + (-(8 + n) % 8)
    arrays: dict[str, np.ndarray] = {}
    for spec in header["arrays"]:
        dtype = _DTYPES[spec["dtype"]]
        start = base + spec["offset"]
        size = spec["length"] * np.dtype(dtype).itemsize
        arrays[spec["name"]] = np.frombuffer(payload[start : start + size], dtype=dtype)
    text = arrays.pop("str_text").tobytes().decode("utf-8").encode("utf-16-le")
    offsets = arrays.pop("str_offsets")
    strings = [text[2 * a : 2 * b].decode("utf-16-le") for a, b in pairwise(offsets.tolist())]
    return header["meta"], arrays, strings


def _dtype_name(arr: np.ndarray) -> str:
    if arr.dtype == np.uint8:
        return "u8"
    if arr.dtype == np.uint32:
        return "u32"
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        return "i32"
    return "f64"


def _string_attributes(tree: FlameTree | DiffTree) -> dict[str, np.ndarray]:
    """Per string: the file, line and package of the node name it is (first node wins)."""
    n = len(tree.strings)
    file = np.full(n, 2, dtype=np.int32)  # 2 = "" in every tree's string table
    line = np.zeros(n, dtype=np.int32)
    package = np.full(n, 2, dtype=np.int32)
    order = np.arange(len(tree) - 1, -1, -1)  # reversed so the first node's values win
    file[tree.name[order]] = tree.file[order]
    line[tree.name[order]] = np.clip(tree.line[order], 0, 2**31 - 1)
    package[tree.name[order]] = tree.package[order]
    return {"str_file": file, "str_line": line, "str_package": package}


def tree_meta(tree: FlameTree | DiffTree, **extra: object) -> dict[str, object]:
    meta: dict[str, object] = {
        "kind": tree.kind,
        "root_path": list(tree.root_path),
        "granularity": tree.granularity,
        "sample_type": tree.sample_type,
        "unit": tree.unit,
        "threshold": tree.threshold,
    }
    if isinstance(tree, FlameTree):
        meta["grand_total"] = tree.grand_total
        meta["root_path_totals"] = list(tree.root_path_totals)
    else:
        meta.update(
            scale=tree.scale,
            normalize=tree.normalize,
            width_by=tree.width_by,
            grand_base=tree.grand_base,
            grand_new=tree.grand_new,
        )
    meta.update(extra)
    return meta


def encode_tree(tree: FlameTree | DiffTree, **extra: object) -> bytes:
    """The payload of one tree (``extra`` goes into meta, e.g. ``width_px``)."""
    other = np.flatnonzero(tree.folded)
    arrays: dict[str, np.ndarray] = {
        "parent": tree.parent.astype(np.int32),
        "name": tree.name.astype(np.int32),
        "other_node": other.astype(np.int32),
        "other_count": tree.folded[other].astype(np.int32),
    }
    if isinstance(tree, FlameTree):
        arrays["total"] = tree.total.astype(np.float64)
    else:
        arrays["base"] = tree.base_total.astype(np.float64)
        arrays["new"] = tree.new_total.astype(np.float64)
    arrays.update(_string_attributes(tree))
    return encode(tree_meta(tree, **extra), arrays, tree.strings)


#: Status codes of a diff table row, in the order the browser names them.
STATUSES = ("same", "changed", "appeared", "disappeared")


def encode_table(table: pl.DataFrame, limit: int = 500, **meta: object) -> bytes:
    """A top table (name, self, total) or diff table (name, base_self, new_self, base_total,
    new_total, status) as a payload, first ``limit`` rows."""
    rows = table.head(limit)
    strings = rows.get_column("name").to_list()
    arrays: dict[str, np.ndarray] = {"name": np.arange(len(strings), dtype=np.int32)}
    for col in ("self", "total", "base_self", "new_self", "base_total", "new_total"):
        if col in rows.columns:
            arrays[col] = rows.get_column(col).to_numpy().astype(np.float64)
    if "status" in rows.columns:
        codes = {s: i for i, s in enumerate(STATUSES)}
        arrays["status"] = np.array(
            [codes[s] for s in rows.get_column("status").to_list()], dtype=np.uint8
        )
    return encode({"kind": "table", "rows": len(strings), **meta}, arrays, strings)
