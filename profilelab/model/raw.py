"""RawProfile: the pprof-shaped columnar form that every reader produces.

A reader decodes its format into one or more :class:`RawProfile` objects; the builder
(:mod:`profilelab.model.builder`) turns them into the canonical tables. Keeping this
intermediate pprof-shaped (strings, functions, locations with lines, mappings, samples)
means every format shares one implementation of inline expansion, content hashing,
stack deduplication and span-label normalization.

Conventions: all cross references are 0-based positions (not pprof ids), ``-1`` means
"none"; string references are positions in ``strings`` whose entry 0 is ``""``;
variable-length lists are CSR style (``*_offsets`` of length n+1 into a flat array).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from profilelab.model import _arrow

# Immutable, so every RawProfile may share it.
EMPTY_STRING = _arrow.strings([""])


def _i64(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=np.int64)


def _u64(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=np.uint64)


def _bool(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=bool)


@dataclass(eq=False, repr=False)
class RawProfile:
    """One decoded input (one pprof message, or one OTLP profile), all sample types.

    No generated ``==`` or ``repr``: fields are arrays (compare them field by field, as
    the decoder tests do), and generating the two methods for its 45 fields is a fifth
    of what importing this module costs on the command line.
    """

    # --- identity and metadata -------------------------------------------------------
    source: str = "<bytes>"
    source_id: int = 0  # ids.digest_bytes of the input, plus a suffix for multi-profile inputs
    format: str = "pprof"
    # _arrow.Array, or a pyarrow string array (readers of other formats)
    strings: Any = field(default_factory=lambda: EMPTY_STRING)
    sample_types: list[tuple[str, str]] = field(default_factory=list)  # (type, unit)
    default_sample_type: str | None = None  # type name; None = pprof's default (the last)
    period_type: tuple[str, str] = ("", "")
    period: int = 0
    time_ns: int | None = None
    duration_ns: int | None = None
    drop_frames: str | None = None
    keep_frames: str | None = None
    comments: list[str] = field(default_factory=list)
    doc_url: str | None = None
    profile_labels: list[tuple[str, str]] = field(default_factory=list)

    # --- mappings (one row each) -------------------------------------------------------
    mapping_start: np.ndarray = field(default_factory=_u64)
    mapping_limit: np.ndarray = field(default_factory=_u64)
    mapping_offset: np.ndarray = field(default_factory=_u64)
    mapping_file: np.ndarray = field(default_factory=_i64)  # string index
    mapping_build_id: np.ndarray = field(default_factory=_i64)  # string index
    mapping_has_functions: np.ndarray = field(default_factory=_bool)
    mapping_has_filenames: np.ndarray = field(default_factory=_bool)
    mapping_has_line_numbers: np.ndarray = field(default_factory=_bool)
    mapping_has_inline_frames: np.ndarray = field(default_factory=_bool)

    # --- functions -----------------------------------------------------------------------
    function_name: np.ndarray = field(default_factory=_i64)  # string index
    function_system_name: np.ndarray = field(default_factory=_i64)
    function_file: np.ndarray = field(default_factory=_i64)
    function_start_line: np.ndarray = field(default_factory=_i64)

    # --- locations and their lines (line 0 is the innermost inlined call, the last is the caller)
    location_mapping: np.ndarray = field(default_factory=_i64)  # mapping position or -1
    location_address: np.ndarray = field(default_factory=_u64)
    location_folded: np.ndarray = field(default_factory=_bool)
    line_offsets: np.ndarray = field(default_factory=lambda: _i64(1))  # n_locations + 1
    line_function: np.ndarray = field(default_factory=_i64)  # function position or -1
    line_line: np.ndarray = field(default_factory=_i64)
    line_column: np.ndarray = field(default_factory=_i64)

    # --- distinct location sequences ("raw stacks"), leaf first --------------------------
    stack_offsets: np.ndarray = field(default_factory=lambda: _i64(1))  # n_stacks + 1
    stack_locations: np.ndarray = field(default_factory=_i64)  # location positions

    # --- samples ---------------------------------------------------------------------------
    sample_stack: np.ndarray = field(default_factory=_i64)  # raw stack position per sample
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    label_offsets: np.ndarray = field(default_factory=lambda: _i64(1))  # n_samples + 1
    label_key: np.ndarray = field(default_factory=_i64)  # string index
    label_str: np.ndarray = field(default_factory=_i64)  # string index, 0 = numeric label
    label_num: np.ndarray = field(default_factory=_i64)
    label_unit: np.ndarray = field(default_factory=_i64)  # string index, 0 = none
    # Optional per-sample columns for formats that carry them (OTLP); None when absent.
    sample_time_ns: np.ndarray | None = None  # int64, with sample_time_valid as the mask
    sample_time_valid: np.ndarray | None = None
    sample_trace_id: Any = None  # lower-case hex strings or null (an Arrow array)
    sample_span_id: Any = None

    @property
    def n_samples(self) -> int:
        return len(self.sample_stack)

    def string(self, index: int) -> str:
        """The string at ``index`` of the string table."""
        return str(_arrow.string_at(self.strings, index))
