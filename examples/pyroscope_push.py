"""A Python program that pushes its CPU profiles to ``profilelab serve`` with the Pyroscope SDK.

    profilelab serve --store profiles/ --port 4040
    python examples/pyroscope_push.py --server http://127.0.0.1:4040 --seconds 30
    profilelab query 'cpu{service_name="app"}' --store profiles/ top

The ``pyroscope-io`` package (PyPI) samples this process and pushes every 10 seconds to
``/ingest``; profilelab stores each push with ``service_name="app"`` and the tags as labels.
"""

from __future__ import annotations

import argparse
import time


def checksum(n: int) -> int:
    """The hot function: what ``top`` should show first."""
    total = 0
    for i in range(n):
        total = (total * 31 + i) % 1_000_003
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="http://127.0.0.1:4040")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    import pyroscope  # the pyroscope-io SDK (pip install pyroscope-io)

    pyroscope.configure(application_name="app", server_address=args.server, tags={"env": "prod"})
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        checksum(200_000)
    pyroscope.shutdown()


if __name__ == "__main__":
    main()
