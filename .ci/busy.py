"""Run a slice of the test suite on a machine kept busy: one CPU-bound process per core runs
beside pytest for the whole slice, at the same priority, so a test that only passes on an idle
machine (a sleep standing in for "it happened", a deadline with no slack) fails here.

Usage: python .ci/busy.py PYTEST [pytest arguments…]   (the slice is `make test-busy`'s)
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time


def burn() -> None:
    """Spin until killed."""
    count = 0
    while True:
        count += 1


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cores = len(os.sched_getaffinity(0))
    hogs = [multiprocessing.Process(target=burn, daemon=True) for _ in range(cores)]
    for hog in hogs:
        hog.start()
    print(f"busy machine: {cores} CPU-bound process(es) beside the tests", flush=True)
    began = time.monotonic()
    try:
        return subprocess.call(sys.argv[1:])
    finally:
        for hog in hogs:
            hog.kill()
        print(f"busy slice finished in {time.monotonic() - began:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
