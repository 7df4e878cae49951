"""Loading a pprof profile on the fast path imports neither pandas nor the protobuf runtime.

Each would cost a tenth of a second or more per process (``pa.array``, ``pa.scalar`` and
``pc.equal(x, 0)`` import pandas; the protobuf runtime is only the fallback decoder's).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pprof_build import PprofBuilder

ROOT = Path(__file__).resolve().parent.parent


def test_loading_imports_no_pandas_and_no_protobuf(tmp_path: Path) -> None:
    b = PprofBuilder([("samples", "count"), ("cpu", "nanoseconds")])
    main = b.function("main.main")
    for i, labels in enumerate([[("span id", "123")], [("trace_id", "AB"), ("k", "v")], []]):
        b.sample([b.location(main, address=i + 1)], [1, 2], labels)
    path = tmp_path / "p.pb.gz"
    path.write_bytes(b.bytes(gzipped=True))
    script = (
        "import sys, profilelab\n"
        "p = profilelab.load(sys.argv[1])\n"
        "assert p.samples.height == 6\n"
        "print(sorted(m for m in ('pandas', 'google.protobuf') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
