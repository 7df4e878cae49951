"""Builder corner paths: range expansion, stacks that collapse to the same frames."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pprof_build import PprofBuilder

import profilelab
from profilelab.model.ranges import ranges


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 5)), max_size=30))
def test_ranges_concatenates_index_ranges(pairs: list[tuple[int, int]]) -> None:
    starts = np.array([s for s, _ in pairs], dtype=np.int64)
    lengths = np.array([n for _, n in pairs], dtype=np.int64)
    expected = [s + k for s, n in pairs for k in range(n)]
    assert ranges(starts, lengths).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=8).flatmap(
        lambda pool: st.lists(st.sampled_from(pool), max_size=60) if pool else st.just([])
    )
)
def test_first_distinct_is_numpys_first_occurrences(values: list[int]) -> None:
    """The builder keeps each id's first row: the positions np.unique gives, ascending."""
    from profilelab.model.builder import first_distinct

    ids = np.array(values, dtype=np.int64)
    got = first_distinct(ids)
    want = np.sort(np.unique(ids, return_index=True)[1])
    assert got.tolist() == want.tolist()
    assert got.dtype == want.dtype


_REFS = st.lists(
    st.tuples(
        st.lists(st.integers(-3, 2**40), max_size=12),
        st.sampled_from([np.int64, np.int32, np.uint64, np.uint32]),
        st.integers(0, 2**40),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(_REFS, st.sampled_from([None, -1, 0]))
def test_batch_references_are_shifted_as_input_by_input(
    parts: list[tuple[list[int], type, int]], keep: int | None
) -> None:
    """_concat's one-pass shift of every input's references equals the per-input loop,
    values and dtype, for references of any integer width."""
    from types import SimpleNamespace

    from profilelab.model import _concat

    raws = [SimpleNamespace(ref=np.array(v, dtype=np.int64).astype(t)) for v, t, _ in parts]
    base = np.array([b for _, _, b in parts] + [0], dtype=np.int64)
    got = _concat._shifted(raws, lambda r: r.ref, base, keep)  # type: ignore[arg-type]
    want = _concat.shifted_each(raws, lambda r: r.ref, base, keep)  # type: ignore[arg-type]
    assert got.dtype == want.dtype and got.tolist() == want.tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=6), max_size=8))
def test_batch_offsets_are_joined_as_input_by_input(runs: list[list[int]]) -> None:
    """_concat's one-pass join of CSR offsets equals the per-input loop."""
    from types import SimpleNamespace

    from profilelab.model import _concat

    raws = [SimpleNamespace(off=np.cumsum([0, *r[1:]], dtype=np.int64)) for r in runs]
    got = _concat._csr(raws, lambda r: r.off)  # type: ignore[arg-type]
    want = _concat.csr_each(raws, lambda r: r.off)  # type: ignore[arg-type]
    assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_ranges_refuses_a_negative_length() -> None:
    with pytest.raises(ValueError, match="negative length"):
        ranges(np.array([3, 4]), np.array([2, -1]))


def test_locations_with_equal_frames_share_one_stack() -> None:
    """Two pprof locations with identical content are one frame; their stacks are one."""
    b = PprofBuilder([("samples", "count")])
    main, work = b.function("main"), b.function("work")
    root = b.location(main, address=0x10, line=1)
    twin_a = b.location(work, main, address=0x20, line=2)  # inlined pair
    twin_b = b.location(work, main, address=0x20, line=2)  # same content, other id
    b.sample([twin_a, root], [1])
    b.sample([twin_b, root], [2])
    b.sample([root], [4])
    p = profilelab.load(b.bytes())
    p.check()
    assert p.stacks.height == 2
    assert sorted(p.stacks["depth"].to_list()) == [1, 3]
    per_stack = dict(p.samples.group_by("stack_id").agg(pl.col("value").sum()).iter_rows())
    assert sorted(per_stack.values()) == [3, 4]


def test_reader_given_span_and_time_columns_meet_span_labels() -> None:
    """A reader (OTLP) may fill span ids and times per sample; span labels still win."""
    import pyarrow as pa

    from profilelab.model import builder
    from profilelab.readers.pprof import decode

    b = PprofBuilder([("samples", "count")])
    loc = b.location(b.function("main"))
    for labels in ([("span_id", "AA")], [], [("span_id", "")], [("span_id", "EMPTY")]):
        b.sample([loc], [1], labels)
    raw = decode(b.bytes(), "given.pb")
    # a second "" in the string table: a string label whose text is empty
    raw.strings = pa.array(["" if s == "EMPTY" else s for s in raw.strings.to_pylist()])
    raw.sample_span_id = pa.array(["01", "02", "03", "04"], type=pa.string())
    raw.sample_trace_id = pa.array(["t0", None, "t2", "t3"], type=pa.string())
    raw.sample_time_ns = np.array([5, 6, 7, 8], dtype=np.int64)
    raw.sample_time_valid = np.array([True, False, True, True])
    p = builder.build([raw])
    p.check()
    cols = p.samples.select("span_id", "trace_id", "time_ns").rows()
    assert cols == [
        ("aa", "t0", 5),  # the label wins over the reader's value
        ("02", None, None),  # no label: the reader's value; time invalid -> null
        ("0000000000000000", "t2", 7),  # str index 0 is a numeric label (num 0)
        (None, "t3", 8),  # an empty text gives null, even over the reader's value
    ]


def test_span_columns_of_one_input_repeat_for_each_sample_type() -> None:
    """One input with several sample types: every type's rows carry their sample's span
    and trace ids (the text columns are shared between the types' blocks, not gathered)."""
    b = PprofBuilder([("samples", "count"), ("cpu", "nanoseconds"), ("alloc", "bytes")])
    loc = b.location(b.function("main"))
    spans = ["0A", None, "1f", "0A", None]
    for k, span in enumerate(spans):
        labels = [("span_id", span), ("trace_endpoint", f"/e{k}")] if span else []
        b.sample([loc], [k, 10 * k, 100 * k], labels)
    p = profilelab.load(b.bytes())
    p.check()
    rows = p.samples.select("sample_index", "span_id", "value").rows()
    expected = [
        (k, span.lower() if span else None, scale * k)
        for scale in (1, 10, 100)
        for k, span in enumerate(spans)
    ]
    assert rows == expected
    for part in p.samples.partition_by("profile_id", maintain_order=True):
        assert part["span_id"].to_list() == ["0a", None, "1f", "0a", None]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 6),  # samples
    st.integers(1, 3),  # sample types
    st.data(),
)
def test_one_inputs_samples_equal_the_gathered_ones(
    n: int, n_types: int, data: st.DataObject
) -> None:
    """One input's samples table, a chunk per sample type sharing the per-sample columns,
    equals the table gathered by a row index (the path of many inputs): same rows, same
    types, null columns included."""
    from profilelab.model import _arrow, builder
    from profilelab.model.raw import RawProfile

    int64 = st.integers(-(2**63), 2**63 - 1)
    raw = RawProfile(sample_types=[(f"t{k}", "count") for k in range(n_types)])
    raw.sample_stack = np.zeros(n, dtype=np.int64)
    raw.values = np.array(
        data.draw(st.lists(int64, min_size=n * n_types, max_size=n * n_types)), dtype=np.int64
    ).reshape(n, n_types)
    ints = st.lists(int64, min_size=n, max_size=n)
    texts = st.lists(st.one_of(st.none(), st.text(max_size=3)), min_size=n, max_size=n)
    valid = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    span_ids = data.draw(st.one_of(st.none(), texts))
    per_sample = {
        "stack_id": np.array(data.draw(ints), dtype=np.int64),
        "label_set_id": np.array(data.draw(ints), dtype=np.int64),
        "span_id": _arrow.nulls(n) if span_ids is None else _arrow.text(span_ids),
        "trace_id": _arrow.text(data.draw(texts)),
        "time_ns": _arrow.int64(np.array(data.draw(ints), dtype=np.int64), valid),
    }
    profile_ids = np.array(data.draw(st.lists(int64, min_size=n_types, max_size=n_types)))
    one = builder.one_input_samples(raw, profile_ids, per_sample)
    gathered = builder.gathered_samples([raw], profile_ids, np.array([0, n]), per_sample)
    assert one.schema == gathered.schema
    assert one.rows() == gathered.rows()
