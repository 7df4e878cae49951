"""Type stub of the compiled string hashes (source: _strhash.c)."""

from typing import Any

def hash_at(offsets: Any, data: Any, index: Any, out: Any, /) -> bool:
    """``out[k]``: the hash (``model.ids.hash_strings_at``) of string ``index[k]`` (of string
    ``k`` when ``index`` is None) of the table of int64 ``offsets`` into ``data``; False for
    an index or offsets out of range (``out`` then holds nothing promised)."""
