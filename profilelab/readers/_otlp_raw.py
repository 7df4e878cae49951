"""A decoded OTLP payload into RawProfiles: events, grouping, labels, profile metadata.

Contract (also in ``docs/otlp.md``):

* A Sample is expanded into its *events*: ``n`` paired values and timestamps give ``n``
  events; timestamps without values give one event of value 1 per timestamp (the spec's
  "timestamps only" shape, used by the eBPF profiler for on-CPU samples); values without
  timestamps give one event per value; a sample with neither gives one event of value 0.
  Totals are conserved and every timestamp is kept as the event's ``time_ns``.
* The profiles of a scope that carries ``pprof.scope.sample_type_order`` (the semantic
  convention for a pprof converted to OTLP) are one input with several sample types, in
  that order, when their events have identical stacks, attributes, links, timestamps and
  profile metadata; every other profile is an input of its own.
* Sample attributes, and the attributes of the stack's locations (each distinct one once),
  become labels; a link becomes ``trace_id``/``span_id``; resource attributes, the scope's
  name and version (``otel.scope.name``/``otel.scope.version``) and attributes, and profile
  attributes become profile labels; several profile ids become ``otlp.profile_id``.
  ``pprof.profile.*`` and ``pprof.scope.*`` attributes fill the pprof columns instead.
* Only the dictionary entries a profile uses land in its tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profilelab.model import _arrow, ids
from profilelab.model.ranges import distinct
from profilelab.model.raw import RawProfile
from profilelab.readers import _otlp_native
from profilelab.readers._otlp_payload import AttrValue, Payload, ProfileEntry
from profilelab.readers._otlp_tables import (
    PROFILE_KEYS,
    SCOPE_DEFAULT_KEY,
    SCOPE_ORDER_KEY,
    Tables,
    out_of_range,
    value_text,
)
from profilelab.readers._wire import WireError, ranges


@dataclass
class Events:
    """One profile's samples expanded into events (see the module docstring)."""

    sample: np.ndarray  # the sample each event comes from
    stack: np.ndarray
    link: np.ndarray
    value: np.ndarray
    time: np.ndarray | None
    time_valid: np.ndarray | None

    def same_shape(self, other: Events) -> bool:
        if not (
            np.array_equal(self.sample, other.sample)
            and np.array_equal(self.stack, other.stack)
            and np.array_equal(self.link, other.link)
        ):
            return False
        if self.time is None or other.time is None:
            return self.time is None and other.time is None
        return np.array_equal(self.time, other.time) and np.array_equal(
            np.asarray(self.time_valid), np.asarray(other.time_valid)
        )


def to_raw_profiles(payload: Payload, name: str, digest: int) -> list[RawProfile]:
    """Every profile of the payload as RawProfiles (profiles of one input merged)."""
    t = Tables(payload.dictionary)
    events = [_events(e, t) for e in payload.profiles]
    groups = _groups(payload, events)
    single = len(groups) == 1
    raws = []
    for group in groups:
        first = payload.profiles[group[0]]
        source_id = digest if single else _source_id(digest, first)
        raws.append(_raw(payload, t, group, events, name, source_id))
    return raws


def _source_id(digest: int, e: ProfileEntry) -> int:
    h = ids.fold(
        *(
            ids.hash_ints(np.array([x], dtype=np.int64))
            for x in (digest, e.resource, e.scope, e.position)
        )
    )
    return int(ids.as_id(h)[0])


def _what(e: ProfileEntry) -> str:
    return f"profile {e.resource}/{e.scope}/{e.position}"


# ---- events ----------------------------------------------------------------------------------


def _check_samples(e: ProfileEntry, t: Tables) -> None:
    s, what = e.samples, _what(e)
    for arr, n, field in (
        (s.stack, len(t.d.stack_offsets) - 1, "stack index"),
        (s.link, len(t.d.link_trace_id), "link index"),
    ):
        if len(arr) and out_of_range(arr, n):
            i = int(np.flatnonzero((arr < 0) | (arr >= n))[0])
            raise WireError(
                f"{what} sample {i}: invalid {field} {int(arr[i])} (the table has {n} entries)"
            )
    n_attr = len(t.d.attributes)
    if len(s.attrs) and out_of_range(s.attrs, n_attr):
        bad = np.flatnonzero((s.attrs < 0) | (s.attrs >= n_attr))
        i = int(np.searchsorted(s.attr_offsets, bad[0], side="right") - 1)
        raise WireError(
            f"{what} sample {i}: invalid attribute index {int(s.attrs[bad[0]])} "
            f"(the table has {n_attr} entries)"
        )


def _events(e: ProfileEntry, t: Tables) -> Events:
    _check_samples(e, t)
    s = e.samples
    n = s.n
    nv, nt = _lengths(s.value_offsets), _lengths(s.time_offsets)
    if len(s.times) and len(bad := np.flatnonzero((nv > 0) & (nt > 0) & (nv != nt))):
        i = int(bad[0])
        raise WireError(
            f"{_what(e)} sample {i}: {int(nv[i])} values but {int(nt[i])} timestamps "
            "(they must pair up)"
        )
    if len(s.times) == 0 and int(nv.min(initial=1)) == 1 == int(nv.max(initial=1)):
        # the common aggregated shape: one event each
        sample = np.arange(n, dtype=np.int64)
        return Events(sample, s.stack, s.link, s.values, None, None)
    per = np.maximum(np.maximum(nv, nt), 1)
    sample = np.repeat(np.arange(n, dtype=np.int64), per)
    k = np.arange(len(sample), dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
    has_v, has_t = nv[sample] > 0, nt[sample] > 0
    value = np.where(has_t, 1, 0)
    value[has_v] = s.values[s.value_offsets[sample[has_v]] + k[has_v]]
    time = valid = None
    if has_t.any():
        time = np.zeros(len(sample), dtype=np.int64)
        time[has_t] = s.times[s.time_offsets[sample[has_t]] + k[has_t]]
        valid = has_t
    return Events(sample, s.stack[sample], s.link[sample], value, time, valid)


# ---- grouping profiles into inputs -----------------------------------------------------------


def _header(e: ProfileEntry) -> tuple[object, ...]:
    return (
        e.resource,
        e.scope,
        e.period_type,
        e.period,
        e.time_ns,
        e.duration_ns,
        tuple(e.attributes),
        tuple(e.comments),
    )


def _groups(payload: Payload, events: list[Events]) -> list[list[int]]:
    """Indices of the profiles that form each input, in sample-type order.

    Profiles of one scope form one input when the scope says they came from one pprof
    (``pprof.scope.sample_type_order``) and their events are indeed the same; every other
    profile is an input of its own.
    """
    groups: list[list[int]] = []
    for members in _scopes(payload):
        first = payload.profiles[members[0]]
        keys = _order_keys(
            _scope_attr(payload, first.resource, first.scope, SCOPE_ORDER_KEY), len(members)
        )
        if keys is None or len(members) < 2:
            groups.extend([m] for m in members)
            continue
        ordered = [m for _, m in sorted(zip(keys, members, strict=True))]
        if all(_same_input(payload, events, ordered[0], m) for m in ordered[1:]):
            groups.append(ordered)
        else:
            groups.extend([m] for m in ordered)
    return groups


def _same_input(payload: Payload, events: list[Events], i: int, j: int) -> bool:
    a, b = payload.profiles[i], payload.profiles[j]
    return (
        _header(a) == _header(b)
        and events[i].same_shape(events[j])
        and np.array_equal(a.samples.attr_offsets, b.samples.attr_offsets)
        and np.array_equal(a.samples.attrs, b.samples.attrs)
    )


def _scopes(payload: Payload) -> list[list[int]]:
    """Profile indices grouped by scope, in payload order."""
    by_scope: dict[tuple[int, int], list[int]] = {}
    for i, e in enumerate(payload.profiles):
        by_scope.setdefault((e.resource, e.scope), []).append(i)
    return list(by_scope.values())


def _order_keys(order: AttrValue, n: int) -> list[int] | None:
    """A sample_type_order attribute's positions: n distinct integers, or None."""
    if order is None or order[0] != "array":
        return None
    keys = [x[1] if x is not None and x[0] == "int" else None for x in order[1]]
    ints = [k for k in keys if isinstance(k, int)]
    return ints if len(ints) == n == len(set(ints)) else None


def _scope_attr(payload: Payload, r: int, s: int, key: str) -> AttrValue:
    for k, v in payload.scopes[r][s].attributes:
        if k == key:
            return v
    return None


# ---- one input -------------------------------------------------------------------------------


def _raw(
    payload: Payload,
    t: Tables,
    group: list[int],
    events: list[Events],
    name: str,
    source_id: int,
) -> RawProfile:
    entries = [payload.profiles[i] for i in group]
    ev = events[group[0]]
    first = entries[0]
    raw = RawProfile(source=name, source_id=source_id, format="otlp")
    stack_index = _dictionary_fields(raw, t, ev.stack)
    raw.sample_stack = stack_index
    raw.values = np.column_stack([events[i].value for i in group]).astype(np.int64, copy=False)
    raw.sample_types = [_type(t, e.sample_type, _what(e)) for e in entries]
    _event_labels(raw, t, first, ev)
    if ev.time is not None:
        raw.sample_time_ns, raw.sample_time_valid = ev.time, ev.time_valid
    if np.count_nonzero(ev.link):
        # gathered with NumPy: pa.array of an index imports pandas, and Arrow's take
        # pyarrow.compute (their imports are most of a small OTLP profile's report)
        raw.sample_trace_id = _arrow.take_strings(t.d.link_trace_id, ev.link)
        raw.sample_span_id = _arrow.take_strings(t.d.link_span_id, ev.link)
    _metadata(raw, payload, t, entries)
    raw.strings = t.strings.array()
    return raw


def _type(t: Tables, vt: tuple[int, int], what: str) -> tuple[str, str]:
    return (t._text(vt[0], f"{what} type"), t._text(vt[1], f"{what} unit"))


def _lengths(offsets: np.ndarray) -> np.ndarray:
    """The row lengths of CSR offsets (np.diff costs three times more on small arrays)."""
    return offsets[1:] - offsets[:-1]


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """CSR offsets (int64, n + 1) of row lengths."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.add.accumulate(lengths, out=out[1:])
    return out


def _used(n: int, refs: np.ndarray, drop_zero: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(kept positions, new index of every old position) for the entries ``refs`` use
    (but entry 0 when ``drop_zero``: its new index is then -1)."""
    got = _otlp_native.used(n, refs, drop_zero)
    if got is not None:
        return got
    mask = np.zeros(n, dtype=bool)
    mask[refs] = True
    if drop_zero:
        mask[0] = False
    return np.flatnonzero(mask), np.add.accumulate(mask, dtype=np.int64) - 1


def _rows(offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of CSR ``offsets``, the rows ``keep``: (their offsets from 0, the positions they cover)."""
    got = _otlp_native.rows(offsets, keep)
    if got is not None:
        return got
    lengths = _lengths(offsets)[keep]
    return _offsets(lengths), ranges(offsets[keep], lengths)


def _dictionary_fields(raw: RawProfile, t: Tables, stacks: np.ndarray) -> np.ndarray:
    """Fill the raw's mappings, functions, locations and stacks with the entries used by
    ``stacks``; return the raw stack index of each event."""
    d = t.d
    keep_s, new_s = _used(len(d.stack_offsets) - 1, stacks)
    raw.stack_offsets, location_rows = _rows(d.stack_offsets, keep_s)
    refs = d.stack_locations[location_rows]
    keep_l, new_l = _used(len(d.location_address), refs)
    raw.line_offsets, line_rows = _rows(d.line_offsets, keep_l)
    fn = d.line_function[line_rows]
    # A "none" entry 0 is never kept, so its new index is -1 (_used).
    keep_f, new_f = _used(len(d.function_name), fn, drop_zero=t.function_none)
    # Every mapping is kept (as pprof keeps them): few, and they describe the process. A
    # "none" entry 0 is dropped and the others move down by one.
    keep_m = slice(int(t.mapping_none), None)
    raw.stack_locations = new_l[refs]
    raw.location_address = d.location_address[keep_l]
    raw.location_folded = t.location_folded[keep_l]
    raw.location_mapping = d.location_mapping[keep_l] - int(t.mapping_none)
    raw.line_function = new_f[fn]
    raw.line_line = d.line_line[line_rows]
    raw.line_column = d.line_column[line_rows]
    raw.function_name = d.function_name[keep_f]
    raw.function_system_name = d.function_system_name[keep_f]
    raw.function_file = d.function_file[keep_f]
    raw.function_start_line = d.function_start_line[keep_f]
    raw.mapping_start, raw.mapping_limit = d.mapping_start[keep_m], d.mapping_limit[keep_m]
    raw.mapping_offset, raw.mapping_file = d.mapping_offset[keep_m], d.mapping_file[keep_m]
    raw.mapping_build_id = t.mapping_build_id[keep_m]
    raw.mapping_has_functions = t.mapping_has["has_functions"][keep_m]
    raw.mapping_has_filenames = t.mapping_has["has_filenames"][keep_m]
    raw.mapping_has_line_numbers = t.mapping_has["has_line_numbers"][keep_m]
    raw.mapping_has_inline_frames = t.mapping_has["has_inline_frames"][keep_m]
    return new_s[stacks]


def _event_labels(raw: RawProfile, t: Tables, e: ProfileEntry, ev: Events) -> None:
    """Labels of each event: its sample's attributes plus its stack's location attributes."""
    s = e.samples
    n = s.n
    attr_off, attrs = s.attr_offsets, s.attrs
    st_off, st_attrs = t.stack_attrs()
    if len(attrs) == 0 and len(st_attrs) == 0:  # no labels at all (a usual small post)
        raw.label_offsets = np.zeros(len(ev.sample) + 1, dtype=np.int64)
        raw.label_key, raw.label_str = np.zeros(0, np.int64), np.zeros(0, np.int64)
        raw.label_num, raw.label_unit = np.zeros(0, np.int64), np.zeros(0, np.int64)
        return
    if len(st_attrs):
        counts = np.diff(st_off)[s.stack]
        extra = st_attrs[ranges(st_off[s.stack], counts)]
        owner = np.concatenate(
            (np.repeat(np.arange(n), np.diff(attr_off)), np.repeat(np.arange(n), counts))
        )
        n_attr = len(t.d.attributes)
        pairs = distinct(owner * n_attr + np.concatenate((attrs, extra)))
        owner, attrs = pairs // n_attr, pairs % n_attr
        attr_off = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=n))))
    lab = t.labels
    per_attr = np.diff(lab.offsets)[attrs]
    rows = ranges(lab.offsets[attrs], per_attr)
    per_attr_sum = np.concatenate(([0], np.cumsum(per_attr)))
    sample_off = per_attr_sum[attr_off]
    if len(ev.sample) != n or not np.array_equal(ev.sample, np.arange(n)):
        counts = np.diff(sample_off)[ev.sample]
        rows = rows[ranges(sample_off[ev.sample], counts)]
        sample_off = np.concatenate(([0], np.cumsum(counts)))
    raw.label_offsets = sample_off.astype(np.int64)
    raw.label_key, raw.label_str = lab.key[rows], lab.str[rows]
    raw.label_num, raw.label_unit = lab.num[rows], lab.unit[rows]


# ---- profile metadata ------------------------------------------------------------------------


def _metadata(raw: RawProfile, payload: Payload, t: Tables, entries: list[ProfileEntry]) -> None:
    first = entries[0]
    what = _what(first)
    raw.period_type = _type(t, first.period_type, f"{what} period")
    raw.period = first.period
    raw.time_ns = first.time_ns or None
    raw.duration_ns = first.duration_ns or None
    raw.comments = [t._text(i, f"{what} comment") for i in first.comments]
    labels: dict[str, str] = {}
    for key, v in payload.resources[first.resource]:
        labels[key] = value_text(v, t.strings.text)
    scope = payload.scopes[first.resource][first.scope]
    if scope.name:
        labels["otel.scope.name"] = scope.name
    if scope.version:
        labels["otel.scope.version"] = scope.version
    for key, v in scope.attributes:
        if key == SCOPE_DEFAULT_KEY:
            raw.default_sample_type = value_text(v, t.strings.text) or None
        elif key != SCOPE_ORDER_KEY:
            labels[key] = value_text(v, t.strings.text)
    _check_attrs(first, t)
    for a in first.attributes:
        key, text = t.attr_text(a)
        if key.startswith("pprof.profile.") and key[14:] in PROFILE_KEYS:
            _pprof_field(raw, key[14:], t.d.attributes[a].value, text, t)
        elif key:
            labels[key] = text
    pids = [e.profile_id for e in entries if e.profile_id]
    if pids:
        labels["otlp.profile_id"] = ",".join(pids)
    raw.profile_labels = list(labels.items())


def _check_attrs(e: ProfileEntry, t: Tables) -> None:
    n = len(t.d.attributes)
    for a in e.attributes:
        if not 0 <= a < n:
            raise WireError(f"{_what(e)}: invalid attribute index {a} (the table has {n} entries)")


def _pprof_field(raw: RawProfile, field: str, value: object, text: str, t: Tables) -> None:
    if field == "comment":
        items = value[1] if isinstance(value, tuple) and value[0] == "array" else [value]
        raw.comments.extend(value_text(x, t.strings.text) for x in items)  # type: ignore[arg-type]
    elif field == "doc_url":
        raw.doc_url = text or None
    elif field == "drop_frames":
        raw.drop_frames = text or None
    else:
        raw.keep_frames = text or None
