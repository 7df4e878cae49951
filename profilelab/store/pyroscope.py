"""Pyroscope-compatible ingestion: what the Pyroscope SDKs, agents and Grafana Alloy push.

Two APIs, as a Pyroscope server offers them:

* ``POST /push.v1.PusherService/Push`` (Connect protocol, unary): a ``push.v1.PushRequest``
  as protobuf (``application/proto``) or JSON (``application/json``), optionally with
  ``Content-Encoding: gzip``. Each series carries labels (``service_name``, ``__name__``
  and the application's tags) and raw pprof profiles (usually gzipped). The messages are
  declared below from Pyroscope's ``api/push/v1/push.proto`` and ``types/v1/types.proto``
  (field names and numbers only: that is all the wire and JSON formats depend on).
* ``POST /ingest?name=app.cpu{k=v,...}&from=&until=&format=&sampleRate=&spyName=&units=``
  ``&aggregationType=``: the older API (pyroscope-go before push, the Java agent). The body
  is the profile, or ``multipart/form-data`` with a ``profile`` (or ``jfr``) part; with
  ``format=jfr`` a ``labels`` part (the Java agent's ``LabelsSnapshot``) gives the
  recording's context labels; other parts (``prev_profile``, ``sample_type_config``) are
  accepted and not used.
  ``format`` is ``pprof`` (default), ``folded`` (``a;b;c 12`` lines), ``lines`` (one stack
  per line, each counting 1) or ``jfr``; the body is read by :func:`profilelab.readers.read`,
  which recognizes the bytes whatever ``format`` says.

As in Pyroscope, the application name becomes the ``service_name`` label and the tags
become labels; labels starting with ``__`` (Pyroscope's own: ``__name__``,
``__session_id__``, ...) are not stored. A name ending in a known profile type
(``app.cpu``, ``app.alloc_space``, ...) gives the profile its name; otherwise ``units``
does (``samples`` is ``cpu``) and else the data does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError

from profilelab.core.vocabulary import INGEST_PATH as INGEST_PATH
from profilelab.core.vocabulary import PUSH_PATH as PUSH_PATH
from profilelab.errors import FormatError
from profilelab.model.ids import digest_bytes
from profilelab.store._decode import load_bounded
from profilelab.store.prepare import Item

if TYPE_CHECKING:
    from profilelab.model.profile import Profile

#: Profile names Pyroscope's older API puts after the application name (``app.cpu``).
PROFILE_SUFFIXES = frozenset(
    {
        *("cpu", "itimer", "wall", "goroutines"),
        *("alloc_objects", "alloc_space", "inuse_objects", "inuse_space"),
        *("mutex_count", "mutex_duration", "block_count", "block_duration"),
        *("lock_count", "lock_duration"),
    }
)
_UNITS_NAME = {"samples": "cpu", "objects": "alloc_objects", "bytes": "alloc_space"}
_FORMATS = ("pprof", "folded", "lines", "jfr")
_NAME = re.compile(r"^([^{]*)(?:\{(.*)\})?$", re.S)


def _messages() -> tuple[Any, Any]:
    """push.v1.PushRequest and push.v1.PushResponse classes, declared at run time."""
    T = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="profilelab_pyroscope_push.proto", package="push.v1", syntax="proto3"
    )

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
        if name == "RawSample":  # the JSON name of ``ID`` is ``ID``
            msg.field[1].json_name = "ID"

    opt, rep, msg_t = T.LABEL_OPTIONAL, T.LABEL_REPEATED, T.TYPE_MESSAGE
    message("LabelPair", ("name", 1, T.TYPE_STRING, opt, ""), ("value", 2, T.TYPE_STRING, opt, ""))
    message(
        "RawSample", ("raw_profile", 1, T.TYPE_BYTES, opt, ""), ("ID", 2, T.TYPE_STRING, opt, "")
    )
    message(
        "RawProfileSeries",
        ("labels", 1, msg_t, rep, ".push.v1.LabelPair"),
        ("samples", 2, msg_t, rep, ".push.v1.RawSample"),
    )
    message("PushRequest", ("series", 1, msg_t, rep, ".push.v1.RawProfileSeries"))
    message("PushResponse")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    get = message_factory.GetMessageClass
    return (
        get(pool.FindMessageTypeByName("push.v1.PushRequest")),
        get(pool.FindMessageTypeByName("push.v1.PushResponse")),
    )


PushRequest, PushResponse = _messages()


def push_items(
    body: bytes, json_body: bool, source: str, given: Mapping[str, str], limit: int, now_ns: int
) -> list[Item]:
    """The profiles of a ``PushRequest`` as items to store (FormatError when malformed);
    together they may inflate to ``limit`` bytes (TooLargeError beyond)."""
    req = PushRequest()
    try:
        if json_body:
            json_format.Parse(body, req, ignore_unknown_fields=True)
        else:
            req.ParseFromString(body)
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        what = "JSON" if json_body else "protobuf"
        raise FormatError(f"not a push.v1.PushRequest ({what}): {_one_line(exc)}") from None
    items = []
    # the profiles of one push share the inflated-size budget: many small gzip members
    # must not add up to many times the limit
    n = sum(1 for series in req.series for sample in series.samples if sample.raw_profile)
    each = max(1, limit // max(1, n))
    for s, series in enumerate(req.series):
        labels = {p.name: p.value for p in series.labels}
        for k, sample in enumerate(series.samples):
            if not sample.raw_profile:
                continue
            raw = bytes(sample.raw_profile)
            profile = load_bounded(raw, f"series {s} sample {k}", each)
            items.append(
                Item(
                    profile,
                    digest_bytes(raw),
                    labels=_labels(labels, given),
                    default_time_ns=now_ns,
                    source=source,
                )
            )
    return items


def ingest_item(
    params: Mapping[str, str],
    body: bytes,
    content_type_header: str,
    source: str,
    given: Mapping[str, str],
    limit: int,
) -> Item | None:
    """The profile of an ``/ingest`` request as an item to store (None when empty)."""
    fmt = params.get("format", "pprof").lower()
    if fmt not in _FORMATS:
        raise FormatError(f"format={fmt!r} is not supported; use one of {', '.join(_FORMATS)}")
    app, tags = parse_name(params.get("name", ""))
    media = content_type_header.split(";", 1)[0].strip().lower()
    parts = multipart_parts(body, content_type_header) if media == "multipart/form-data" else {}
    data = _profile_part(parts) if parts else body
    if not data:
        return None
    if fmt == "lines":  # one stack per line, each counting one sample: folded with count 1
        data = re.sub(rb"(?m)[ \t]*\r?$", b" 1", data.strip(b"\r\n")) + b"\n"
    if fmt == "jfr" and parts.get("labels"):
        profile = _jfr_with_labels(data, parts["labels"], source, limit)
    else:
        profile = load_bounded(data, source, limit)
    if profile.profiles.height == 0:
        return None
    suffix = app.rsplit(".", 1)[-1] if "." in app else ""
    name: str | None
    if suffix in PROFILE_SUFFIXES:
        app, name = app[: -len(suffix) - 1], suffix
    else:
        name = _UNITS_NAME.get(params.get("units", "")) if fmt != "pprof" else None
    start = params.get("from", "")
    return Item(
        profile,
        digest_bytes(data),
        name=name,
        labels=_labels({**tags, "service_name": app}, given),
        default_time_ns=_seconds_ns(start) if start else None,
        source=source,
    )


def parse_name(name: str) -> tuple[str, dict[str, str]]:
    """``app.cpu{env=prod,region=eu}`` as (``app.cpu``, tags); FormatError when malformed."""
    m = _NAME.match(name.strip())
    if not m or not m.group(1).strip():
        raise FormatError("name= must be an application name, e.g. name=app.cpu{env=prod}")
    tags = {}
    for pair in (m.group(2) or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise FormatError(f"name=: bad tag {pair.strip()[:80]!r}, expected key=value")
        tags[key.strip()] = value.strip()
    return m.group(1).strip(), tags


def _labels(labels: Mapping[str, str], given: Mapping[str, str]) -> dict[str, str]:
    """Pushed labels without Pyroscope's own (``__name__``, ...), then the server's."""
    out = {k: v for k, v in labels.items() if not k.startswith("__")}
    out.update(given)
    return out


def multipart_parts(body: bytes, content_type_header: str) -> dict[str, bytes]:
    """The named parts of a multipart/form-data body."""
    head = f"Content-Type: {content_type_header}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise FormatError("multipart/form-data body without parts (is the boundary right?)")
    parts = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = payload if isinstance(payload, bytes) else b""
    return parts


def _profile_part(parts: Mapping[str, bytes]) -> bytes:
    """The ``profile`` (or ``jfr``) part of a form."""
    for key in ("profile", "jfr"):
        if key in parts:
            return parts[key]
    names = ", ".join(sorted(parts)) or "none"
    raise FormatError(f"no 'profile' part in the form (parts: {names})")


def _jfr_with_labels(data: bytes, labels: bytes, source: str, limit: int) -> Profile:
    """A JFR recording with the ``LabelsSnapshot`` the Pyroscope Java agent sends beside it
    (the context labels its samples refer to by id)."""
    from profilelab.model import builder
    from profilelab.readers._input import inflate_bounded, open_input
    from profilelab.readers.jfr import read_recording

    snapshot = inflate_bounded(labels, f"{source} labels", limit=limit)
    return builder.build(read_recording(open_input(data, source, limit), snapshot))


def _seconds_ns(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise FormatError(f"from={text[:40]!r} is not Unix seconds") from None
    if not 0 <= value < 1 << 33:
        raise FormatError(f"from={value} is out of range for Unix seconds")
    return value * 1_000_000_000


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
