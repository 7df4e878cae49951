"""Type stub of the compiled pprof decoder (source: _pprof.c, pprof_decode.c)."""

from typing import Any

class WireError(ValueError):
    """The bytes are not a well-formed protobuf message (names the problem and byte offset)."""

class Buffer:
    """Bytes owned by the decoder, exported through the buffer protocol."""

    def __len__(self) -> int: ...

def decode(data: bytes | bytearray | memoryview, /) -> dict[str, Any]:
    """A raw pprof message as flat arrays; id/value-count problems are returned as 'error'."""
