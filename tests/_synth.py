"""Build synthetic RawProfiles straight from stacks (root-first function names) for tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from profilelab.model import builder
from profilelab.model.profile import Profile
from profilelab.model.raw import RawProfile


def raw_from_stacks(
    stacks: Sequence[Sequence[str]],
    values: Sequence[Sequence[int]] | Sequence[int],
    *,
    sample_types: Sequence[tuple[str, str]] = (("cpu", "nanoseconds"),),
    time_ns: int | None = None,
    labels: dict[str, str] | None = None,
    sample_labels: Sequence[dict[str, str]] | None = None,
    source_id: int = 1,
) -> RawProfile:
    """One sample per stack (root first), values per sample type, optional string labels."""
    strings: dict[str, int] = {"": 0}

    def s(x: str) -> int:
        return strings.setdefault(x, len(strings))

    names = sorted({f for st in stacks for f in st})
    fn_index = {n: i for i, n in enumerate(names)}
    vals = np.asarray(values, dtype=np.int64).reshape(len(stacks), len(sample_types))
    stack_locs = [[fn_index[f] for f in reversed(st)] for st in stacks]  # leaf first
    offsets = np.zeros(len(stacks) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in stack_locs], out=offsets[1:])
    label_key: list[int] = []
    label_str: list[int] = []
    label_offsets = [0]
    for i in range(len(stacks)):
        for k, v in (sample_labels[i] if sample_labels else {}).items():
            label_key.append(s(k))
            label_str.append(s(v))
        label_offsets.append(len(label_key))
    raw = RawProfile(
        source=f"synthetic-{source_id}",
        source_id=source_id,
        sample_types=list(sample_types),
        time_ns=time_ns,
        profile_labels=list((labels or {}).items()),
        function_name=np.array([s(n) for n in names], dtype=np.int64),
        function_system_name=np.array([s(n) for n in names], dtype=np.int64),
        function_file=np.array([s(f"{n.split('.')[0]}.go") for n in names], dtype=np.int64),
        function_start_line=np.zeros(len(names), dtype=np.int64),
        location_mapping=np.full(len(names), -1, dtype=np.int64),
        location_address=np.zeros(len(names), dtype=np.uint64),
        location_folded=np.zeros(len(names), dtype=bool),
        line_offsets=np.arange(len(names) + 1, dtype=np.int64),
        line_function=np.arange(len(names), dtype=np.int64),
        line_line=np.ones(len(names), dtype=np.int64),
        line_column=np.zeros(len(names), dtype=np.int64),
        stack_offsets=offsets,
        stack_locations=np.array([x for st in stack_locs for x in st], dtype=np.int64),
        sample_stack=np.arange(len(stacks), dtype=np.int64),
        values=vals,
        label_offsets=np.array(label_offsets, dtype=np.int64),
        label_key=np.array(label_key, dtype=np.int64),
        label_str=np.array(label_str, dtype=np.int64),
        label_num=np.zeros(len(label_key), dtype=np.int64),
        label_unit=np.zeros(len(label_key), dtype=np.int64),
    )
    raw.strings = pa.array(list(strings), type=pa.string())
    return raw


def build(raws: Sequence[RawProfile]) -> Profile:
    return builder.build(raws)
