"""The OTLP dictionary, validated, and the columns its attributes feed.

* Every index is checked against its table; a bad one is a WireError naming it.
  Index 0 of the mapping and function tables means "none" when that entry is the
  zero value (the spec reserves it); every other index refers to its entry.
* Attributes with a canonical column are consumed: ``process.executable.build_id.*``
  (mapping build id, in that order of preference: gnu, go, htlhash, profiling),
  ``pprof.mapping.has_*`` and ``pprof.location.is_folded`` (the semantic conventions for
  lossless pprof conversion). Other location attributes become labels of the samples whose
  stack contains the location.

The rest of the contract is in :mod:`profilelab.readers._otlp_raw`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from profilelab.model import _arrow
from profilelab.model.ranges import distinct
from profilelab.readers._otlp_payload import Attribute, AttrValue, Dictionary
from profilelab.readers._wire import WireError, ranges

#: Mapping attributes that carry the build id, most preferred first.
BUILD_ID_KEYS = (
    "process.executable.build_id.gnu",
    "process.executable.build_id.go",
    "process.executable.build_id.htlhash",
    "process.executable.build_id.profiling",
)
HAS_KEYS = ("has_functions", "has_filenames", "has_line_numbers", "has_inline_frames")
FOLDED_KEY = "pprof.location.is_folded"
SCOPE_DEFAULT_KEY = "pprof.scope.default_sample_type"
SCOPE_ORDER_KEY = "pprof.scope.sample_type_order"
PROFILE_KEYS = ("comment", "doc_url", "drop_frames", "keep_frames")
#: Deepest stack accepted (locations); deeper ones are treated as damaged input.
MAX_STACK_DEPTH = 1 << 20


def value_text(v: AttrValue, strings: list[str]) -> str:
    """An attribute value as text (profile labels, and label values that are not integers)."""
    if v is None:
        return ""
    kind, x = v
    if kind == "str":
        return str(x)
    if kind == "strindex":
        return strings[x] if 0 <= x < len(strings) else ""
    if kind == "bool":
        return "true" if x else "false"
    if kind in ("int", "double"):
        return repr(x)
    if kind == "bytes":
        return bytes(x).hex()
    return json.dumps(_plain(v, strings), separators=(",", ":"))


def _plain(v: AttrValue, strings: list[str]) -> object:
    if v is None:
        return None
    kind, x = v
    if kind == "array":
        return [_plain(e, strings) for e in x]
    if kind == "kvlist":
        return {k: _plain(e, strings) for k, e in x}
    if kind in ("int", "double", "bool"):
        return x
    return value_text(v, strings)


# ---- strings ---------------------------------------------------------------------------------


class _Strings:
    """The dictionary's string table plus strings made while reading (attribute values)."""

    def __init__(self, table: pa.Array) -> None:
        self.table = table
        self.text: list[str] = table.to_pylist()
        self.n_base = len(self.text)
        self._extra: dict[str, int] = {}

    def index(self, s: str) -> int:
        if s == "":
            return 0
        got = self._extra.get(s)
        if got is None:
            got = self._extra[s] = self.n_base + len(self._extra)
        return got

    def array(self) -> pa.Array | _arrow.Array:
        if not self._extra:
            return self.table
        # model arrays (pa.array of a Python list imports pandas: a quarter of a second of
        # a small OTLP profile's report, more than the report itself)
        return _arrow.concat_strings([self.table, _arrow.strings(list(self._extra))])


def _check(arr: np.ndarray, n: int, what: str) -> None:
    if len(arr) and out_of_range(arr, n):
        bad = np.flatnonzero((arr < 0) | (arr >= n))[0]
        raise WireError(f"{what} {int(arr[bad])} out of range (table has {n} entries)")


def _check_all(n: int, *columns: tuple[np.ndarray, str]) -> None:
    """_check of several columns with one bound: one pass over them all when they are in
    range (the usual case), else each in turn, so the first bad one is the one named."""
    joined = np.concatenate([arr for arr, _ in columns])
    if len(joined) and out_of_range(joined, n):
        for arr, what in columns:
            _check(arr, n, what)


def out_of_range(arr: np.ndarray, n: int) -> bool:
    """Whether some index of ``arr`` (not empty) is negative or ``n`` or more: one pass over
    int64 indices (a negative one, seen as unsigned, is 2^63 or more)."""
    if arr.dtype == np.int64:
        return int(arr.view(np.uint64).max()) >= n
    return bool(arr.min() < 0 or arr.max() >= n)


# ---- the dictionary, validated ---------------------------------------------------------------


@dataclass
class _Labels:
    """Label rows of each attribute-table entry (CSR; an array value gives several rows)."""

    offsets: np.ndarray
    key: np.ndarray
    str: np.ndarray
    num: np.ndarray
    unit: np.ndarray


class Tables:
    """The dictionary after validation, with the columns its attributes feed."""

    def __init__(self, d: Dictionary) -> None:
        _ensure_zero_entries(d)
        self.d = d
        self.strings = _Strings(d.strings)
        if self.strings.text[0] != "":
            raise WireError("the string table must start with the empty string")
        self._validate()
        self.attr_key = [self._text(a.key, "attribute key") for a in d.attributes]
        self.labels = self._attribute_labels()
        self.mapping_build_id, self.mapping_has = self._mapping_columns()
        self.location_folded, self.location_label_attrs = self._location_columns()
        self.mapping_none = _is_zero_mapping(d)
        self.function_none = _is_zero_function(d)
        self._stack_attrs: tuple[np.ndarray, np.ndarray] | None = None

    def _text(self, i: int, what: str) -> str:
        if not 0 <= i < self.strings.n_base:
            raise WireError(
                f"{what} string index {i} out of range (table has {self.strings.n_base})"
            )
        return self.strings.text[i]

    def _validate(self) -> None:
        d, n_str = self.d, self.strings.n_base
        _check_all(
            n_str,
            (d.mapping_file, "mapping file string index"),
            (d.function_name, "function name string index"),
            (d.function_system_name, "function system name string index"),
            (d.function_file, "function file string index"),
        )
        n_attr = len(d.attributes)
        _check_all(
            n_attr,
            (d.mapping_attrs, "mapping attribute index"),
            (d.location_attrs, "location attribute index"),
        )
        _check(d.location_mapping, len(d.mapping_start), "location mapping index")
        _check(d.line_function, len(d.function_name), "line function index")
        _check(d.stack_locations, len(d.location_address), "stack location index")
        depth = d.stack_offsets[1:] - d.stack_offsets[:-1]
        if len(depth) and depth.max() > MAX_STACK_DEPTH:
            i = int(np.argmax(depth))
            raise WireError(f"stack {i} has {int(depth[i])} locations (limit {MAX_STACK_DEPTH})")
        for a in d.attributes:
            self._text(a.unit, "attribute unit")

    def _attribute_labels(self) -> _Labels:
        counts, key, sval, num, unit = [], [], [], [], []
        for a, k in zip(self.d.attributes, self.attr_key, strict=True):
            rows = [] if not k or a.value is None else self._label_rows(a)
            counts.append(len(rows))
            for s, n in rows:
                key.append(a.key)
                sval.append(s)
                num.append(n)
                unit.append(a.unit)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        if not key:  # no attribute makes a label (a receiver's usual post)
            return _Labels(offsets, *(np.zeros(0, dtype=np.int64) for _ in range(4)))
        np.cumsum(counts, out=offsets[1:])
        arr = [np.array(x, dtype=np.int64) for x in (key, sval, num, unit)]
        return _Labels(offsets, *arr)

    def _label_rows(self, a: Attribute) -> list[tuple[int, int]]:
        """(string index, number) per label of one attribute (arrays give several)."""
        values = a.value[1] if a.value is not None and a.value[0] == "array" else [a.value]
        rows = []
        for v in values:
            if v is None:
                continue
            if v[0] == "int":
                rows.append((0, int(v[1])))
            elif v[0] == "strindex":
                self._text(v[1], "attribute value")
                rows.append((int(v[1]), 0))
            else:
                rows.append((self.strings.index(value_text(v, self.strings.text)), 0))
        return rows

    def attr_text(self, i: int) -> tuple[str, str]:
        """(key, value as text) of attribute ``i``."""
        return self.attr_key[i], value_text(self.d.attributes[i].value, self.strings.text)

    def _mapping_columns(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        d = self.d
        n = len(d.mapping_start)
        build_id = np.zeros(n, dtype=np.int64)
        has = {h: np.zeros(n, dtype=bool) for h in HAS_KEYS}
        if len(d.mapping_attrs) == 0:  # the usual mappings: no attributes
            return build_id, has
        rank = np.full(n, len(BUILD_ID_KEYS), dtype=np.int64)
        owner = np.repeat(np.arange(n), np.diff(d.mapping_attr_offsets))
        for m, a in zip(owner.tolist(), d.mapping_attrs.tolist(), strict=True):
            key, text = self.attr_text(a)
            if key in BUILD_ID_KEYS and BUILD_ID_KEYS.index(key) < rank[m]:
                rank[m] = BUILD_ID_KEYS.index(key)
                build_id[m] = self.strings.index(text)
            elif key.startswith("pprof.mapping.") and key[14:] in has:
                has[key[14:]][m] = text == "true"
        return build_id, has

    def _location_columns(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Folded flags, and the other location attributes (those that become labels) as CSR."""
        d = self.d
        n = len(d.location_address)
        folded = np.zeros(n, dtype=bool)
        if len(d.location_attrs) == 0:  # the usual locations: no attributes
            return folded, (np.zeros(n + 1, dtype=np.int64), d.location_attrs)
        owner = np.repeat(np.arange(n), np.diff(d.location_attr_offsets))
        keep = np.ones(len(d.location_attrs), dtype=bool)
        for i, a in enumerate(d.location_attrs.tolist()):
            key, text = self.attr_text(a)
            if key == FOLDED_KEY:
                folded[owner[i]] = text == "true"
                keep[i] = False
            elif self.labels.offsets[a + 1] == self.labels.offsets[a]:
                keep[i] = False  # no label (empty key or value)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[keep], minlength=n), out=offsets[1:])
        return folded, (offsets, d.location_attrs[keep])

    def stack_attrs(self) -> tuple[np.ndarray, np.ndarray]:
        """Per stack, the distinct label attributes of its locations (CSR)."""
        if self._stack_attrs is None:
            self._stack_attrs = _stack_attrs(self.d, *self.location_label_attrs)
        return self._stack_attrs


def _ensure_zero_entries(d: Dictionary) -> None:
    """Give every empty table its zero entry, so that index 0 is always valid."""
    one = np.zeros(1, dtype=np.int64)
    one_u = np.zeros(1, dtype=np.uint64)
    two = np.zeros(2, dtype=np.int64)
    if len(d.mapping_start) == 0:
        d.mapping_start, d.mapping_limit, d.mapping_offset = one_u, one_u, one_u
        d.mapping_file, d.mapping_attr_offsets = one, two
    if len(d.location_address) == 0:
        d.location_mapping, d.location_address = one, one_u
        d.location_attr_offsets, d.line_offsets = two, two
    if len(d.function_name) == 0:
        d.function_name = d.function_system_name = d.function_file = one
        d.function_start_line = one
    if len(d.link_trace_id) == 0:
        d.link_trace_id = d.link_span_id = pa.nulls(1, pa.string())
    if not d.attributes:
        d.attributes = [Attribute(0, None, 0)]
    if len(d.stack_offsets) < 2:
        d.stack_offsets = two


def _is_zero_mapping(d: Dictionary) -> bool:
    return not (
        d.mapping_start[0] or d.mapping_limit[0] or d.mapping_offset[0] or d.mapping_file[0]
    ) and (d.mapping_attr_offsets[1] == 0)


def _is_zero_function(d: Dictionary) -> bool:
    return not (
        d.function_name[0]
        or d.function_system_name[0]
        or d.function_file[0]
        or d.function_start_line[0]
    )


def _stack_attrs(
    d: Dictionary, loc_off: np.ndarray, loc_attrs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_stacks = len(d.stack_offsets) - 1
    if len(loc_attrs) == 0:
        return np.zeros(n_stacks + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    locs = d.stack_locations
    stack_of = np.repeat(np.arange(n_stacks), np.diff(d.stack_offsets))
    counts = np.diff(loc_off)[locs]
    attrs = loc_attrs[ranges(loc_off[:-1][locs], counts)]
    owner = np.repeat(stack_of, counts)
    pairs = distinct(owner * len(d.attributes) + attrs)
    owner, attrs = pairs // len(d.attributes), pairs % len(d.attributes)
    offsets = np.zeros(n_stacks + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_stacks), out=offsets[1:])
    return offsets, attrs
