"""Both pprof decoders, compiled and numpy, against the oracle (the protobuf runtime).

Equal means equal: every array (dtype, shape, values), every string, every metadata field;
and for bad input, the same FormatError message, except that a wire-format problem is
described by each decoder in its own words (all say "protobuf decode failed").
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from profilelab._proto import pprof_pb2
from profilelab.errors import ConfigError, FormatError
from profilelab.model import _arrow
from profilelab.model.raw import RawProfile
from profilelab.readers import _pprof_native, pprof
from profilelab.readers._input import open_input
from profilelab.readers.sniff import looks_like_pprof
from tests.conftest import SHIPPED
from tests.pprof_reference import decode_reference

WIRE = "protobuf decode failed"


def test_compiled_kernels_are_built() -> None:
    """setup.py builds them as optional extensions: a silent build failure must show here."""
    from profilelab._native import _inflate, _pprof

    assert callable(_pprof.decode) and callable(_inflate.gunzip)
    assert _pprof_native.available()


def _outcome(decoder, data: bytes) -> RawProfile | str:  # type: ignore[no-untyped-def]
    try:
        return decoder(data, "in.pb")
    except FormatError as exc:
        return str(exc)


def native(data: bytes, name: str) -> RawProfile:
    return pprof.decode(data, name, "native")


def numpy(data: bytes, name: str) -> RawProfile:
    return pprof.decode(data, name, "numpy")


def native_split(data: bytes, name: str) -> RawProfile:
    """The compiled kernel with the samples in two halves on two threads (as it decodes a
    big message's, see pprof_decode.h)."""
    return _pprof_native.decode(data, name, threads=2)


def assert_same(data: bytes) -> RawProfile | str:
    """Decode with the oracle and both decoders and assert identical results (or
    equivalent errors); the compiled one on two threads gives its result exactly, errors
    in the same words at the same byte."""
    ref = _outcome(decode_reference, data)
    one = _outcome(native, data)
    assert_equal_outcomes(ref, one)
    split = _outcome(native_split, data)
    assert_equal_outcomes(one, split)
    assert not isinstance(one, str) or split == one
    assert_equal_outcomes(ref, _outcome(numpy, data))
    return ref


def assert_equal_outcomes(ref: RawProfile | str, fast: RawProfile | str) -> None:
    if isinstance(ref, str) or isinstance(fast, str):
        assert isinstance(ref, str) and isinstance(fast, str), (ref, fast)
        if WIRE in ref or WIRE in fast:
            assert WIRE in ref and WIRE in fast, (ref, fast)
            assert fast.startswith("in.pb: not a pprof profile (protobuf decode failed: ")
        else:
            assert ref == fast
        return
    for f in dataclasses.fields(RawProfile):
        a, b = getattr(ref, f.name), getattr(fast, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, f.name
            assert np.array_equal(a, b), f.name
        elif isinstance(a, pa.Array | _arrow.Array):  # the oracle's pyarrow, the decoder's own
            x, y = _arrow.adopt(a), _arrow.adopt(b)
            assert x.format == y.format and x.to_pylist() == y.to_pylist(), f.name
        else:
            assert a == b, f.name


def _pprof_files(root: Path) -> list[Path]:
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix in (".md", ".json"):
            continue
        try:
            data = open_input(path).data
        except FormatError:
            continue
        if data and looks_like_pprof(data):
            out.append(path)
    return out


def test_identical_on_every_corpus_pprof_file(corpus: Path) -> None:
    files = _pprof_files(corpus)
    assert len(files) > 100
    outcomes = {p: assert_same(open_input(p).data) for p in files}
    decoded = [p for p, o in outcomes.items() if not isinstance(o, str)]
    # most are real profiles; the rest are legacy text formats
    assert len(decoded) > (60 if SHIPPED else 80)


def test_dotnet_profiles_with_function_id_zero_are_rejected_clearly(corpus: Path) -> None:
    testdata = corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata"
    for name in ("dotnet-pprof-3.pb.gz", "dotnet-pprof-73.pb.gz"):
        message = assert_same(open_input(testdata / name).data)
        assert message == (
            "in.pb: function with reserved id 0 (pprof ids start at 1; "
            "go tool pprof rejects this profile too)"
        )


# ---- hand-made wire encodings ---------------------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def ld(field: int, payload: bytes) -> bytes:
    return tag(field, 2) + varint(len(payload)) + payload


def group(field: int, depth: int) -> bytes:
    return tag(field, 3) * depth + tag(field, 4) * depth


def long_varint(n_bytes: int, value: int = 1) -> bytes:
    return bytes([0x80 | value] + [0x80] * (n_bytes - 2) + [0])


# A small valid profile: strings "", "samples", "count", "f"; one function, one location.
STRINGS = b"".join(ld(6, s) for s in (b"", b"samples", b"count", b"f"))
SAMPLE_TYPE = ld(1, tag(1, 0) + varint(1) + tag(2, 0) + varint(2))
FUNCTION = ld(5, tag(1, 0) + varint(1) + tag(2, 0) + varint(3))
LOCATION = ld(4, tag(1, 0) + varint(1) + ld(4, tag(1, 0) + varint(1)))
BASE = STRINGS + SAMPLE_TYPE + FUNCTION + LOCATION


def sample(payload: bytes) -> bytes:
    return ld(2, payload)


WIRE_CASES = {
    "valid": BASE + sample(ld(1, varint(1)) + ld(2, varint(5))),
    "unpacked repeated fields": BASE + sample(tag(1, 0) + varint(1) + tag(2, 0) + varint(5)),
    "samples before everything": sample(ld(1, varint(1)) + ld(2, varint(5))) + BASE,
    "values before locations": BASE + sample(ld(2, varint(5)) + ld(1, varint(1))),
    "mixed packed and unpacked": BASE
    + sample(ld(1, varint(1)) + tag(1, 0) + varint(1) + ld(2, b"") + tag(2, 0) + varint(7)),
    "10-byte varint": BASE + tag(9, 0) + b"\xff" * 9 + b"\x7f",
    "10-byte varint, bits past 64": BASE + tag(9, 0) + b"\xff" * 9 + b"\x02",
    "11-byte varint": BASE + tag(9, 0) + b"\xff" * 10 + b"\x01",
    "truncated varint": BASE + tag(9, 0) + b"\x80",
    "5-byte tag": BASE + b"\xc8\x80\x80\x80\x00" + varint(5),
    "tag wider than 32 bits": BASE + b"\xf8\xff\xff\xff\x1f" + varint(5),
    "6-byte tag": BASE + b"\xc8\x80\x80\x80\x80\x00" + varint(5),
    "largest field number": BASE + b"\xf8\xff\xff\xff\x0f" + varint(5),
    "field number 0": BASE + b"\x00\x05",
    "wire type 6": BASE + tag(20, 6),
    "wire type 7": BASE + tag(20, 7),
    "end-group at top level": BASE + tag(20, 4),
    "unknown group": BASE + tag(20, 3) + tag(1, 0) + varint(1) + tag(20, 4),
    "group with wrong end": BASE + tag(20, 3) + tag(21, 4),
    "unterminated group": BASE + tag(20, 3) + tag(1, 0) + varint(1),
    "groups 100 deep": BASE + group(20, 100),
    "groups 101 deep": BASE + group(20, 101),
    "groups 99 deep in a sample": BASE + sample(group(20, 99)),
    "groups 100 deep in a sample": BASE + sample(group(20, 100)),
    "groups 98 deep in a label": BASE + sample(ld(3, group(20, 98))),
    "groups 99 deep in a label": BASE + sample(ld(3, group(20, 99))),
    "known field with wrong wire type": BASE
    + tag(9, 2)
    + varint(1)
    + b"\x05"
    + tag(1, 0)
    + b"\x01",
    "message field as group": BASE + tag(2, 3) + tag(1, 0) + varint(1) + tag(2, 4),
    "fixed64 location id is unknown": BASE + sample(tag(1, 1) + b"\x01" * 8),
    "unknown fixed32": BASE + tag(20, 5) + b"\x00" * 4,
    "truncated fixed64": BASE + tag(20, 1) + b"\x00" * 4,
    "length past the end": BASE + ld(6, b"abc")[:-1],
    "sub-message past its parent": BASE + sample(ld(3, b"\x08\x01"))[:-1],
    "5-byte length": BASE + tag(6, 2) + long_varint(5, 2) + b"ab",
    "6-byte length": BASE + tag(6, 2) + long_varint(6, 2) + b"ab",
    "packed varint cut by its length": BASE + sample(ld(1, b"\x80")),
    "period_type occurrences merge": BASE
    + ld(11, tag(1, 0) + b"\x01")
    + ld(11, tag(2, 0) + b"\x02"),
    "last scalar wins": BASE + tag(9, 0) + varint(1) + tag(9, 0) + varint(2),
    "packed comments": BASE + ld(13, varint(1) + varint(2)) + tag(13, 0) + varint(3),
    "bool from a 10-byte varint": BASE + ld(3, tag(1, 0) + b"\x01" + tag(7, 0) + long_varint(10)),
    "string index out of range": BASE + tag(12, 0) + b"\x00" + ld(13, varint(99)),
    "negative string index": BASE + tag(14, 0) + varint(-1),
    "unknown location": BASE + sample(ld(1, varint(7)) + ld(2, varint(5))),
    "location id 0 in a sample": BASE + sample(ld(1, varint(0)) + ld(2, varint(5))),
    "too many values": BASE + sample(ld(1, varint(1)) + ld(2, varint(5) + varint(6))),
    "no values": BASE + sample(ld(1, varint(1))),
    "duplicate function id": BASE + FUNCTION,
    "duplicate location id": BASE + LOCATION,
    "function id 0": BASE + ld(5, tag(2, 0) + varint(3)),
    "mapping id 0": BASE + ld(3, tag(2, 0) + varint(1)),
    "location id 0": BASE + ld(4, tag(3, 0) + varint(1)),
    "unknown mapping": BASE + ld(4, tag(1, 0) + varint(2) + tag(2, 0) + varint(9)),
    "unknown function in a line": BASE + ld(4, tag(1, 0) + varint(2) + ld(4, tag(1, 0) + b"\x09")),
    "sparse huge ids": STRINGS
    + SAMPLE_TYPE
    + ld(5, tag(1, 0) + varint(1 << 63) + tag(2, 0) + varint(3))
    + ld(4, tag(1, 0) + varint(1 << 40) + ld(4, tag(1, 0) + varint(1 << 63)))
    + sample(ld(1, varint(1 << 40)) + ld(2, varint(5))),
    "no sample types": STRINGS + FUNCTION + LOCATION + sample(ld(1, varint(1))),
    "string table not starting empty": ld(6, b"x") + SAMPLE_TYPE,
    "empty string table": tag(9, 0) + varint(5),
    "invalid utf-8": BASE + ld(6, b"\xff\xfe bad \xed\xa0\x80 \xf0\x9f\x98"),
    "label string index out of range": BASE
    + sample(ld(1, varint(1)) + ld(2, varint(5)) + ld(3, tag(1, 0) + varint(50))),
    "negative label unit index": BASE
    + sample(
        ld(1, varint(1)) + ld(2, varint(5)) + ld(3, tag(1, 0) + b"\x01" + tag(4, 0) + varint(-1))
    ),
    "mapping build id index past the table": BASE
    + ld(3, tag(1, 0) + varint(1) + tag(6, 0) + varint(1 << 40)),
    "function file index past the table": BASE
    + ld(5, tag(1, 0) + varint(2) + tag(4, 0) + varint(4)),
    "errors in two samples: the first wins": BASE
    + sample(ld(1, varint(9)) + ld(2, varint(5)))
    + sample(ld(1, varint(1))),
    "id error and a later wire error: wire wins": BASE + FUNCTION + tag(20, 7),
    "index error and id error: index first": BASE
    + ld(5, tag(1, 0) + varint(1) + tag(2, 0) + varint(77)),
}


GOOD = sample(ld(1, varint(1)) + ld(2, varint(5)))
UNKNOWN_LOCATION = sample(ld(1, varint(9)) + ld(2, varint(5)))
TWO_VALUES = sample(ld(1, varint(1)) + ld(2, varint(5) + varint(6)))
WIRE_ERROR = sample(tag(20, 7))
# Two samples before and after each problem: decoded on two threads, the first half is the
# first two (or three) samples and the second half the rest.
HALVES = {
    "no error": [GOOD, GOOD, GOOD, GOOD],
    "an id error in the first half": [GOOD, UNKNOWN_LOCATION, GOOD, GOOD],
    "an id error in the second half": [GOOD, GOOD, GOOD, UNKNOWN_LOCATION],
    "errors in both halves: the first wins": [GOOD, TWO_VALUES, GOOD, UNKNOWN_LOCATION],
    "an id error, then a wire error: wire wins": [UNKNOWN_LOCATION, GOOD, GOOD, WIRE_ERROR],
    "wire errors in both halves: the first wins": [GOOD, WIRE_ERROR, WIRE_ERROR, GOOD],
    "a wire error, then an id error": [WIRE_ERROR, GOOD, GOOD, UNKNOWN_LOCATION],
    "an odd count": [GOOD, GOOD, UNKNOWN_LOCATION],
}


@pytest.mark.parametrize("name", sorted(HALVES))
def test_samples_decoded_in_two_halves_give_the_errors_of_one_pass(name: str) -> None:
    assert_same(BASE + b"".join(HALVES[name]))


def test_two_halves_number_stacks_in_first_appearance_order() -> None:
    locations = b"".join(
        ld(4, tag(1, 0) + varint(i) + ld(4, tag(1, 0) + varint(1))) for i in (2, 3)
    )
    stacks = [[1], [2, 1], [1], [3], [2, 1], [3, 3], [1]]
    data = (
        BASE
        + locations
        + b"".join(sample(ld(1, b"".join(map(varint, s))) + ld(2, varint(1))) for s in stacks)
    )
    raw = assert_same(data)
    assert isinstance(raw, RawProfile)
    assert raw.sample_stack.tolist() == [0, 1, 0, 2, 1, 3, 0]
    with pytest.raises(ValueError, match="threads must be 0, 1 or 2"):
        _pprof_native.decode(data, "in.pb", threads=3)


@pytest.mark.parametrize("name", sorted(WIRE_CASES))
def test_wire_edge_cases_decode_like_the_protobuf_runtime(name: str) -> None:
    assert_same(WIRE_CASES[name])


def test_wire_errors_name_the_problem_and_offset() -> None:
    with pytest.raises(FormatError) as err:
        _pprof_native.decode(WIRE_CASES["length past the end"], "cpu.pb")
    assert str(err.value).startswith("cpu.pb: not a pprof profile (protobuf decode failed: ")
    assert "runs past its end at byte" in str(err.value)


def test_invalid_utf8_is_repaired_like_python() -> None:
    raw = assert_same(WIRE_CASES["invalid utf-8"])
    assert isinstance(raw, RawProfile)
    expected = b"\xff\xfe bad \xed\xa0\x80 \xf0\x9f\x98".decode("utf-8", errors="replace")
    assert _arrow.string_at(raw.strings, 4) == expected


# ---- property tests -----------------------------------------------------------------------

texts = st.one_of(st.text(max_size=12), st.binary(max_size=12))
ids_small = st.lists(st.integers(1, 40), unique=True, max_size=6)
ids_huge = st.lists(st.integers(1, 2**64 - 1), unique=True, max_size=6)


@st.composite
def profiles(draw: st.DrawFn) -> pprof_pb2.Profile:
    """Random pprof messages: mostly valid, sometimes not (both decoders must agree)."""
    p = pprof_pb2.Profile()
    strings = [b""] + [
        t.encode() if isinstance(t, str) else t for t in draw(st.lists(texts, max_size=8))
    ]
    p.string_table.extend(strings)
    s = st.integers(0, len(strings) - 1) if draw(st.integers(0, 9)) != 7 else st.integers(-2, 12)
    for _ in range(draw(st.integers(0 if draw(st.integers(0, 9)) == 7 else 1, 3))):
        vt = p.sample_type.add()
        vt.type, vt.unit = draw(s), draw(s)
    p.default_sample_type, p.drop_frames, p.doc_url = draw(s), draw(s), draw(s)
    p.period_type.type, p.period = draw(s), draw(st.integers(-(2**63), 2**63 - 1))
    p.time_nanos = draw(st.integers(0, 2**62))
    p.comment.extend(draw(st.lists(s, max_size=2)))
    mapping_ids = draw(ids_huge if draw(st.booleans()) else ids_small)
    for mid in mapping_ids:
        m = p.mapping.add()
        m.id, m.filename, m.build_id = mid, draw(s), draw(s)
        m.memory_start = draw(st.integers(0, 2**64 - 1))
        m.has_functions = draw(st.booleans())
    function_ids = draw(ids_huge if draw(st.booleans()) else ids_small)
    for fid in function_ids:
        f = p.function.add()
        f.id, f.name, f.system_name, f.filename = fid, draw(s), draw(s), draw(s)
        f.start_line = draw(st.integers(-5, 10**6))
    location_ids = draw(ids_huge if draw(st.booleans()) else ids_small)
    fids = st.sampled_from([0, *function_ids]) if function_ids else st.just(0)
    for lid in location_ids:
        loc = p.location.add()
        loc.id = lid
        loc.mapping_id = draw(st.sampled_from([0, *mapping_ids]))
        loc.address, loc.is_folded = draw(st.integers(0, 2**64 - 1)), draw(st.booleans())
        for fid in draw(st.lists(fids, max_size=3)):
            ln = loc.line.add()
            ln.function_id, ln.line = fid, draw(st.integers(-3, 10**5))
    lids = st.sampled_from(location_ids) if location_ids else st.nothing()
    n_types = len(p.sample_type)
    for _ in range(draw(st.integers(0, 8))):
        smp = p.sample.add()
        smp.location_id.extend(draw(st.lists(lids, max_size=5)) if location_ids else [])
        count = n_types if draw(st.integers(0, 19)) != 7 else draw(st.integers(0, 4))
        smp.value.extend(
            draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=count, max_size=count))
        )
        for _ in range(draw(st.integers(0, 2))):
            lb = smp.label.add()
            lb.key, lb.str, lb.num, lb.num_unit = (
                draw(s),
                draw(s),
                draw(st.integers(-9, 9)),
                draw(s),
            )
    if draw(st.integers(0, 19)) == 7:  # an invalid id now and then (7: hypothesis favours 0)
        p.location.add().id = draw(st.sampled_from([0, *location_ids]))
    return p


def _fields(data: bytes) -> list[tuple[int, bytes]]:
    """Top-level (field number, encoded field) pairs of a message."""
    from profilelab.readers.sniff import protobuf_fields

    out, pos = [], 0
    for field, _wire, _start, end in protobuf_fields(data, limit=1 << 30) or []:
        out.append((field, data[pos:end]))
        pos = end
    return out


def _reencode(p: pprof_pb2.Profile, rnd: random.Random) -> bytes:
    """The same message with fields reordered (same-number fields keep their order),
    repeated scalars unpacked at random, and unknown fields sprinkled in."""
    chunks = [c for _, c in _fields(p.SerializeToString()) if not c.startswith(tag(2, 2))]
    for smp in p.sample:
        parts = [(1, tag(1, 0) + varint(x)) for x in smp.location_id]
        parts += [(2, tag(2, 0) + varint(x)) for x in smp.value]
        parts += [(3, ld(3, lb.SerializeToString())) for lb in smp.label]
        if rnd.random() < 0.5:  # packed, as protobuf writes them
            parts = [(f, c) for f, c in parts if f == 3]
            parts.append((1, ld(1, b"".join(varint(x) for x in smp.location_id))))
            parts.append((2, ld(2, b"".join(varint(x) for x in smp.value))))
        parts.append((99, tag(99, 3) + tag(1, 5) + b"abcd" + tag(99, 4)))
        chunks.append(ld(2, b"".join(c for _, c in _interleave(parts, rnd))))
    chunks += [tag(77, 0) + varint(rnd.getrandbits(64)), ld(78, b"junk"), tag(79, 1) + b"8bytes!!"]
    keyed = [(_fields(c)[0][0], c) for c in chunks]
    return b"".join(c for _, c in _interleave(keyed, rnd))


def _interleave(items: list[tuple[int, bytes]], rnd: random.Random) -> list[tuple[int, bytes]]:
    """A random order that keeps items with the same key in their original order."""
    queues: dict[int, list[bytes]] = {}
    for key, item in items:
        queues.setdefault(key, []).append(item)
    keys = [k for k, q in queues.items() for _ in q]
    rnd.shuffle(keys)
    return [(k, queues[k].pop(0)) for k in keys]


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(profiles())
def test_random_messages_decode_identically(p: pprof_pb2.Profile) -> None:
    assert_same(p.SerializeToString())


@SETTINGS
@given(profiles())
def test_the_kernels_largest_string_index_is_that_of_the_arrays(p: pprof_pb2.Profile) -> None:
    """The compiled kernel's ``string_index_max`` (which lets the reader skip the range
    checks of each array) is the largest index of the arrays the reader checks, unsigned;
    in range exactly when the per-array reductions say so."""
    kernel = _pprof_native._kernel
    assert kernel is not None
    try:
        out = kernel.decode(p.SerializeToString())
    except kernel.WireError:
        return
    arrays = [np.frombuffer(out[k], dtype=np.uint64) for k in _pprof_native._STRING_INDICES]
    assert out["string_index_max"] == max((int(a.max()) for a in arrays if len(a)), default=0)
    n = len(p.string_table)
    without = {k: v for k, v in out.items() if k != "string_index_max"}
    want = _pprof_native.indices_in_range_each(without, n)
    assert _pprof_native._indices_in_range(out, n) == want
    assert _pprof_native._indices_in_range(without, n) == want


@SETTINGS
@given(profiles(), st.randoms(use_true_random=False))
def test_any_field_order_and_encoding_decodes_identically(
    p: pprof_pb2.Profile, rnd: random.Random
) -> None:
    """Reordering fields, unpacking and unknown fields change nothing, in both decoders."""
    plain = assert_same(p.SerializeToString())
    assert_equal_outcomes(plain, assert_same(_reencode(p, rnd)))


@SETTINGS
@given(
    profiles(),
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0), st.binary(max_size=3)), min_size=1, max_size=3
    ),
)
def test_damaged_messages_fail_or_decode_identically(
    p: pprof_pb2.Profile, edits: list[tuple[int, int, bytes]]
) -> None:
    data = bytearray(p.SerializeToString())
    for kind, at, blob in edits:
        i = at % (len(data) + 1)
        if kind == 0:
            data[i : i + len(blob)] = blob
        elif kind == 1:
            del data[i : i + 1 + len(blob)]
        elif kind == 2:
            data[i:i] = blob
        else:
            del data[i:]
    assert_same(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=10), max_size=6))
def test_any_bytes_as_strings_are_repaired_like_python(strings: list[bytes]) -> None:
    assert_same(STRINGS + b"".join(ld(6, s) for s in strings) + SAMPLE_TYPE)


@pytest.mark.parametrize("sparse", [False, True])
def test_many_stacks_and_ids_decode_identically(sparse: bool) -> None:
    """Enough distinct stacks to grow the C hash tables; sparse ids take the hashed id map."""
    rnd = random.Random(7)
    p = pprof_pb2.Profile()
    p.string_table.extend([b"", b"samples", b"count", b"fn"])
    vt = p.sample_type.add()
    vt.type, vt.unit = 1, 2
    ids = list({rnd.getrandbits(64) | 1 for _ in range(3000)}) if sparse else list(range(1, 3001))
    for fid in ids[:500]:
        f = p.function.add()
        f.id, f.name = fid, 3
    for lid in ids:
        loc = p.location.add()
        loc.id = lid
        loc.line.add().function_id = rnd.choice(ids[:500])
    for _ in range(20000):
        smp = p.sample.add()
        smp.location_id.extend(rnd.choices(ids, k=rnd.randint(0, 6)))
        smp.value.append(rnd.randint(1, 9))
    raw = assert_same(p.SerializeToString())
    assert isinstance(raw, RawProfile) and len(raw.stack_offsets) - 1 > 5000


# Location ids as a sample may write them: one packed field (looked up by its bytes once
# seen), the same ids with a varint padded to more bytes (other bytes, the same stack), split
# over two packed fields, unpacked, or with an id the profile lacks.
def _location_fields(ids: list[int], form: int) -> bytes:
    if form == 1 and ids:
        padded = bytearray(varint(ids[0]))
        padded[-1] |= 0x80
        return ld(1, bytes(padded) + b"\x00" + b"".join(map(varint, ids[1:])))
    if form == 2:
        half = len(ids) // 2
        return ld(1, b"".join(map(varint, ids[:half]))) + ld(1, b"".join(map(varint, ids[half:])))
    if form == 3:
        return b"".join(tag(1, 0) + varint(i) for i in ids)
    return ld(1, b"".join(map(varint, ids)))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from([1, 2, 200]), max_size=3), st.integers(0, 3)),
        max_size=30,
    ),
    st.one_of(st.none(), st.integers(0, 30)),
)
@example([([1, 2], 2), ([1], 0)], None)  # the first field of a split sample is not its stack
@example([([200, 1], 0), ([200, 1], 1), ([200, 1], 0)], None)
@example([([1], 0), ([1], 0), ([1], 0)], 1)
def test_repeated_stacks_in_any_encoding_are_numbered_by_their_ids(
    samples: list[tuple[list[int], int]], unknown_at: int | None
) -> None:
    """A sample whose location bytes were seen before gets their stack without decoding
    them again; other bytes for the same ids, or ids split over fields, get the same stack;
    an unknown id (9) is reported at its first sample however often its bytes repeat."""
    if unknown_at is not None and samples:
        ids, form = samples[unknown_at % len(samples)]
        samples = [*samples, ([*ids, 9], form), ([*ids, 9], form)]
    locations = b"".join(
        ld(4, tag(1, 0) + varint(i) + ld(4, tag(1, 0) + varint(1))) for i in (2, 3, 200)
    )
    data = BASE + locations
    for ids, form in samples:
        data += sample(_location_fields(ids, form) + ld(2, varint(1)))
    raw = assert_same(data)
    if any(9 in ids for ids, _ in samples):
        assert raw == f"in.pb: sample {len(samples) - 2} refers to unknown location 9"
        return
    assert isinstance(raw, RawProfile)
    numbers: dict[tuple[int, ...], int] = {}
    expected = [numbers.setdefault(tuple(ids), len(numbers)) for ids, _ in samples]
    assert raw.sample_stack.tolist() == expected


def test_string_tables_past_2_gib_use_64_bit_offsets() -> None:
    """Past 2 GiB of string data the kernel returns int64 offsets: a large_string array."""
    out = {
        "strings_offsets": np.array([0, 0, 1, 3], dtype=np.int64).tobytes(),
        "strings_data": b"abc",
        "strings_large": True,
    }
    table = _pprof_native._strings(out)
    assert table.format == "U"  # Arrow's large_string
    assert table.to_pylist() == ["", "a", "bc"]
    assert _arrow.series("s", table).to_list() == ["", "a", "bc"]


# ---- choosing the decoder -------------------------------------------------------------------


def test_the_environment_forces_the_numpy_decoder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PROFILELAB_PPROF_DECODER=numpy takes the fallback even with the kernel built; load()
    gives the same tables either way."""
    import profilelab
    from profilelab.readers import _pprof_wire

    path = tmp_path / "cpu.pb"
    path.write_bytes(WIRE_CASES["valid"])
    calls: list[int] = []
    real = _pprof_wire.decode
    monkeypatch.setattr(_pprof_wire, "decode", lambda data: calls.append(1) or real(data))
    native_tables = profilelab.load(path).samples
    assert calls == [] and pprof.decoder() == "native"
    monkeypatch.setenv(pprof.DECODER_ENV, "numpy")
    assert pprof.decoder() == "numpy"
    assert profilelab.load(path).samples.equals(native_tables)
    assert calls == [1]


def test_without_the_kernel_the_numpy_decoder_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pprof_native, "_kernel", None)
    assert pprof.decoder() == "numpy"
    assert isinstance(pprof.decode(WIRE_CASES["valid"], "in.pb"), RawProfile)
    monkeypatch.setenv(pprof.DECODER_ENV, "native")
    with pytest.raises(ConfigError, match="PROFILELAB_PPROF_DECODER=native: the compiled"):
        pprof.decoder()


def test_a_bad_decoder_setting_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import profilelab

    path = tmp_path / "cpu.pb"
    path.write_bytes(WIRE_CASES["valid"])
    monkeypatch.setenv(pprof.DECODER_ENV, "fast")
    with pytest.raises(ConfigError) as err:
        profilelab.load(path)
    assert str(err.value) == (
        f"{path}: PROFILELAB_PPROF_DECODER='fast': expected one of native, numpy"
    )


# ---- equal stacks, numbered once ------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), max_size=4), max_size=40))
def test_distinct_sequences_are_exact_and_in_first_appearance_order(
    seqs: list[list[int]],
) -> None:
    from profilelab.readers import _stacks

    offsets = np.cumsum([0, *map(len, seqs)]).astype(np.int64)
    values = np.array([x for s in seqs for x in s], dtype=np.int64)
    expected: dict[tuple[int, ...], int] = {}
    numbers = [expected.setdefault(tuple(s), len(expected)) for s in seqs]
    for mix in (_stacks._mix, lambda z: z * np.uint64(0)):  # the second: every hash collides
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_stacks, "_mix", mix)
            number, d_offsets, d_values = _stacks.distinct_sequences(offsets, values)
        assert number.tolist() == numbers
        distinct = [d_values[a:b].tolist() for a, b in itertools.pairwise(d_offsets)]
        assert distinct == [list(k) for k in expected]
