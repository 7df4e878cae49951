"""Render a RawProfile as Go's ``profile.Profile.String()`` does (google/pprof profile.go).

The ``.string`` goldens of google/pprof's ``profile/testdata`` are such dumps of what Go's
parser decoded from each legacy input; rendering our decode the same way compares every
sample, value, label, location, address and mapping with them.
"""

from __future__ import annotations

from profilelab.model.raw import RawProfile


def go_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if ns < size * 1000:
                whole, frac = divmod(ns, size)
                digits = len(str(size)) - 1
                tail = f".{frac:0{digits}d}".rstrip("0") if frac else ""
                return f"{sign}{whole}{tail.rstrip('.')}{unit}"
    secs, frac = divmod(ns, 1_000_000_000)
    out = f"{secs % 60}" + (f".{frac:09d}".rstrip("0") if frac else "") + "s"
    minutes = secs // 60
    if minutes:
        out = f"{minutes % 60}m" + out
        if minutes // 60:
            out = f"{minutes // 60}h" + out
    return sign + out


def go_string(raw: RawProfile) -> str:
    s = raw.string
    out = [f"Comment: {c}" for c in raw.comments]
    if raw.doc_url:
        out.append(f"Doc: {raw.doc_url}")
    out.append(f"PeriodType: {raw.period_type[0]} {raw.period_type[1]}")
    out.append(f"Period: {raw.period}")
    if raw.duration_ns:
        out.append(f"Duration: {go_duration(raw.duration_ns)[:4]}")
    out.append("Samples:")
    out.append(" ".join(f"{t}/{u}" for t, u in raw.sample_types).strip())
    for i in range(raw.n_samples):
        values = "".join(f" {v:10d}" for v in raw.values[i].tolist())
        st = int(raw.sample_stack[i])
        locs = raw.stack_locations[raw.stack_offsets[st] : raw.stack_offsets[st + 1]]
        out.append(values + ": " + "".join(f"{int(loc) + 1} " for loc in locs))
        out.extend(_labels(raw, i))
    out.append("Locations")
    for loc in range(len(raw.location_address)):
        out.append(_location(raw, loc))
    out.append("Mappings")
    for m in range(len(raw.mapping_start)):
        bits = "".join(
            tag
            for tag, flag in (
                ("[FN]", raw.mapping_has_functions[m]),
                ("[FL]", raw.mapping_has_filenames[m]),
                ("[LN]", raw.mapping_has_line_numbers[m]),
                ("[IN]", raw.mapping_has_inline_frames[m]),
            )
            if flag
        )
        out.append(
            f"{m + 1}: {int(raw.mapping_start[m]):#x}/{int(raw.mapping_limit[m]):#x}/"
            f"{int(raw.mapping_offset[m]):#x} {s(int(raw.mapping_file[m]))} "
            f"{s(int(raw.mapping_build_id[m]))} {bits}"
        )
    return "\n".join(out) + "\n"


def _labels(raw: RawProfile, i: int) -> list[str]:
    start, end = int(raw.label_offsets[i]), int(raw.label_offsets[i + 1])
    strs: dict[str, list[str]] = {}
    nums: dict[str, list[int]] = {}
    for k in range(start, end):
        key = raw.string(int(raw.label_key[k]))
        if raw.label_str[k]:
            strs.setdefault(key, []).append(raw.string(int(raw.label_str[k])))
        else:
            nums.setdefault(key, []).append(int(raw.label_num[k]))
    lines = []
    if strs:
        lines.append(" ".join(sorted(f"{k}:[{' '.join(v)}]" for k, v in strs.items())))
    if nums:
        lines.append(" ".join(sorted(f"{k}:[{' '.join(map(str, v))}]" for k, v in nums.items())))
    return [" " * 16 + line for line in lines]


def _location(raw: RawProfile, loc: int) -> str:
    head = f"{loc + 1:6d}: {int(raw.location_address[loc]):#x} "
    if raw.location_mapping[loc] >= 0:
        head += f"M={int(raw.location_mapping[loc]) + 1} "
    if raw.location_folded[loc]:
        head += "[F] "
    start, end = int(raw.line_offsets[loc]), int(raw.line_offsets[loc + 1])
    if start == end:
        return head
    rows = []
    for k in range(start, end):
        fn = int(raw.line_function[k])
        text = "??"
        if fn >= 0:
            name = raw.string(int(raw.function_name[fn]))
            system = raw.string(int(raw.function_system_name[fn]))
            text = (
                f"{name} {raw.string(int(raw.function_file[fn]))}:{int(raw.line_line[k])}:"
                f"{int(raw.line_column[k])} s={int(raw.function_start_line[fn])}"
            )
            if name != system:
                text += f"({system})"
        rows.append(head + text)
        head = " " * 13
    return "\n".join(rows)
