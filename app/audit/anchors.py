"""The background anchoring of the audit chain: every replica, every few seconds, and once
more when it stops.

An anchor records every partition's head (:func:`confirmations.outbox.anchor`); until one
does, events deleted from the end of a partition leave no trace in the table.  The shipper
anchors before each batch too, but the embedded default has no ClickHouse and no shipper, so
this loop is what bounds the window there: events written in the last ``interval`` seconds.
An anchor is written only when some event was, so idle replicas add nothing.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from app.loops import Guard
from confirmations import outbox

log = logging.getLogger("hexabot.audit")


async def anchor_once(engine: AsyncEngine) -> int | None:
    written = await outbox.anchor(engine)
    if written is not None:
        log.debug("audit anchor %d written", written)
    return written


async def run(engine: AsyncEngine, stop: asyncio.Event, interval: float) -> None:
    """Anchor every ``interval`` seconds until ``stop`` is set, then once more (a failure is
    logged, counted and retried with back-off: :class:`app.loops.Guard`)."""
    guard = Guard("anchor", interval)

    async def step() -> None:
        await anchor_once(engine)

    while not stop.is_set():
        wait = await guard.run(step)
        try:
            await asyncio.wait_for(stop.wait(), wait)
        except TimeoutError:
            continue
    await guard.run(step)
