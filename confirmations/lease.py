"""Execution leases: which replica runs an action, kept alive by a heartbeat.

The lease is taken with the claim (pending → approved) and renewed every ``interval`` while
the plan runs and while its outcome is being recorded (also through a database blip), so a
replica starting meanwhile leaves the action alone; ``finish`` clears it.  When the owner dies
the lease runs out after ``duration`` and any replica's recovery settles the action from the
cluster's state.  Renewal failures are logged, never raised: the work itself must not stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from confirmations.store import BLIPS, ConfirmationStore, Lease

log = logging.getLogger("hexabot.confirmations")


def process_id() -> str:
    """This process's lease owner id: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Leasing:
    owner: str
    duration: timedelta = timedelta(seconds=60)
    interval: float = 10.0  # seconds between renewals

    def lease(self, now: datetime) -> Lease:
        return Lease(self.owner, now + self.duration)


@contextlib.asynccontextmanager
async def heartbeat(store: ConfirmationStore, leasing: Leasing, action_id: str,
                    clock: Callable[[], datetime]) -> AsyncIterator[None]:
    """Renew ``action_id``'s lease every ``leasing.interval`` seconds for the block."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(leasing.interval)
            try:
                if not await store.renew(action_id, leasing.lease(clock())):
                    log.warning("lease of action %s no longer held by %s", action_id,
                                leasing.owner)
                    return
            except BLIPS as exc:  # the database blinked: the next beat tries again
                log.warning("lease of action %s not renewed: %s", action_id, exc)

    task = asyncio.create_task(beat(), name=f"lease-{action_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
