"""OpenTelemetry profiles (OTLP): binary protobuf and OTLP/JSON, schema v1.8 to v1.11.

One reader for both encodings of a ``ProfilesData`` / ``ExportProfilesServiceRequest``
(the two are the same message on the wire). Each OTLP Profile has one sample type; the
profiles that came from one multi-type input (same samples, same scope) are read back as
one input with several sample types, every other profile is an input of its own. What
maps to which column is in ``docs/otlp.md`` and :mod:`profilelab.readers._otlp_raw`.

Original payloads (``Profile.original_payload``, e.g. the pprof a profile was converted
from) are not decoded into tables; :func:`original_payloads` returns them, and one whose
format is ``pprof`` loads with ``profilelab.load(payload.data)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from profilelab.errors import FormatError
from profilelab.model.raw import RawProfile
from profilelab.readers._input import Input, Source, open_input
from profilelab.readers.sniff import looks_like_otlp, looks_like_otlp_json

if TYPE_CHECKING:
    from profilelab.readers._otlp_payload import Payload

# The decoders import the protobuf runtime (about 0.1 s): they are imported on first use, so
# registering this format costs nothing to processes that only read pprof.


def decode(inp: Input) -> Payload:
    """The input's payload, decoded but not validated; FormatError when malformed."""
    from profilelab.readers import _otlp_binary, _otlp_json
    from profilelab.readers._wire import WireError

    kind = "OTLP/JSON" if looks_like_otlp_json(inp.data) else "binary OTLP"
    try:
        if kind == "OTLP/JSON":
            return _otlp_json.decode(inp.data)
        return _otlp_binary.decode(inp.data)
    except WireError as exc:
        raise FormatError(f"{inp.name}: not a valid {kind} profiles payload: {exc}") from None


def read(inp: Input) -> list[RawProfile]:
    """Decode one OTLP input into RawProfiles (one per input; see the module docstring)."""
    from profilelab.readers._otlp_raw import to_raw_profiles
    from profilelab.readers._wire import WireError

    payload = decode(inp)
    try:
        return to_raw_profiles(payload, inp.name, inp.content_id())
    except WireError as exc:
        raise FormatError(
            f"{inp.name}: invalid OTLP profiles payload (read as schema v{payload.version}): {exc}"
        ) from None


@dataclass(frozen=True)
class OriginalPayload:
    """A Profile's ``original_payload`` and where the profile sits in the payload."""

    format: str  # Profile.original_payload_format, e.g. "pprof" or "jfr"
    data: bytes
    resource: int
    scope: int
    profile: int


def original_payloads(source: Source, name: str | None = None) -> list[OriginalPayload]:
    """The original payloads carried by an OTLP input (profiles without one are skipped).

    A ``pprof`` payload loads with ``profilelab.load(p.data)``.
    """
    inp = open_input(source, name)
    if not looks_like_otlp(inp.data):
        raise FormatError(f"{inp.name}: not an OTLP profiles payload")
    return [
        OriginalPayload(e.payload_format, e.payload, e.resource, e.scope, e.position)
        for e in decode(inp).profiles
        if e.payload
    ]
