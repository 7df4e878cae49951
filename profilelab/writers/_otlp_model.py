"""Canonical tables into the OTLP profiles model (v1.10+): one dictionary, many profiles.

Every profile row (one sample type of one input) becomes one OTLP Profile. Profiles are
grouped into one ResourceProfiles per distinct set of profile labels (the resource
attributes) and one ScopeProfiles per input (``source_id``), whose profiles are written in
``sample_type_index`` order. One shared dictionary holds every table, deduplicated; index 0
of each table is its zero value and real entries start at 1.

What goes where (the reader maps it back; ``docs/otlp.md``):

* frames -> locations: consecutive frames of a stack that are ``inlined`` into the next
  one form one Location (its lines, innermost first); a frame without function, line and
  column is a Location without lines;
* mapping build ids -> ``process.executable.build_id.gnu`` (the convention of the
  collector's pprof translator), ``has_*`` flags -> ``pprof.mapping.has_*``,
  ``folded`` -> ``pprof.location.is_folded``;
* labels -> sample attributes (several values of one key in one label set -> one array
  attribute), trace/span ids -> links (ids that are not 32/16 hex digits stay attributes
  ``trace_id``/``span_id``), ``local_root_span_id`` -> attribute ``local_root_span_id``;
* ``time_ns`` of a sample -> its one timestamp; values -> one value per sample;
* pprof metadata -> ``pprof.profile.comment/doc_url/drop_frames/keep_frames`` and
  ``pprof.scope.sample_type_order/default_sample_type`` (the semantic conventions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from profilelab.model import ids
from profilelab.model.profile import Profile

AttrValue = tuple[str, object]  # ("str", s) | ("int", i) | ("bool", b) | ("array", [AttrValue])
_HEX_TRACE = r"^[0-9a-fA-F]{32}$"
_HEX_SPAN = r"^[0-9a-fA-F]{16}$"


class Strings:
    """The string table being built (index 0 is "")."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}
        self.values: list[str] = [""]

    def add(self, s: str | None) -> int:
        if not s:
            return 0
        got = self.index.get(s)
        if got is None:
            got = self.index[s] = len(self.values)
            self.values.append(s)
        return got

    def add_series(self, s: pl.Series) -> np.ndarray:
        """The index of every value (null and "" -> 0), vectorized over repeated values."""
        for v in s.drop_nulls().unique(maintain_order=True).to_list():
            self.add(v)
        if s.len() == 0:
            return np.zeros(0, dtype=np.int64)
        return (
            s.replace_strict(self.index, default=0, return_dtype=pl.Int64).fill_null(0).to_numpy()
        )


class Attributes:
    """The attribute table being built: (key, value, unit) -> index, 0 being the empty entry."""

    def __init__(self, strings: Strings) -> None:
        self.strings = strings
        self.index: dict[tuple[int, object, int], int] = {}
        self.entries: list[tuple[int, AttrValue | None, int]] = [(0, None, 0)]

    def add(self, key: str, value: AttrValue, unit: str | None = None) -> int:
        k = (self.strings.add(key), _hashable(value), self.strings.add(unit))
        got = self.index.get(k)
        if got is None:
            got = self.index[k] = len(self.entries)
            self.entries.append((k[0], value, k[2]))
        return got


def _hashable(v: object) -> object:
    if isinstance(v, tuple) and v and v[0] == "array":
        return ("array", tuple(_hashable(x) for x in v[1]))  # type: ignore[attr-defined]
    return v


@dataclass
class Csr:
    offsets: np.ndarray
    values: np.ndarray


def _csr(owner: np.ndarray, values: np.ndarray, n: int) -> Csr:
    """CSR from (owner, value) pairs already ordered by owner."""
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    return Csr(offsets, np.asarray(values, dtype=np.int64))


@dataclass
class Dictionary:
    """The ProfilesDictionary as columns (row 0 of each table is the zero value)."""

    strings: Strings
    attributes: Attributes
    mapping_start: np.ndarray = field(default_factory=lambda: np.zeros(1, np.uint64))
    mapping_limit: np.ndarray = field(default_factory=lambda: np.zeros(1, np.uint64))
    mapping_offset: np.ndarray = field(default_factory=lambda: np.zeros(1, np.uint64))
    mapping_file: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    mapping_attrs: Csr = field(
        default_factory=lambda: Csr(np.zeros(2, np.int64), np.zeros(0, np.int64))
    )
    function_name: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    function_system_name: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    function_file: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    function_start_line: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    location_mapping: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    location_address: np.ndarray = field(default_factory=lambda: np.zeros(1, np.uint64))
    location_attrs: Csr = field(
        default_factory=lambda: Csr(np.zeros(2, np.int64), np.zeros(0, np.int64))
    )
    line_offsets: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))
    line_function: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    line_line: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    line_column: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    link_trace: list[str] = field(default_factory=lambda: [""])  # hex, "" = zero id
    link_span: list[str] = field(default_factory=lambda: [""])
    stacks: Csr = field(default_factory=lambda: Csr(np.zeros(2, np.int64), np.zeros(0, np.int64)))


@dataclass
class SamplesOut:
    stack: np.ndarray
    attrs: Csr
    link: np.ndarray
    value: np.ndarray
    time: np.ndarray  # int64, valid where time_valid
    time_valid: np.ndarray


@dataclass
class ProfileOut:
    sample_type: tuple[int, int]
    period_type: tuple[int, int]
    period: int
    time_ns: int
    duration_ns: int
    attributes: list[int]
    samples: SamplesOut


@dataclass
class ScopeOut:
    attributes: list[tuple[str, AttrValue]]
    profiles: list[ProfileOut]


@dataclass
class ResourceOut:
    attributes: list[tuple[str, AttrValue]]
    scopes: list[ScopeOut]


@dataclass
class Model:
    dictionary: Dictionary
    resources: list[ResourceOut]


def build(p: Profile) -> Model:
    """The OTLP model of every profile in ``p`` (see the module docstring)."""
    strings = Strings()
    d = Dictionary(strings, Attributes(strings))
    mapping_index = _mappings(d, p)
    stack_ids, stack_index = _stacks(d, p, mapping_index)
    label_sets = _label_sets(d, p)
    samples = _with_links(d, p.samples)
    resources: dict[tuple[tuple[str, str], ...], ResourceOut] = {}
    for source in p.profiles["source_id"].unique(maintain_order=True).to_list():
        rows = p.profiles.filter(pl.col("source_id") == source).sort("sample_type_index")
        labels = tuple((x["key"], x["value"]) for x in rows["labels"][0])
        res = resources.setdefault(labels, ResourceOut([(k, ("str", v)) for k, v in labels], []))
        res.scopes.append(_scope(d, samples, rows, stack_ids, stack_index, label_sets))
    return Model(d, list(resources.values()))


# ---- mappings, functions, locations, stacks --------------------------------------------------


def _mappings(d: Dictionary, p: Profile) -> dict[int, int]:
    m = p.mappings
    attrs = d.attributes
    owner, values = [], []
    for i, row in enumerate(m.iter_rows(named=True), start=1):
        if row["build_id"]:
            owner.append(i)
            values.append(attrs.add("process.executable.build_id.gnu", ("str", row["build_id"])))
        for flag in ("has_functions", "has_filenames", "has_line_numbers", "has_inline_frames"):
            if row[flag]:
                owner.append(i)
                values.append(attrs.add(f"pprof.mapping.{flag}", ("bool", True)))
    zero = np.zeros(1, dtype=np.uint64)
    d.mapping_start = np.concatenate((zero, m["memory_start"].to_numpy()))
    d.mapping_limit = np.concatenate((zero, m["memory_limit"].to_numpy()))
    d.mapping_offset = np.concatenate((zero, m["file_offset"].to_numpy()))
    d.mapping_file = np.concatenate(([0], d.strings.add_series(m["binary"])))
    d.mapping_attrs = _csr(np.array(owner, dtype=np.int64), np.array(values), m.height + 1)
    return {mid: i for i, mid in enumerate(m["mapping_id"].to_list(), start=1)}


def _stacks(
    d: Dictionary, p: Profile, mapping_index: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Fill locations, functions and stacks; return (sorted stack ids, their stack index)."""
    st = p.stacks.sort("stack_id")
    depth = st["depth"].to_numpy().astype(np.int64)
    flat = st.select(pl.col("frame_ids").explode()).to_series().drop_nulls()
    frames = pl.DataFrame({"frame_id": flat}).join(
        p.frames, on="frame_id", how="left", maintain_order="left"
    )
    n = len(flat)
    inlined = frames["inlined"].fill_null(False).to_numpy()
    stack_of = np.repeat(np.arange(st.height), depth)
    pos = np.arange(n) - np.repeat(np.cumsum(depth) - depth, depth)
    # pprof: lines of one location are innermost first; a frame inlined into the next
    # frame towards the root belongs to the same location as that frame.
    starts = np.ones(n, dtype=bool)
    starts[1:] = ~inlined[:-1]
    starts[pos == 0] = True
    run_start = np.flatnonzero(starts)
    run_len = np.diff(np.append(run_start, n))
    key = ids.hash_sequences(flat.to_numpy().view(np.uint64), np.append(run_start, n))
    uniq, first_run, loc_of_run = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first_run, kind="stable")  # locations numbered by first appearance
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    loc_index = rank[loc_of_run.ravel()] + 1  # per run
    _locations(d, frames, run_start[first_run[order]], run_len[first_run[order]], mapping_index)
    run_stack = stack_of[run_start]
    d.stacks = _csr(run_stack + 1, loc_index, st.height + 1)  # row 0: the empty stack
    stack_ids = st["stack_id"].to_numpy()
    stack_index = np.arange(1, st.height + 1, dtype=np.int64)
    stack_index[depth == 0] = 0  # the empty stack is the zero entry
    return stack_ids, stack_index


def _locations(
    d: Dictionary,
    frames: pl.DataFrame,
    start: np.ndarray,
    length: np.ndarray,
    mapping_index: dict[int, int],
) -> None:
    rows = (
        np.repeat(start, length)
        + np.arange(int(length.sum()))
        - np.repeat(np.cumsum(length) - length, length)
    )
    f = frames[rows]
    fn_key = f.select("function", "system_name", "file", "start_line")
    has_fn = f["function"].is_not_null().to_numpy()
    uniq = fn_key.filter(pl.Series(has_fn)).unique(maintain_order=True)
    fn_index = np.zeros(f.height, dtype=np.int64)
    if uniq.height:
        numbered = uniq.with_row_index("fn", offset=1)
        fn_index = (
            fn_key.join(
                numbered,
                on=["function", "system_name", "file", "start_line"],
                how="left",
                nulls_equal=True,
                maintain_order="left",
            )["fn"]
            .fill_null(0)
            .to_numpy()
            .astype(np.int64)
        )
        fn_index[~has_fn] = 0
    d.function_name = np.concatenate(([0], d.strings.add_series(uniq["function"])))
    d.function_system_name = np.concatenate(([0], d.strings.add_series(uniq["system_name"])))
    d.function_file = np.concatenate(([0], d.strings.add_series(uniq["file"])))
    d.function_start_line = np.concatenate(([0], uniq["start_line"].fill_null(0).to_numpy()))
    line = f["line"].fill_null(0).to_numpy()
    column = f["column"].fill_null(0).to_numpy()
    first = np.cumsum(length) - length  # row of each location's first frame
    # A lone frame without function, line and column is a location without lines.
    bare = (length == 1) & (fn_index[first] == 0) & (line[first] == 0) & (column[first] == 0)
    keep = ~np.repeat(bare, length)
    d.line_function = fn_index[keep]
    d.line_line = line[keep]
    d.line_column = column[keep]
    n_lines = np.where(bare, 0, length)
    d.line_offsets = np.concatenate(([0, 0], np.cumsum(n_lines))).astype(np.int64)
    mids = f["mapping_id"].gather(first)
    mapping = (
        mids.replace_strict(mapping_index, default=0, return_dtype=pl.Int64).fill_null(0).to_numpy()
        if len(first)
        else np.zeros(0, np.int64)
    )
    d.location_mapping = np.concatenate(([0], mapping))
    address = f["address"].fill_null(0).to_numpy().astype(np.uint64)[first]
    d.location_address = np.concatenate((np.zeros(1, dtype=np.uint64), address))
    folded = f["folded"].fill_null(False).to_numpy()[first]
    if folded.any():
        a = d.attributes.add("pprof.location.is_folded", ("bool", True))
        owner = np.flatnonzero(folded) + 1
        d.location_attrs = _csr(owner, np.full(len(owner), a), len(first) + 1)
    else:
        d.location_attrs = _csr(np.zeros(0, np.int64), np.zeros(0, np.int64), len(first) + 1)


# ---- labels, links, samples ------------------------------------------------------------------


@dataclass
class _LabelSets:
    ids: np.ndarray  # sorted label set ids
    attrs: Csr  # attribute indices of each


def _label_sets(d: Dictionary, p: Profile) -> _LabelSets:
    """Every label set as attribute indices (one attribute per key; several values: an array)."""
    lab = p.labels.with_columns(pl.col("str").is_not_null().alias("is_str"))
    if lab.height == 0:
        return _LabelSets(np.zeros(0, np.int64), Csr(np.zeros(1, np.int64), np.zeros(0, np.int64)))
    groups = lab.group_by("label_set_id", "key", "unit", "is_str", maintain_order=True).agg(
        pl.col("str"), pl.col("num")
    )
    entries = groups.select("key", "unit", "is_str", "str", "num").unique(maintain_order=True)
    index = []
    for key, unit, is_str, svals, nums in entries.iter_rows():
        values: list[AttrValue] = (
            [("str", v) for v in svals] if is_str else [("int", v) for v in nums]
        )
        value = values[0] if len(values) == 1 else ("array", values)
        index.append(d.attributes.add(key, value, unit))
    numbered = entries.with_columns(pl.Series("attr", index, dtype=pl.Int64))
    joined = groups.join(
        numbered, on=["key", "unit", "is_str", "str", "num"], how="left", nulls_equal=True
    ).sort("label_set_id", maintain_order=True)
    set_ids = joined["label_set_id"].to_numpy()
    uniq, owner = np.unique(set_ids, return_inverse=True)
    return _LabelSets(uniq, _csr(owner.ravel(), joined["attr"].to_numpy(), len(uniq)))


def _with_links(d: Dictionary, samples: pl.DataFrame) -> pl.DataFrame:
    """The samples with their link index, and flags for ids that cannot be links."""
    t, s = pl.col("trace_id"), pl.col("span_id")
    ok_t = t.is_not_null() & t.str.contains(_HEX_TRACE)
    ok_s = s.is_not_null() & s.str.contains(_HEX_SPAN)
    df = samples.with_columns(
        pl.when(ok_t).then(t.str.to_lowercase()).otherwise(pl.lit("")).alias("_t"),
        pl.when(ok_s).then(s.str.to_lowercase()).otherwise(pl.lit("")).alias("_s"),
        (t.is_not_null() & ~ok_t).alias("bad_t"),
        (s.is_not_null() & ~ok_s).alias("bad_s"),
    )
    pairs = (
        df.filter((pl.col("_t") != "") | (pl.col("_s") != ""))
        .select("_t", "_s")
        .unique(maintain_order=True)
    )
    d.link_trace = ["", *pairs["_t"].to_list()]
    d.link_span = ["", *pairs["_s"].to_list()]
    numbered = pairs.with_row_index("link", offset=1).with_columns(pl.col("link").cast(pl.Int64))
    out = df.join(numbered, on=["_t", "_s"], how="left", maintain_order="left")
    return out.with_columns(pl.col("link").fill_null(0)).drop("_t", "_s")


def _extra_attrs(d: Dictionary, s: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(sample row, attribute) for ids kept as attributes, ordered by row."""
    owner, values = [], []
    for col, bad in (("trace_id", "bad_t"), ("span_id", "bad_s"), ("local_root_span_id", None)):
        mask = s[col].is_not_null() if bad is None else s[bad]
        rows = np.flatnonzero(mask.to_numpy())
        for r, v in zip(rows.tolist(), s[col].gather(rows).to_list(), strict=True):
            owner.append(r)
            values.append(d.attributes.add(col, ("str", v)))
    order = np.argsort(np.array(owner, dtype=np.int64), kind="stable")
    return np.array(owner, dtype=np.int64)[order], np.array(values, dtype=np.int64)[order]


def _sample_attrs(
    ls: _LabelSets, label_set: np.ndarray, extra: tuple[np.ndarray, np.ndarray]
) -> Csr:
    n = len(label_set)
    if len(ls.ids):
        idx = np.clip(np.searchsorted(ls.ids, label_set), 0, len(ls.ids) - 1)
        found = (label_set != 0) & (ls.ids[idx] == label_set)
        counts = np.where(found, np.diff(ls.attrs.offsets)[idx], 0)
        starts = ls.attrs.offsets[:-1][idx]
    else:
        counts, starts = np.zeros(n, np.int64), np.zeros(n, np.int64)
    total = int(counts.sum())
    gather = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
    values = ls.attrs.values[gather]
    owner = np.repeat(np.arange(n), counts)
    if len(extra[0]):
        owner = np.concatenate((owner, extra[0]))
        values = np.concatenate((values, extra[1]))
        order = np.argsort(owner, kind="stable")
        owner, values = owner[order], values[order]
    return _csr(owner, values, n)


def _scope(
    d: Dictionary,
    samples: pl.DataFrame,
    rows: pl.DataFrame,
    stack_ids: np.ndarray,
    stack_index: np.ndarray,
    ls: _LabelSets,
) -> ScopeOut:
    attrs: list[tuple[str, AttrValue]] = []
    if rows.height > 1:
        order = [("int", int(i)) for i in rows["sample_type_index"]]
        attrs.append(("pprof.scope.sample_type_order", ("array", order)))
        default = rows.filter(pl.col("is_default"))["sample_type"]
        if default.len():
            attrs.append(("pprof.scope.default_sample_type", ("str", default[0])))
    profiles = []
    for row in rows.iter_rows(named=True):
        s = samples.filter(pl.col("profile_id") == row["profile_id"]).sort("sample_index")
        profiles.append(_profile(d, row, s, stack_ids, stack_index, ls))
    return ScopeOut(attrs, profiles)


def _profile(
    d: Dictionary,
    row: dict[str, Any],
    s: pl.DataFrame,
    stack_ids: np.ndarray,
    stack_index: np.ndarray,
    ls: _LabelSets,
) -> ProfileOut:
    st = d.strings
    extra = _extra_attrs(d, s)
    stack = (
        stack_index[np.searchsorted(stack_ids, s["stack_id"].to_numpy())]
        if s.height
        else np.zeros(0, np.int64)
    )
    time = s["time_ns"]
    samples = SamplesOut(
        stack=stack,
        attrs=_sample_attrs(ls, s["label_set_id"].to_numpy(), extra),
        link=s["link"].to_numpy(),
        value=s["value"].to_numpy(),
        time=time.fill_null(0).to_numpy(),
        time_valid=time.is_not_null().to_numpy(),
    )
    attrs = []
    if row["comments"]:
        comments: list[AttrValue] = [("str", c) for c in row["comments"]]
        attrs.append(d.attributes.add("pprof.profile.comment", ("array", comments)))
    for col in ("doc_url", "drop_frames", "keep_frames"):
        if row[col]:
            attrs.append(d.attributes.add(f"pprof.profile.{col}", ("str", row[col])))
    return ProfileOut(
        sample_type=(st.add(row["sample_type"]), st.add(row["sample_unit"])),
        period_type=(st.add(row["period_type"]), st.add(row["period_unit"])),
        period=int(row["period"] or 0),
        time_ns=int(row["time_ns"] or 0),
        duration_ns=int(row["duration_ns"] or 0),
        attributes=attrs,
        samples=samples,
    )
