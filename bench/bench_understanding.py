"""Command mode's understanding (issue 20): accuracy on each corpus split, writes proposed from
a misread, the confusion between intents, and how long understanding takes.

The corpus (tests/understanding/*.yaml, CORPUS.md) runs against its cluster read live from the
sandbox as alice — the same inventory command mode fetches each turn.  Targets from the issue:
≥ 95 % on the tuning splits, ≥ 90 % on the held-out splits, zero misread writes.  With
``--confusion`` (``python -m bench.bench_understanding --confusion``) it prints which intents
were taken for which, for docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from agents.understand import Inventory, understand
from app.database import asyncpg_url, ensure_database
from bench.common import Result
from tests.services import postgres_admin_url
from tests.understanding.support import corpus, corpus_inventory, judge

SPLITS = {"tuning": 0.95, "tuning2": 0.95, "heldout": 0.90, "heldout2": 0.90,
          "adversarial": 0.80}  # a red team's set: the bar that matters there is 0 writes


async def _inventory(workdir: Path) -> tuple[Inventory, float]:
    admin_url, server = postgres_admin_url(workdir)
    admin = asyncpg_url(admin_url)
    await ensure_database(admin, "bench_understanding")
    try:
        async with corpus_inventory(admin.set(database="bench_understanding").render_as_string(
                hide_password=False), workdir) as found:
            began = time.perf_counter()
            return found, (time.perf_counter() - began) * 1000
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]


def measure() -> tuple[list[Result], Counter[tuple[str, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        seen, _ = asyncio.run(_inventory(Path(tmp)))
    results, confusion, timings = [], Counter[tuple[str, str]](), []
    for split, bar in SPLITS.items():
        entries = corpus(split)
        right = misread = 0
        for entry in entries:
            began = time.perf_counter()
            found = understand(entry["text"], seen)
            timings.append((time.perf_counter() - began) * 1000)
            verdict = judge(entry, found)
            right += verdict.ok
            misread += verdict.misread_write
            if not verdict.ok:
                confusion[(entry["intent"], found.intent)] += 1
        accuracy = right / len(entries)
        results.append(Result(f"understood, {split} split ({len(entries)} requests)",
                              f"{accuracy:.1%} ({right}/{len(entries)}); misread writes "
                              f"{misread}", f"≥ {bar:.0%}, 0 misread writes",
                              accuracy >= bar and not misread))
    p50 = statistics.median(timings)
    p99 = statistics.quantiles(timings, n=100)[-1]
    results.append(Result("understanding one request (p50, p99; inventory of 30 objects)",
                          f"{p50:.2f} ms, {p99:.2f} ms", "< 5 ms p99", p99 < 5))
    return results, confusion


def run() -> list[Result]:
    return measure()[0]


if __name__ == "__main__":
    measured, mistaken = measure()
    for result in measured:
        print(f"{result.name}: {result.measured}")
    if "--confusion" in sys.argv:
        print("| expected | understood as | count |\n| --- | --- | --- |")
        for (want, got), count in mistaken.most_common():
            print(f"| {want} | {got} | {count} |")
