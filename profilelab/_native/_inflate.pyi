"""Type stub of the compiled bounded gunzip (source: _inflate.c)."""

class GzipError(ValueError):
    """Damaged, truncated or too large gzip data."""

class LimitError(GzipError):
    """The data inflates past the size limit, or past the ratio limit once over the floor."""

def gunzip(
    data: bytes | bytearray | memoryview, limit: int, ratio: int = 0, floor: int = 0, /
) -> bytes:
    """Inflate every gzip member of ``data`` into one bytes object of at most ``limit`` bytes
    (and, with ``ratio``, at most ``ratio`` times the input consumed once past ``floor``)."""
