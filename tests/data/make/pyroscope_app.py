"""The program whose pushes are tests/data/evidence/pyroscope/: the pyroscope-io SDK (Python,
pyroscope-rs) profiles it and pushes pprof to the address in argv[1] every second."""

import sys
import time

import pyroscope


def parse(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def score(items: list[str]) -> int:
    total = 0
    for s in items:
        total += hash(s) % 7
    return total


def handle(n: int) -> int:
    with pyroscope.tag_wrapper({"endpoint": "/score" if n % 2 else "/parse"}):
        return score(parse(20000)) if n % 2 else len(parse(40000))


if __name__ == "__main__":
    pyroscope.configure(
        application_name="evidence", server_address=sys.argv[1], tags={"env": "make"},
        upload_interval=1,
    )  # fmt: skip
    end = time.time() + 3.5
    n = 0
    while time.time() < end:
        handle(n)
        n += 1
    pyroscope.shutdown()
