"""Building OTLP profiles payloads for tests: v1.10 with the installed bindings, older layouts
with a tiny hand encoder (the installed package only knows the current schema)."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.profiles.v1development import profiles_pb2 as P

STRINGS = [
    "",
    "cpu",
    "nanoseconds",
    "main",
    "work",
    "leaf",
    "/src/a.go",
    "thread.name",
    "t1",
    "bytes",
    "size",
    "service.name",
    "checkout",
]


def sid(s: str) -> int:
    return STRINGS.index(s)


def dictionary(**extra: object) -> P.ProfilesDictionary:
    """Three functions main -> work -> leaf, one location each, stacks [leaf, work, main] and
    [work, main]; one link; attributes thread.name=t1 and size=4096 bytes."""
    d = P.ProfilesDictionary()
    d.string_table.extend(STRINGS)
    d.mapping_table.add()
    d.mapping_table.add(memory_start=0x1000, memory_limit=0x9000, filename_strindex=sid("main"))
    d.function_table.add()
    for name in ("main", "work", "leaf"):
        d.function_table.add(name_strindex=sid(name), filename_strindex=sid("/src/a.go"))
    d.location_table.add()
    for i in range(1, 4):
        loc = d.location_table.add(mapping_index=1, address=0x1000 + 16 * i)
        loc.lines.add(function_index=i, line=10 * i)
    d.stack_table.add()
    d.stack_table.add(location_indices=[3, 2, 1])
    d.stack_table.add(location_indices=[2, 1])
    d.link_table.add()
    d.link_table.add(trace_id=bytes(range(16)), span_id=bytes(range(8, 16)))
    d.attribute_table.add()
    d.attribute_table.add(
        key_strindex=sid("thread.name"), value=common_pb2.AnyValue(string_value="t1")
    )
    d.attribute_table.add(
        key_strindex=sid("size"),
        value=common_pb2.AnyValue(int_value=4096),
        unit_strindex=sid("bytes"),
    )
    for k, v in extra.items():
        getattr(d, k).extend(v)  # type: ignore[call-overload]
    return d


def request(
    samples: Iterable[P.Sample],
    d: P.ProfilesDictionary | None = None,
    resource: dict[str, str] | None = None,
) -> P.ProfilesData:
    """One resource / scope / cpu-nanoseconds profile holding ``samples``."""
    data = P.ProfilesData()
    data.dictionary.CopyFrom(d if d is not None else dictionary())
    rp = data.resource_profiles.add()
    for k, v in (resource or {"service.name": "checkout"}).items():
        rp.resource.attributes.add(key=k, value=common_pb2.AnyValue(string_value=v))
    sp = rp.scope_profiles.add()
    sp.scope.name = "test-profiler"
    prof = sp.profiles.add(time_unix_nano=1_000, duration_nano=10_000, period=10)
    prof.sample_type.type_strindex, prof.sample_type.unit_strindex = sid("cpu"), sid("nanoseconds")
    prof.period_type.CopyFrom(prof.sample_type)
    prof.samples.extend(samples)
    return data


# ---- a hand encoder for layouts the installed bindings do not have ---------------------------


def varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fld(number: int, value: int | bytes) -> bytes:
    """A varint (int) or length-delimited (bytes) field."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def fixed64(number: int, value: int) -> bytes:
    return varint(number << 3 | 1) + value.to_bytes(8, "little")


def packed(number: int, values: Iterable[int]) -> bytes:
    return fld(number, b"".join(varint(v) for v in values))


def with_profile(dict_bytes: bytes, profile: bytes, resource: bytes = b"") -> bytes:
    """ProfilesData bytes: one resource / scope holding ``profile`` (raw Profile bytes)."""
    scope = fld(2, profile)
    rp = (fld(1, resource) if resource else b"") + fld(2, scope)
    return fld(1, rp) + fld(2, dict_bytes)
