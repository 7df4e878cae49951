"""Legacy (pre-protobuf) profile formats that ``go tool pprof`` still reads.

Supported, decoded as google/pprof ``profile/legacy_profile.go`` decodes them (tests
compare with the ``.string`` dumps Go's parser produced for google/pprof's test data):

* binary CPU profiles of gperftools and of Go before 1.9 (32/64-bit words, either byte
  order) with their memory map, and the Java variant with its symbol table;
* text heap profiles (``heapz``, ``heap_v2``, Go's ``heap/N``, ``growthz``,
  ``fragmentationz``), unsampled as pprof does;
* Go count profiles (``threadcreate profile: total N``, ``goroutine profile: ...``);
* ``--- threadz`` thread dumps;
* C++ ``--- contentionz`` (also Go's ``--- mutex:`` / ``--- contention:``) and the Java
  ``heapz`` / ``contentionz`` text formats.

Formats are told apart by their first bytes (see :func:`sniff`); parsers then run in Go's
order, each declining inputs that are not its own.
"""

from __future__ import annotations

from collections.abc import Callable

from profilelab.errors import FormatError
from profilelab.model.ids import digest_bytes
from profilelab.model.raw import RawProfile
from profilelab.readers._input import Input
from profilelab.readers.legacy import _cpu, _java, _text
from profilelab.readers.legacy._model import Legacy, Malformed, Unrecognized, to_raw

FORMAT = "pprof-legacy"

_PARSERS: list[tuple[str, Callable[[bytes, str], Legacy]]] = [
    ("binary CPU", lambda data, text: _cpu.parse(data)),
    ("heap", lambda data, text: _text.parse_heap(text)),
    ("Go count", lambda data, text: _text.parse_count(text)),
    ("threadz", lambda data, text: _text.parse_thread(text)),
    ("contention", lambda data, text: _text.parse_contention(text)),
    ("Java heapz/contentionz", lambda data, text: _java.parse(text)),
]


def read(inp: Input) -> list[RawProfile]:
    """Decode a legacy profile; FormatError names the input, the format and the problem."""
    text = inp.data.decode("utf-8", errors="replace")
    for kind, parser in _PARSERS:
        try:
            p = parser(inp.data, text)
        except Unrecognized:
            continue
        except Malformed as exc:
            raise FormatError(f"{inp.name}: malformed legacy {kind} profile: {exc}") from None
        _add_frame_info(p)
        try:
            raw = to_raw(p, inp.name)
        except Malformed as exc:
            raise FormatError(f"{inp.name}: malformed legacy {kind} profile: {exc}") from None
        raw.source_id = digest_bytes(inp.raw)
        return [raw]
    raise FormatError(
        f"{inp.name}: unrecognized legacy profile (its header looks like one, but no legacy "
        "parser accepts it)"
    )


# pprof's addLegacyFrameInfo: frames of the profiler or allocator itself, dropped in reports.
_ALLOC_DROP = "|".join(
    [
        "calloc", "cfree", "malloc", "free", "memalign", "do_memalign", "(__)?posix_memalign",
        "pvalloc", "valloc", "realloc", "tcmalloc::.*", "tc_calloc", "tc_cfree", "tc_malloc",
        "tc_free", "tc_memalign", "tc_posix_memalign", "tc_pvalloc", "tc_valloc", "tc_realloc",
        "tc_new", "tc_delete", "tc_newarray", "tc_deletearray", "tc_new_nothrow",
        "tc_newarray_nothrow", "malloc_zone_malloc", "malloc_zone_calloc", "malloc_zone_valloc",
        "malloc_zone_realloc", "malloc_zone_memalign", "malloc_zone_free", r"runtime\..*",
        "BaseArena::.*", "(::)?do_malloc_no_errno", "(::)?do_malloc_pages", "(::)?do_malloc",
        "DoSampledAllocation", "MallocedMemBlock::MallocedMemBlock", "_M_allocate",
        "__builtin_(vec_)?delete", "__builtin_(vec_)?new", "__gnu_cxx::new_allocator::allocate",
        "__libc_malloc", "__malloc_alloc_template::allocate", "allocate", "cpp_alloc",
        r"operator new(\[\])?", "simple_alloc::allocate",
    ]
)  # fmt: skip
_ALLOC_KEEP = "|".join([r"runtime\.panic", r"runtime\.reflectcall", r"runtime\.call[0-9]*"])
_CPU_DROP = "|".join(
    [
        "ProfileData::Add",
        "ProfileData::prof_handler",
        "CpuProfiler::prof_handler",
        "__pthread_sighandler",
        "__restore",
    ]
)
_LOCK_DROP = "|".join(
    [
        "RecordLockProfileData", "(base::)?RecordLockProfileData.*",
        "(base::)?SubmitMutexProfileData.*", "(base::)?SubmitSpinLockProfileData.*",
        "(base::Mutex::)?AwaitCommon.*", "(base::Mutex::)?Unlock.*",
        "(base::Mutex::)?UnlockSlow.*", "(base::Mutex::)?ReaderUnlock.*",
        "(base::MutexLock::)?~MutexLock.*", "(Mutex::)?AwaitCommon.*", "(Mutex::)?Unlock.*",
        "(Mutex::)?UnlockSlow.*", "(Mutex::)?ReaderUnlock.*", "(MutexLock::)?~MutexLock.*",
        "(SpinLock::)?Unlock.*", "(SpinLock::)?SlowUnlock.*",
        "(SpinLockHolder::)?~SpinLockHolder.*",
    ]
)  # fmt: skip
_HEAP_TYPES = (
    ("allocations", "size"),
    ("objects", "space"),
    ("inuse_objects", "inuse_space"),
    ("alloc_objects", "alloc_space"),
    ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space"),
)


def _add_frame_info(p: Legacy) -> None:
    types = tuple(t for t, _ in p.sample_types)
    if types in _HEAP_TYPES:
        p.drop_frames, p.keep_frames = _ALLOC_DROP, _ALLOC_KEEP
    elif types == ("contentions", "delay"):
        p.drop_frames, p.keep_frames = _LOCK_DROP, ""
    else:
        p.drop_frames, p.keep_frames = _CPU_DROP, ""
