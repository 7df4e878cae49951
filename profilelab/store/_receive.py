"""What the OTLP receivers share, over HTTP (serve.py) and gRPC (grpc_receiver.py).

Decoding a profiles export into an item to commit, answering a traces export, and refusing
a request (:class:`Reject`, with the HTTP status each receiver turns into its own answer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from profilelab.errors import ProfileLabError, TooLargeError
from profilelab.model.ids import digest_bytes
from profilelab.store._decode import read_bounded
from profilelab.store.prepare import Unbuilt

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class Reject(Exception):
    """A request refused with an HTTP ``status`` (the gRPC receiver maps it to a code)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


def otlp_item(
    body: bytes, ctype: str, name: str, labels: Mapping[str, str], limit: int
) -> Unbuilt | None:
    """The export decoded, to store (None when it holds no profiles); its tables are built
    by the committer together with the other requests of its commit."""
    if ctype == JSON:
        _check_json(body)
    try:
        raws = read_bounded(body, name, limit)
    except TooLargeError as exc:
        raise Reject(413, _strip(exc, name)) from None
    except ProfileLabError as exc:
        why = _strip(exc, name)
        raise Reject(400, f"not a valid OTLP profiles export: {why}") from None
    raws = [r for r in raws if r.sample_types]
    if not raws:
        return None
    formats = {r.format for r in raws}
    if formats != {"otlp"}:
        raise Reject(400, f"the body is {', '.join(sorted(formats))}, not OTLP profiles")
    return Unbuilt(
        raws, digest_bytes(body), labels=labels, default_time_ns=time.time_ns(), source=name
    )


def traces_response(rejected: int, why: str, as_json: bool) -> bytes:
    """An ExportTraceServiceResponse, with partial_success when spans were refused."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    resp = trace_service_pb2.ExportTraceServiceResponse()
    if rejected:
        resp.partial_success.rejected_spans = rejected
        resp.partial_success.error_message = why
    if as_json:
        return json_format.MessageToJson(resp, indent=None).encode()
    return bytes(resp.SerializeToString())


def _check_json(body: bytes) -> None:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Reject(400, f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Reject(400, "an OTLP/JSON export must be a JSON object")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _strip(exc: Exception, name: str) -> str:
    text = first_line(exc)
    return text[len(name) + 2 :] if text.startswith(f"{name}: ") else text
