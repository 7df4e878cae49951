"""Type stub of the compiled bounded gunzip (source: _inflate.c)."""

class GzipError(ValueError):
    """Damaged, truncated or too large gzip data."""

def gunzip(data: bytes | bytearray | memoryview, limit: int, /) -> bytes:
    """Inflate every gzip member of ``data`` into one bytes object of at most ``limit`` bytes."""
