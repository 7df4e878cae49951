"""A tiny pprof message builder for tests (real protobuf through profilelab._proto.pprof_pb2)."""

from __future__ import annotations

import gzip
from collections.abc import Sequence

from profilelab._proto import pprof_pb2

Label = tuple[str, str] | tuple[str, int, str]  # (key, str) or (key, num, unit)


class PprofBuilder:
    """Build a pprof Profile message: functions, one location per call site, samples."""

    def __init__(self, sample_types: Sequence[tuple[str, str]] = (("samples", "count"),)) -> None:
        self.msg = pprof_pb2.Profile()
        self.strings: dict[bytes, int] = {b"": 0}
        for t, u in sample_types:
            vt = self.msg.sample_type.add()
            vt.type, vt.unit = self.s(t), self.s(u)

    def s(self, text: str | bytes) -> int:
        """The string-table index of ``text`` (bytes are stored as given, even invalid UTF-8)."""
        key = text.encode() if isinstance(text, str) else text
        return self.strings.setdefault(key, len(self.strings))

    def function(self, name: str | bytes, file: str | bytes = "", start_line: int = 0) -> int:
        f = self.msg.function.add()
        f.id = len(self.msg.function)
        f.name, f.system_name, f.filename = self.s(name), self.s(name), self.s(file)
        f.start_line = start_line
        return f.id

    def location(self, *function_ids: int, address: int = 0, line: int = 0) -> int:
        """A location whose lines call ``function_ids`` (innermost inlined first)."""
        loc = self.msg.location.add()
        loc.id = len(self.msg.location)
        loc.address = address
        for fid in function_ids:
            ln = loc.line.add()
            ln.function_id, ln.line = fid, line
        return loc.id

    def sample(
        self, location_ids: Sequence[int], values: Sequence[int], labels: Sequence[Label] = ()
    ) -> None:
        smp = self.msg.sample.add()
        smp.location_id.extend(location_ids)
        smp.value.extend(values)
        for lb in labels:
            label = smp.label.add()
            label.key = self.s(lb[0])
            if len(lb) == 2:
                label.str = self.s(lb[1])
            else:
                label.num, label.num_unit = lb[1], self.s(lb[2])

    def bytes(self, gzipped: bool = False) -> bytes:
        del self.msg.string_table[:]
        self.msg.string_table.extend(sorted(self.strings, key=self.strings.__getitem__))
        data = self.msg.SerializeToString()
        return gzip.compress(data) if gzipped else data
