"""The compiled OTLP walker (profilelab._native._otlpwire) against the NumPy walker of
readers/_otlp_binary.py: the same Payload, field for field, for every request it reads, and
for everything else (damaged bytes, other layouts, invalid UTF-8) nothing, so that the
NumPy walker reads it or raises its error."""

from __future__ import annotations

import dataclasses
import random
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1 import common_pb2 as C
from opentelemetry.proto.profiles.v1development import profiles_pb2 as P
from opentelemetry.proto.resource.v1 import resource_pb2 as R
from otlp_helpers import fixed64, fld, request, varint
from store_util import otlp_export

import profilelab
from profilelab.model import _arrow
from profilelab.readers import _otlp_binary, _otlp_native, _otlp_raw
from profilelab.readers._otlp_payload import Payload
from profilelab.readers._wire import WireError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


def test_compiled_walker_is_built() -> None:
    """setup.py builds it as an optional extension: a silent build failure must show here."""
    assert _otlp_native.available()


def assert_same(a: object, b: object, path: str = "payload") -> None:
    """Equal values and types, arrays equal with the same dtype, down to every field."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and np.array_equal(a, b), (path, a, b)
    elif isinstance(a, pa.Array):
        assert isinstance(b, pa.Array) and a.type == b.type and a.equals(b), (path, a, b)
        assert a.null_count == b.null_count, path
    elif isinstance(a, _arrow.Array):  # a RawProfile's strings and span ids
        assert isinstance(b, _arrow.Array), path
        assert_same(_arrow.to_pyarrow(a), _arrow.to_pyarrow(b), path)
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), (path, a, b)
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{k}]")
    elif isinstance(a, float):  # a damaged double can be a NaN, which equals nothing
        assert type(b) is float and struct.pack("<d", a) == struct.pack("<d", b), (path, a, b)
    else:
        assert type(a) is type(b) and a == b, (path, a, b)


def check(data: bytes) -> Payload | None:
    """The compiled walker's payload (None when it left the request to NumPy), after
    checking it against the NumPy walker: equal when it reads the request, absent when
    the NumPy walker refuses it."""
    fast = _otlp_native.decode(data)
    try:
        ref = _otlp_binary.walk(data)
    except WireError:
        assert fast is None
        return None
    if fast is not None:
        assert_same(fast, ref)
    return fast


# ---- requests, built with the protobuf bindings and composed record by record -------------

I32 = st.integers(-(2**31), 2**31 - 1)
I64 = st.integers(-(2**63), 2**63 - 1)
U64 = st.integers(0, 2**64 - 1)
SMALL = st.integers(0, 6)  # indices that often land in range


def _kvlist(items: list[tuple[str, C.AnyValue]]) -> C.AnyValue:
    kvs = [C.KeyValue(key=k, value=v) for k, v in items]
    return C.AnyValue(kvlist_value=C.KeyValueList(values=kvs))


_scalars = st.one_of(
    st.builds(lambda s: C.AnyValue(string_value=s), st.text(max_size=5)),
    st.builds(lambda b: C.AnyValue(bool_value=b), st.booleans()),
    st.builds(lambda i: C.AnyValue(int_value=i), I64),
    st.builds(lambda x: C.AnyValue(double_value=x), st.floats(allow_nan=False)),
    st.builds(lambda b: C.AnyValue(bytes_value=b), st.binary(max_size=5)),
    st.builds(lambda i: C.AnyValue(string_value_strindex=i), I32 | SMALL),
    st.just(C.AnyValue()),
)
any_values = st.recursive(
    _scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=3).map(lambda xs: C.AnyValue(array_value=C.ArrayValue(values=xs))),
        st.lists(st.tuples(st.text(max_size=4), kids), max_size=3).map(_kvlist),
    ),
    max_leaves=8,
)


@st.composite
def key_values(draw: st.DrawFn) -> C.KeyValue:
    kv = C.KeyValue(key=draw(st.sampled_from(["", "service.name", "k", "é"])))
    if draw(st.booleans()):
        kv.value.CopyFrom(draw(any_values))
    if not kv.key and draw(st.booleans()):
        kv.key_strindex = draw(SMALL)
    return kv


def unknown(draw: st.DrawFn) -> bytes:
    """A record of a field no message here has (protobuf keeps it aside)."""
    f = draw(st.integers(20, 40))
    if draw(st.booleans()):
        return fld(f, draw(U64))
    return fld(f, draw(st.binary(max_size=4)))


def with_unknown(draw: st.DrawFn, msg: object, where: str, places: set[str]) -> bytes:
    data: bytes = msg.SerializeToString()  # type: ignore[attr-defined]
    if where in places:
        data += unknown(draw)
    return data


@st.composite
def dictionaries(draw: st.DrawFn, places: set[str]) -> bytes:
    d = P.ProfilesDictionary()
    d.string_table.extend(draw(st.lists(st.text(max_size=6), max_size=8)))
    for _ in range(draw(st.integers(0, 3))):
        d.mapping_table.add(
            memory_start=draw(U64),
            memory_limit=draw(U64),
            file_offset=draw(U64),
            filename_strindex=draw(I32 | SMALL),
            attribute_indices=draw(st.lists(I32 | SMALL, max_size=3)),
        )
    for _ in range(draw(st.integers(0, 4))):
        loc = d.location_table.add(
            mapping_index=draw(I32 | SMALL),
            address=draw(U64),
            attribute_indices=draw(st.lists(SMALL, max_size=3)),
        )
        for _ in range(draw(st.integers(0, 3))):
            loc.lines.add(function_index=draw(I32 | SMALL), line=draw(I64), column=draw(I64))
    for _ in range(draw(st.integers(0, 3))):
        d.function_table.add(
            name_strindex=draw(I32 | SMALL),
            system_name_strindex=draw(SMALL),
            filename_strindex=draw(SMALL),
            start_line=draw(I64),
        )
    for _ in range(draw(st.integers(0, 3))):
        d.link_table.add(trace_id=draw(st.binary(max_size=16)), span_id=draw(st.binary(max_size=8)))
    for _ in range(draw(st.integers(0, 4))):
        a = d.attribute_table.add(key_strindex=draw(I32 | SMALL), unit_strindex=draw(SMALL))
        if draw(st.booleans()):
            a.value.CopyFrom(draw(any_values))
    for _ in range(draw(st.integers(0, 3))):
        d.stack_table.add(location_indices=draw(st.lists(I32 | SMALL, max_size=5)))
    data = with_unknown(draw, d, "dictionary", places)
    for s in draw(st.lists(st.binary(max_size=4), max_size=2)) if "utf8" in places else []:
        data += fld(5, s)  # any bytes, valid UTF-8 or not
    return data


def repeated(draw: st.DrawFn, field: int, values: list[int], fixed: bool = False) -> bytes:
    """Packed (one record) or unpacked (a record per value), as the writer chose."""
    if not values:
        return b""
    if draw(st.booleans()):
        body = b"".join(v.to_bytes(8, "little") if fixed else varint(v) for v in values)
        return fld(field, body)
    if fixed:
        return b"".join(fixed64(field, v) for v in values)
    return b"".join(fld(field, v) for v in values)


@st.composite
def sample_bytes(draw: st.DrawFn, places: set[str], layout: tuple[int, int, int] | None) -> bytes:
    """A Sample in ``layout`` (attributes, link, values): v1.10's (2, 3, 4) or v1.9's
    (3, 4, 2); the walkers tell them apart from the records."""
    f_attr, f_link, f_value = layout or draw(st.sampled_from([(2, 3, 4), (3, 4, 2)]))
    values = draw(st.lists(I64, max_size=3))
    times = draw(st.lists(U64, max_size=3) | st.just([]))
    parts = [
        fld(1, draw(SMALL)) if draw(st.booleans()) else b"",
        repeated(draw, f_attr, draw(st.lists(SMALL, max_size=3))),
        fld(f_link, draw(SMALL)) if draw(st.booleans()) else b"",
        repeated(draw, f_value, [v % (1 << 64) for v in values]),
        repeated(draw, 5, times, fixed=True),
    ]
    if "sample" in places:
        parts.append(unknown(draw))
    return b"".join(draw(st.permutations(parts)))


@st.composite
def profile_bytes(draw: st.DrawFn, places: set[str], layout: tuple[int, int, int] | None) -> bytes:
    p = P.Profile(
        time_unix_nano=draw(U64),
        duration_nano=draw(U64),
        period=draw(I64),
        original_payload_format=draw(st.sampled_from(["", "pprof"])),
        original_payload=draw(st.binary(max_size=4)),
        attribute_indices=draw(st.lists(I32 | SMALL, max_size=3)),
        dropped_attributes_count=draw(st.integers(0, 3)),
    )
    p.profile_id = draw(st.sampled_from([b"", bytes(16), bytes(range(16))]))
    for vt in (p.sample_type, p.period_type):
        if draw(st.booleans()):
            vt.type_strindex, vt.unit_strindex = draw(I32 | SMALL), draw(SMALL)
    data = with_unknown(draw, p, "profile", places)
    samples = draw(st.lists(sample_bytes(places, layout), max_size=4))
    return data + b"".join(fld(2, s) for s in samples)


@st.composite
def requests(draw: st.DrawFn, places: set[str] = frozenset()) -> bytes:  # type: ignore[assignment]
    # the Sample layout of the whole request (a mix is an error): mostly v1.10, sometimes
    # v1.9's (values 2, attributes 3, link 4), sometimes each sample its own (None)
    layout = draw(st.sampled_from([(2, 3, 4), (2, 3, 4), (3, 4, 2), None]))
    out = b""
    for _ in range(draw(st.integers(0, 2))):
        rp = b""
        if draw(st.booleans()):
            res = R.Resource(attributes=draw(st.lists(key_values(), max_size=3)))
            rp += fld(1, with_unknown(draw, res, "resource", places))
        for _ in range(draw(st.integers(0, 2))):
            sp = b""
            if draw(st.booleans()):
                sc = C.InstrumentationScope(
                    name=draw(st.text(max_size=4)),
                    version=draw(st.text(max_size=4)),
                    attributes=draw(st.lists(key_values(), max_size=2)),
                )
                sp += fld(1, with_unknown(draw, sc, "scope", places))
            for p in draw(st.lists(profile_bytes(places, layout), max_size=2)):
                sp += fld(2, p)
            rp += fld(2, sp)
        out += fld(1, rp)
    if draw(st.booleans()):
        out += fld(2, draw(dictionaries(places)))
    return out


#: where an unknown field is still a request the compiled walker reads (protobuf keeps it
#: aside); anywhere else the NumPy walker refuses it as another schema version
READ_PLACES = {"resource", "scope"}
OTHER_PLACES = {"dictionary", "profile", "sample", "utf8"}


@SETTINGS
@given(requests(frozenset(READ_PLACES)))
def test_compiled_walker_reads_requests_as_numpy_does(data: bytes) -> None:
    fast = check(data)
    try:
        _otlp_binary.walk(data)
    except WireError:  # a key's string index out of range, layouts that contradict
        return
    assert fast is not None  # every valid request of these is read by the compiled walker


@SETTINGS
@given(st.sampled_from(sorted(OTHER_PLACES)).flatmap(lambda p: requests(frozenset({p}))))
def test_unknown_fields_and_bad_utf8_are_left_to_numpy(data: bytes) -> None:
    check(data)


@SETTINGS
@given(requests(), st.randoms(use_true_random=False), st.sampled_from(["cut", "flip", "insert"]))
def test_damaged_requests_are_left_to_numpy(data: bytes, rnd: random.Random, how: str) -> None:
    if not data:
        return
    at = rnd.randrange(len(data))
    if how == "cut":
        data = data[:at]
    elif how == "flip":
        data = data[:at] + bytes([data[at] ^ (1 << rnd.randrange(8))]) + data[at + 1 :]
    else:
        data = data[:at] + bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3))) + data[at:]
    check(data)


def _raws(data: bytes) -> object:
    """The request's RawProfiles (from the NumPy walker's payload), or the error text."""
    try:
        return _otlp_raw.to_raw_profiles(_otlp_binary.walk(data), "x", 1)
    except WireError as exc:
        return str(exc)


@st.composite
def helper_samples(draw: st.DrawFn) -> P.Sample:
    """Samples over otlp_helpers.dictionary(): two stacks, two attributes, one link."""
    n = draw(st.integers(0, 3))
    return P.Sample(
        stack_index=draw(st.integers(0, 2)),
        attribute_indices=draw(st.lists(st.integers(0, 2), max_size=2)),
        link_index=draw(st.integers(0, 1)),
        values=draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)),
        timestamps_unix_nano=draw(st.lists(st.integers(0, 10**12), min_size=n, max_size=n)),
    )


#: valid requests: a receiver's posts of varied sizes, and the test helpers' dictionary
valid_requests = st.builds(
    otlp_export,
    st.just("svc"),
    st.integers(0, 10**6),
    st.integers(0, 30),
    st.just(1),
    st.integers(1, 40),
) | st.lists(helper_samples(), max_size=5).map(lambda xs: request(xs).SerializeToString())


@SETTINGS
@given(requests(frozenset(READ_PLACES)) | valid_requests)
def test_raw_profiles_are_built_alike_with_the_compiled_steps(data: bytes) -> None:
    """_otlp_raw keeps the entries a profile uses with two compiled steps (used, rows)."""
    fast = _raws(data)
    saved, _otlp_native._kernel = _otlp_native._kernel, None
    try:
        slow = _raws(data)
    finally:
        _otlp_native._kernel = saved
    assert_same(fast, slow)


@SETTINGS
@given(st.integers(0, 12), st.lists(st.integers(-2, 14), max_size=20), st.booleans())
def test_used_entries_in_c_are_numpys(n: int, refs: list[int], drop_zero: bool) -> None:
    arr = np.array(refs, dtype=np.int64)
    fast = _otlp_native.used(n, arr, drop_zero)
    if (n == 0 and drop_zero) or not all(0 <= r < n for r in refs):
        assert fast is None  # NumPy's indexing raises
        return
    saved, _otlp_native._kernel = _otlp_native._kernel, None
    try:
        slow = _otlp_raw._used(n, arr, drop_zero)
    finally:
        _otlp_native._kernel = saved
    assert fast is not None
    assert_same(fast, slow)


# ---- fixed cases ---------------------------------------------------------------------------


def test_a_receivers_post_is_read_by_the_compiled_walker() -> None:
    for seed in range(5):
        assert check(otlp_export(f"svc{seed}", seed, samples=20)) is not None


def test_the_test_helpers_requests_are_read_by_the_compiled_walker() -> None:
    s = P.Sample(stack_index=1, values=[5], attribute_indices=[1, 2], link_index=1)
    t = P.Sample(stack_index=2, values=[1, 2], timestamps_unix_nano=[10, 20])
    assert check(request([s, t]).SerializeToString()) is not None
    assert check(b"") is not None  # an empty request: no profiles, the default tables


def test_deep_attribute_values_are_left_to_numpy() -> None:
    v = C.AnyValue(int_value=1)
    for _ in range(40):
        v = C.AnyValue(array_value=C.ArrayValue(values=[v]))
    d = P.ProfilesDictionary(string_table=["", "k"])
    d.attribute_table.add(key_strindex=1, value=v)
    data = fld(2, d.SerializeToString())
    assert _otlp_native.decode(data) is None
    assert _otlp_binary.decode(data).dictionary.attributes[0].value is not None


def _deep_value(depth: int) -> bytes:
    """An AnyValue nested ``depth`` arrays deep, encoded by hand (the bindings recurse)."""
    v = fld(3, 1)  # int_value 1
    for _ in range(depth):
        v = fld(5, fld(1, v))  # array_value { values: [v] }
    return v


HOSTILE = {
    "length past the end": fld(2, b"")[:1] + varint(1000) + b"x",
    "length of 2 GiB": b"\x12" + varint(1 << 31),
    "11-byte varint": fld(1, fld(2, fld(2, fld(2, b"\x08" + b"\xff" * 10 + b"\x01")))),
    "group": fld(1, b"\x0b\x0c"),
    "wire type 7": b"\x0f",
    "field 0": b"\x02\x00",
    "value nested 10,000 deep": fld(
        2, fld(5, b"") + fld(6, fld(1, 0) + fld(2, _deep_value(10_000)))
    ),
    "packed varint cut": fld(1, fld(2, fld(2, fld(2, fld(1, 1) + fld(4, b"\xff"))))),
    "timestamps not 8-byte": fld(1, fld(2, fld(2, fld(2, fld(5, b"1234567"))))),
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_hostile_requests_are_left_to_numpy_which_names_the_problem(what: str) -> None:
    data = HOSTILE[what]
    assert _otlp_native.decode(data) is None
    with pytest.raises(profilelab.FormatError, match=r"^bad\.otlp: ") as err:
        profilelab.load(data, name="bad.otlp")
    assert "\n" not in str(err.value)


def test_v18_samples_are_read_alike() -> None:
    """Sample field 2 without timestamps nor field 3/4 evidence is v1.8/v1.9's values."""
    sample = fld(1, 1) + fld(2, varint(7))
    data = fld(1, fld(2, fld(2, fld(2, sample))))
    fast = check(data)
    assert fast is not None and fast.version == "1.8/1.9"
    assert fast.profiles[0].samples.values.tolist() == [7]


def test_without_the_kernel_the_numpy_walker_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = otlp_export("svc", 1, samples=5)
    monkeypatch.setattr(_otlp_native, "_kernel", None)
    assert _otlp_native.decode(data) is None
    assert _otlp_binary.decode(data).profiles[0].samples.n == 5


def test_loading_gives_the_same_tables_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    data = otlp_export("svc", 3, samples=50)
    fast = profilelab.load(data)
    monkeypatch.setattr(_otlp_native, "_kernel", None)
    slow = profilelab.load(data)
    for table in ("profiles", "samples", "stacks", "frames", "mappings", "labels"):
        assert getattr(fast, table).equals(getattr(slow, table)), table


CAPTURES = {
    "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile.pb.bin": "1.10",
    "grafana-pyroscope@85b4c078a/pkg/test/integration/testdata/otel-ebpf-profile.pb.bin": (
        "1.8/1.9"  # v1.8 written, and nothing in its Profiles tells v1.8 from v1.9
    ),
}


@pytest.mark.parametrize("rel", sorted(CAPTURES))
def test_corpus_captures_decode_alike(corpus: Path, rel: str) -> None:
    """Real eBPF profiler captures (read from ../shared/corpus, AGPL, never copied)."""
    fast = check((corpus / rel).read_bytes())
    assert fast is not None and fast.version == CAPTURES[rel]
