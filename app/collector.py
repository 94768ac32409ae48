"""Python's cyclic garbage collector in the long-running processes.

A full collection walks every object the process holds; after start-up that is the whole of
LangChain, the Kubernetes and Slack clients, SQLAlchemy and the tokenizer - 100 to 200 ms with
the GIL held, during which no Socket Mode envelope is acknowledged and no chat API request
moves (measured: ``bench/bench_slack.py``, docs/benchmarks.md).  :func:`frozen` collects once
after start-up and moves what survived to the permanent generation (``gc.freeze``), so later
collections walk only what the process made since; leaving it moves them back.  Within it the
collector also runs less often (:data:`THRESHOLDS`): at Python's default of a young collection
every 700 allocations, a burst of turns each holding a 200-pod listing spent a quarter of the
chat API's CPU in the collector (docs/benchmarks.md).
:func:`watch` times every collection into ``hexabot_gc_pause_seconds`` so an operator sees
pauses instead of guessing at them.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from typing import Any

from tools import metrics

# A young collection every 50,000 net allocations instead of 700; a middle one every 20 young
# ones, a full one every 100 middle ones (and then only when the long-lived objects grew by a
# quarter, Python's own rule).  Cycles wait longer to be freed: a few MB more at most.
THRESHOLDS = (50_000, 20, 100)

_began: list[float] = []


def _timed(phase: str, info: dict[str, Any]) -> None:
    # The collector runs with the GIL held, one collection at a time, so one slot suffices.
    if phase == "start":
        _began[:] = [time.perf_counter()]
    elif _began:
        metrics.GC_PAUSE.labels(str(info.get("generation", "?"))).observe(
            time.perf_counter() - _began.pop())


def watch() -> None:
    """Time every collection from now on (once per process, however often called)."""
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """Within the block, collections leave alone what existed when it began, and run at
    :data:`THRESHOLDS`."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
