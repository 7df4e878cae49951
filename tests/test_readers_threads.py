"""The format registry must be complete for threads that read their first inputs together."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from store_util import ROOT

SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, "tests")
    from store_util import Program
    import profilelab

    data = Program("order", 1, functions=20, stacks=20).profile(1, 10, 1)
    barrier = threading.Barrier(16)
    errors = []

    def first_load():
        barrier.wait()
        try:
            profilelab.load(data)
        except Exception as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=first_load) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(errors), errors[:1])
    """
)


def test_first_loads_from_many_threads_all_succeed() -> None:
    # a fresh interpreter: the registry is filled on first use
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("0 "), out.stdout
