"""Type stub of the Arrow C data interface's release callbacks (source: _arrowc.c)."""

def releases() -> tuple[int, int]:
    """The addresses of the C functions releasing an ``ArrowSchema`` and an ``ArrowArray``
    whose ``private_data`` is a new reference to the Python object owning their memory."""

def drain() -> None:
    """Drop the references that releases on threads without the GIL queued."""

def queued() -> int:
    """How many references releases on threads without the GIL have queued."""
