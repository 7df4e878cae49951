"""OTLP profiles writers: ``otlp`` (binary protobuf) and ``otlp-json`` (OTLP/JSON), schema v1.10+.

``otlp`` writes an ``ExportProfilesServiceRequest``, the body that OTLP/gRPC and
OTLP/HTTP carry; it is byte for byte a ``ProfilesData`` too (same fields), so the file is
also what the OTLP file exporter stores. ``otlp-json`` writes the same message as
OTLP/JSON (hex trace/span ids, integer enums, lowerCamelCase keys, 64-bit integers as
strings). What goes where is in :mod:`profilelab.writers._otlp_model`; reading the output
back with :func:`profilelab.load` gives the same stacks, frames, label sets and values.

Large tables (samples, stacks, locations, strings, links) are encoded with numpy
(:mod:`profilelab.writers._pbenc`, the pprof writer's encoder) or Polars string
expressions, not per record in Python.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.profiles.v1development import profiles_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from profilelab.writers import Writer, register
from profilelab.writers import _pbenc as pb
from profilelab.writers._otlp_model import (
    AttrValue,
    Csr,
    Dictionary,
    Model,
    ProfileOut,
    SamplesOut,
    build,
)

if TYPE_CHECKING:
    from profilelab.model.profile import Profile


def to_otlp(profile: Profile) -> bytes:
    """``profile`` as a binary ExportProfilesServiceRequest."""
    return encode_binary(build(profile))


def to_otlp_json(profile: Profile) -> bytes:
    """``profile`` as an OTLP/JSON ExportProfilesServiceRequest (UTF-8)."""
    return encode_json(build(profile))


def write_binary(profile: Profile, out: BinaryIO) -> None:
    out.write(to_otlp(profile))


def write_json(profile: Profile, out: BinaryIO) -> None:
    out.write(to_otlp_json(profile))


# ---- binary ----------------------------------------------------------------------------------


def any_value(v: AttrValue | None) -> common_pb2.AnyValue:
    out = common_pb2.AnyValue()
    if v is None:
        return out
    kind, x = v
    if kind == "str":
        out.string_value = str(x)
    elif kind == "int":
        out.int_value = int(x)  # type: ignore[call-overload]
    elif kind == "bool":
        out.bool_value = bool(x)
    else:
        out.array_value.values.extend(any_value(e) for e in x)  # type: ignore[attr-defined]
    return out


def _key_values(attrs: list[tuple[str, AttrValue]]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in attrs]


def encode_binary(model: Model) -> bytes:
    parts = []
    for res in model.resources:
        body = pb.wrap(
            1, resource_pb2.Resource(attributes=_key_values(res.attributes)).SerializeToString()
        )
        for scope in res.scopes:
            scope_msg = common_pb2.InstrumentationScope(attributes=_key_values(scope.attributes))
            sbody = [pb.wrap(1, scope_msg.SerializeToString())]
            sbody += [pb.wrap(2, _profile_bytes(p)) for p in scope.profiles]
            body += pb.wrap(2, b"".join(sbody))
        parts.append(pb.wrap(1, body))
    parts.append(pb.wrap(2, _dictionary_bytes(model.dictionary)))
    return b"".join(parts)


def _profile_bytes(p: ProfileOut) -> bytes:
    header = profiles_pb2.Profile(
        sample_type=profiles_pb2.ValueType(
            type_strindex=p.sample_type[0], unit_strindex=p.sample_type[1]
        ),
        time_unix_nano=p.time_ns,
        duration_nano=p.duration_ns,
        period_type=profiles_pb2.ValueType(
            type_strindex=p.period_type[0], unit_strindex=p.period_type[1]
        ),
        period=p.period,
        attribute_indices=p.attributes,
    )
    return header.SerializeToString() + pb.repeated(2, _samples(p.samples))


def _packed(field: int, csr: Csr) -> pb.Blob:
    return pb.packed(field, csr.values, csr.offsets)


def _samples(s: SamplesOut) -> pb.Blob:
    time_off = np.concatenate(([0], np.cumsum(s.time_valid))).astype(np.int64)
    return pb.cat(
        pb.uint_field(1, s.stack),
        _packed(2, s.attrs),
        pb.uint_field(3, s.link),
        pb.bytes_field(4, pb.varints(s.value), keep_empty=True),  # a zero value is written
        pb.bytes_field(5, pb.group(pb.fixed64s(s.time[s.time_valid]), time_off)),
    )


def _dictionary_bytes(d: Dictionary) -> bytes:
    mappings = pb.cat(
        pb.uint_field(1, d.mapping_start),
        pb.uint_field(2, d.mapping_limit),
        pb.uint_field(3, d.mapping_offset),
        pb.uint_field(4, d.mapping_file),
        _packed(5, d.mapping_attrs),
    )
    functions = pb.cat(
        pb.uint_field(1, d.function_name),
        pb.uint_field(2, d.function_system_name),
        pb.uint_field(3, d.function_file),
        pb.uint_field(4, d.function_start_line),
    )
    stacks = _packed(1, d.stacks)
    attributes = [_attribute(k, v, u) for k, v, u in d.attributes.entries]
    return b"".join(
        [
            pb.repeated(1, mappings),
            pb.repeated(2, _locations(d)),
            pb.repeated(3, functions),
            pb.repeated(4, _links(d)),
            pb.repeated(5, pb.strings_blob(pa.array(d.strings.values, type=pa.string()))),
            *(pb.wrap(6, a) for a in attributes),
            pb.repeated(7, stacks),
        ]
    )


def _attribute(key: int, value: AttrValue | None, unit: int) -> bytes:
    msg = profiles_pb2.KeyValueAndUnit(key_strindex=key, unit_strindex=unit)
    if value is not None:  # entry 0 must be the zero value: no value at all
        msg.value.CopyFrom(any_value(value))
    return msg.SerializeToString()


def _locations(d: Dictionary) -> pb.Blob:
    lines = pb.cat(
        pb.uint_field(1, d.line_function),
        pb.uint_field(2, d.line_line),
        pb.uint_field(3, d.line_column),
    )
    return pb.cat(
        pb.uint_field(1, d.location_mapping),
        pb.uint_field(2, d.location_address),
        pb.group(pb.bytes_field(3, lines, keep_empty=True), d.line_offsets),
        _packed(4, d.location_attrs),
    )


def _links(d: Dictionary) -> pb.Blob:
    # Zero ids are written at full length (16 and 8 zero bytes), as the spec recommends.
    trace = np.frombuffer(bytes.fromhex("".join(t or "0" * 32 for t in d.link_trace)), np.uint8)
    span = np.frombuffer(bytes.fromhex("".join(s or "0" * 16 for s in d.link_span)), np.uint8)
    n = len(d.link_trace)
    return pb.cat(
        pb.bytes_field(1, pb.from_lengths(trace, np.full(n, 16, np.int64)), keep_empty=True),
        pb.bytes_field(2, pb.from_lengths(span, np.full(n, 8, np.int64)), keep_empty=True),
    )


# ---- JSON ------------------------------------------------------------------------------------


def json_value(v: AttrValue | None) -> dict[str, Any]:
    """An AttrValue as an OTLP/JSON AnyValue (int64 as a string, as proto3 JSON writes it)."""
    if v is None:
        return {}
    kind, x = v
    if kind == "str":
        return {"stringValue": x}
    if kind == "int":
        return {"intValue": str(x)}
    if kind == "bool":
        return {"boolValue": bool(x)}
    return {"arrayValue": {"values": [json_value(e) for e in x]}}  # type: ignore[attr-defined]


class _Raw:
    """Placeholders for pre-rendered JSON arrays spliced into ``json.dumps`` output."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def __call__(self, text: str) -> str:
        self.parts.append(text)
        return f"\x00raw{len(self.parts) - 1}\x00"

    def splice(self, doc: str) -> str:
        for i, text in enumerate(self.parts):
            doc = doc.replace(f'"\\u0000raw{i}\\u0000"', text, 1)
        return doc


def encode_json(model: Model) -> bytes:
    raw = _Raw()
    doc = {
        "resourceProfiles": [
            {
                "resource": {"attributes": _json_kvs(res.attributes)},
                "scopeProfiles": [
                    {
                        "scope": {"attributes": _json_kvs(scope.attributes)},
                        "profiles": [_json_profile(p, raw) for p in scope.profiles],
                    }
                    for scope in res.scopes
                ],
            }
            for res in model.resources
        ],
        "dictionary": _json_dictionary(model.dictionary, raw),
    }
    return raw.splice(json.dumps(doc, separators=(",", ":"), ensure_ascii=False)).encode("utf-8")


def _json_kvs(attrs: list[tuple[str, AttrValue]]) -> list[dict[str, Any]]:
    return [{"key": k, "value": json_value(v)} for k, v in attrs]


def _json_profile(p: ProfileOut, raw: _Raw) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sampleType": {"typeStrindex": p.sample_type[0], "unitStrindex": p.sample_type[1]},
        "samples": raw(_json_samples(p.samples)),
        "timeUnixNano": str(p.time_ns),
        "durationNano": str(p.duration_ns),
        "periodType": {"typeStrindex": p.period_type[0], "unitStrindex": p.period_type[1]},
        "period": str(p.period),
    }
    if p.attributes:
        out["attributeIndices"] = p.attributes
    return out


def _int_lists(csr: Csr) -> pl.Series:
    arr = pa.LargeListArray.from_arrays(pa.array(csr.offsets), pa.array(csr.values))
    return pl.Series(arr).list.eval(pl.element().cast(pl.Utf8)).list.join(",")


def _json_samples(s: SamplesOut) -> str:
    df = pl.DataFrame(
        {
            "stack": s.stack,
            "attrs": _int_lists(s.attrs),
            "link": s.link,
            "value": s.value,
            "time": s.time,
            "tv": s.time_valid,
        }
    )
    c = pl.col
    rows = df.select(
        pl.concat_str(
            pl.when(c("stack") != 0).then(pl.format('"stackIndex":{}', c("stack"))),
            pl.when(c("attrs") != "").then(pl.format('"attributeIndices":[{}]', c("attrs"))),
            pl.when(c("link") != 0).then(pl.format('"linkIndex":{}', c("link"))),
            pl.format('"values":["{}"]', c("value")),
            pl.when(c("tv")).then(pl.format('"timestampsUnixNano":["{}"]', c("time"))),
            separator=",",
            ignore_nulls=True,
        ).alias("row")
    )["row"]
    return _json_array("{" + rows + "}")


def _json_dictionary(d: Dictionary, raw: _Raw) -> dict[str, Any]:
    return {
        "mappingTable": [
            _nonzero(
                memoryStart=str(d.mapping_start[i]),
                memoryLimit=str(d.mapping_limit[i]),
                fileOffset=str(d.mapping_offset[i]),
                filenameStrindex=int(d.mapping_file[i]),
                attributeIndices=_row(d.mapping_attrs, i),
            )
            for i in range(len(d.mapping_start))
        ],
        "locationTable": raw(_json_locations(d)),
        "functionTable": [
            _nonzero(
                nameStrindex=int(d.function_name[i]),
                systemNameStrindex=int(d.function_system_name[i]),
                filenameStrindex=int(d.function_file[i]),
                startLine=str(d.function_start_line[i]),
            )
            for i in range(len(d.function_name))
        ],
        "linkTable": [
            {"traceId": t or "0" * 32, "spanId": s or "0" * 16}
            for t, s in zip(d.link_trace, d.link_span, strict=True)
        ],
        "stringTable": d.strings.values,
        "attributeTable": [
            _nonzero(keyStrindex=k, value=json_value(v), unitStrindex=u)
            for k, v, u in d.attributes.entries
        ],
        "stackTable": raw(_json_stacks(d)),
    }


def _nonzero(**fields: Any) -> dict[str, Any]:
    """proto3 JSON leaves default values out."""
    return {k: v for k, v in fields.items() if v not in (0, "0", [], {}, "")}


def _row(csr: Csr, i: int) -> list[int]:
    return csr.values[csr.offsets[i] : csr.offsets[i + 1]].tolist()


def _json_stacks(d: Dictionary) -> str:
    lists = _int_lists(d.stacks)
    rows = pl.select(
        pl.when(lists != "")
        .then(pl.concat_str(pl.lit('{"locationIndices":['), lists, pl.lit("]}")))
        .otherwise(pl.lit("{}"))
    )
    return _json_array(rows.to_series())


def _json_locations(d: Dictionary) -> str:
    lines = (
        pl.DataFrame({"f": d.line_function, "l": d.line_line, "c": d.line_column})
        .select(
            pl.concat_str(
                pl.when(pl.col("f") != 0).then(pl.format('"functionIndex":{}', "f")),
                pl.when(pl.col("l") != 0).then(pl.format('"line":"{}"', "l")),
                pl.when(pl.col("c") != 0).then(pl.format('"column":"{}"', "c")),
                separator=",",
                ignore_nulls=True,
            )
        )
        .to_series()
    )
    line_lists = pl.Series(
        pa.LargeListArray.from_arrays(
            pa.array(d.line_offsets), pa.array(("{" + lines + "}").to_arrow())
        )
    ).list.join(",")
    df = pl.DataFrame(
        {
            "m": d.location_mapping,
            "a": d.location_address,
            "lines": line_lists,
            "attrs": _int_lists(d.location_attrs),
        }
    )
    c = pl.col
    rows = df.select(
        pl.concat_str(
            pl.when(c("m") != 0).then(pl.format('"mappingIndex":{}', c("m"))),
            pl.when(c("a") != 0).then(pl.format('"address":"{}"', c("a"))),
            pl.when(c("lines") != "").then(pl.format('"lines":[{}]', c("lines"))),
            pl.when(c("attrs") != "").then(pl.format('"attributeIndices":[{}]', c("attrs"))),
            separator=",",
            ignore_nulls=True,
        )
    ).to_series()
    return _json_array("{" + rows + "}")


def _json_array(items: pl.Series) -> str:
    """Rendered JSON values joined into one JSON array."""
    if items.len() == 0:
        return "[]"
    return "[" + str(items.str.join(",").item()) + "]"


register(Writer("otlp", write_binary, (".otlp", ".otlp.pb", ".otlp.bin")))
register(Writer("otlp-json", write_json, (".otlp.json",)))
