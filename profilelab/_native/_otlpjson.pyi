"""Type stub of the compiled OTLP/JSON samples reader (source: _otlpjson.c)."""

def locate(data: bytes | bytearray | memoryview, /) -> tuple[bool, list[tuple[int, int]]] | None:
    """Where each Profile's samples array is: (snake_case keys, [(start, end)]) in document
    order, start -1 when it has none; None when the walk cannot tell."""

def samples(
    data: bytes | bytearray | memoryview, start: int, end: int, snake: bool, /
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes, bytes] | None:
    """The Sample array at data[start:end] as int64 columns (stack, link, attribute
    offsets, attributes, value offsets, values, timestamp offsets, timestamps); None when
    it holds anything the Python reader might read otherwise."""
