"""Type stub of the compiled OTLP profiles walker (source: _otlpwire.c)."""

from typing import Any

def decode(data: bytes | bytearray | memoryview, /) -> tuple[Any, ...] | None:
    """A binary OTLP profiles request (v1development) as the parts of its Payload, assembled
    by profilelab.readers._otlp_native; None for anything left to the NumPy walker."""
