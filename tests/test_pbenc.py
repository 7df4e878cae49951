"""The one protobuf encoder (writers/_pbenc) against the protobuf runtime.

Random pprof messages are encoded field by field with the encoder's vectorized
primitives, as the writers use them; the bytes must equal the runtime's serialization and
parse back into the same message.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from profilelab._proto import pprof_pb2
from profilelab.writers import _pbenc as pb

i64 = st.integers(-(2**63), 2**63 - 1)
u64 = st.integers(0, 2**64 - 1)
small = st.integers(0, 9)


@st.composite
def profiles(draw: st.DrawFn) -> pprof_pb2.Profile:
    p = pprof_pb2.Profile()
    p.string_table.extend(draw(st.lists(st.binary(max_size=6), max_size=5)))
    for _ in range(draw(st.integers(0, 3))):
        vt = p.sample_type.add()
        vt.type, vt.unit = draw(i64), draw(small)
    for _ in range(draw(st.integers(0, 6))):
        s = p.sample.add()
        s.location_id.extend(draw(st.lists(u64, max_size=5)))
        s.value.extend(draw(st.lists(i64, max_size=3)))
        for _ in range(draw(st.integers(0, 2))):
            lb = s.label.add()
            lb.key, lb.str, lb.num, lb.num_unit = draw(small), draw(small), draw(i64), draw(small)
    for _ in range(draw(st.integers(0, 3))):
        m = p.mapping.add()
        m.id, m.memory_start, m.memory_limit, m.file_offset = (draw(u64) for _ in range(4))
        m.filename, m.build_id = draw(i64), draw(small)
        m.has_functions, m.has_inline_frames = draw(st.booleans()), draw(st.booleans())
    for _ in range(draw(st.integers(0, 4))):
        loc = p.location.add()
        loc.id, loc.mapping_id, loc.address = draw(u64), draw(u64), draw(u64)
        loc.is_folded = draw(st.booleans())
        for _ in range(draw(st.integers(0, 3))):
            ln = loc.line.add()
            ln.function_id, ln.line, ln.column = draw(u64), draw(i64), draw(i64)
    for _ in range(draw(st.integers(0, 3))):
        f = p.function.add()
        f.id = draw(u64)
        f.name, f.system_name, f.filename, f.start_line = (draw(i64) for _ in range(4))
    p.drop_frames, p.time_nanos, p.period, p.doc_url = (draw(i64) for _ in range(4))
    if draw(st.booleans()):
        p.period_type.type, p.period_type.unit = draw(small), draw(small)
    p.comment.extend(draw(st.lists(i64, max_size=3)))
    return p


def arr(values: object, dtype: type = np.int64) -> np.ndarray:
    return np.array(list(values), dtype=dtype)  # type: ignore[call-overload]


def csr(groups: list[list[int]], dtype: type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.cumsum([0, *map(len, groups)]).astype(np.int64)
    return arr((x for g in groups for x in g), dtype), offsets


def uints(field: int, values: list[int]) -> pb.Blob:
    return pb.uint_field(field, arr(values, np.uint64))


def encode(p: pprof_pb2.Profile) -> bytes:
    """The message written with the encoder's primitives, in field-number order."""
    value_types = pb.cat(
        uints(1, [v.type % 2**64 for v in p.sample_type]), uints(2, [v.unit for v in p.sample_type])
    )
    labels = [lb for s in p.sample for lb in s.label]
    label = pb.cat(
        *(
            uints(f, [getattr(lb, k) % 2**64 for lb in labels])
            for f, k in enumerate(("key", "str", "num", "num_unit"), 1)
        )
    )
    label_offsets = np.cumsum([0, *(len(s.label) for s in p.sample)])
    samples = pb.cat(
        pb.packed(1, *csr([list(s.location_id) for s in p.sample], np.uint64)),
        pb.packed(2, *csr([list(s.value) for s in p.sample])),
        pb.group(pb.bytes_field(3, label, keep_empty=True), label_offsets),
    )
    mapping_fields = (
        "id",
        "memory_start",
        "memory_limit",
        "file_offset",
        "filename",
        "build_id",
        "has_functions",
        "has_filenames",
        "has_line_numbers",
        "has_inline_frames",
    )
    mappings = pb.cat(
        *(
            uints(f, [int(getattr(m, k)) % 2**64 for m in p.mapping])
            for f, k in enumerate(mapping_fields, 1)
        )
    )
    lines = [ln for loc in p.location for ln in loc.line]
    line = pb.cat(
        *(
            uints(f, [getattr(ln, k) % 2**64 for ln in lines])
            for f, k in enumerate(("function_id", "line", "column"), 1)
        )
    )
    line_offsets = np.cumsum([0, *(len(loc.line) for loc in p.location)])
    locations = pb.cat(
        uints(1, [loc.id for loc in p.location]),
        uints(2, [loc.mapping_id for loc in p.location]),
        uints(3, [loc.address for loc in p.location]),
        pb.group(pb.bytes_field(4, line, keep_empty=True), line_offsets),
        uints(5, [int(loc.is_folded) for loc in p.location]),
    )
    functions = pb.cat(
        *(
            uints(f, [getattr(fn, k) % 2**64 for fn in p.function])
            for f, k in enumerate(("id", "name", "system_name", "filename", "start_line"), 1)
        )
    )
    strings = pb.from_lengths(
        np.frombuffer(b"".join(p.string_table), np.uint8), arr(map(len, p.string_table))
    )
    period_type = pb.cat(uints(1, [p.period_type.type]), uints(2, [p.period_type.unit]))
    scalar = {7: p.drop_frames, 9: p.time_nanos, 12: p.period, 15: p.doc_url}
    return b"".join(
        [
            pb.repeated(1, value_types),
            pb.repeated(2, samples),
            pb.repeated(3, mappings),
            pb.repeated(4, locations),
            pb.repeated(5, functions),
            pb.repeated(6, strings),
            *(pb.join(uints(f, [v % 2**64])) for f, v in scalar.items() if f < 11),
            pb.join(pb.bytes_field(11, period_type, keep_empty=p.HasField("period_type"))),
            *(pb.join(uints(f, [v % 2**64])) for f, v in scalar.items() if f == 12),
            pb.join(pb.packed(13, *csr([list(p.comment)]))),
            *(pb.join(uints(f, [v % 2**64])) for f, v in scalar.items() if f > 13),
        ]
    )


@settings(max_examples=300, deadline=None)
@given(profiles())
def test_encoder_writes_what_the_protobuf_runtime_writes(p: pprof_pb2.Profile) -> None:
    data = encode(p)
    assert pprof_pb2.Profile.FromString(data) == p
    assert data == p.SerializeToString(deterministic=True)
