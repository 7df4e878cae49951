"""The C allocator's handling of large freed blocks, for processes that are ours.

glibc returns a freed block of more than 128 KiB (more, once it has seen larger ones) to
the kernel at once, and the kernel hands fresh memory back zeroed, page by page, on first
touch. A process that builds big tables allocates and frees arrays of the same few sizes
again and again (every NumPy step over millions of rows makes a new one), so it pays for
zeroing the same memory many times: on the 1M-sample benchmark profile, clearing pages
was a quarter of ``profilelab top``'s CPU. Keeping freed blocks for reuse trades memory
that stays mapped until exit for that time; only processes that end soon (a command, a
worker) do it, never a library call in a user's program.
"""

from __future__ import annotations

#: glibc's ``mallopt`` parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int, trim_threshold: int) -> bool:
    """Serve blocks below ``mmap_threshold`` bytes from the heap, and return the heap's
    free top to the kernel only past ``trim_threshold`` bytes. False where the C library
    is not glibc (nothing is changed there)."""
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) & bool(
        mallopt(M_TRIM_THRESHOLD, trim_threshold)
    )
