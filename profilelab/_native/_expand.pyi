"""Type stub of the builder's compiled stack expansion (source: _expand.c)."""

from typing import Any

def expand(
    refs: Any, stack_offsets: Any, loc_frame_offsets: Any, loc_frame_ids: Any, /
) -> tuple[bytearray, bytearray, bytearray] | None:
    """Every stack's frame ids (its locations' frames in turn, all arguments int64 buffers)
    and each frame sequence's hash (``model.ids.hash_sequences``): int64 frame offsets per
    stack, int64 frame ids, uint64 hashes; None for offsets out of order or a location
    position outside the locations."""
