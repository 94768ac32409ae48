"""The bot's background work: recovery at start-up, the expiry sweeper, the audit shipper.

``hexabot run`` starts :func:`run_background` beside the Slack listeners; every replica may run
it (claims, SKIP LOCKED batches and conditional updates make the work safe to share).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from agents.orchestrator.engine import Run
from agents.orchestrator.runs import Owner
from app.audit.shipper import Shipper
from app.services import Services
from confirmations.model import PendingAction

log = logging.getLogger("hexabot.background")


OnExpired = Callable[[PendingAction], Awaitable[None]]
OnResumed = Callable[[Owner, Run], Awaitable[None]]


async def sweep(services: Services, stop: asyncio.Event, interval: float,
                on_expired: OnExpired | None = None, on_resumed: OnResumed | None = None
                ) -> None:
    """Expire unanswered actions, then resume workflow runs whose actions were decided
    (expired ones included: such a run then ends, saying so)."""
    while not stop.is_set():
        expired = await services.confirmations.store.expire_due(datetime.now(UTC))
        for action in expired:
            log.info("action %s expired unanswered", action.id)
            if on_expired is not None:
                await on_expired(action)
        for owner, run in await services.orchestrator.resume_due():
            log.info("workflow run %s resumed: %s", run.id, run.state)
            if on_resumed is not None:
                await on_resumed(owner, run)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            continue


async def run_background(services: Services, stop: asyncio.Event, interval: float = 5.0,
                         on_expired: OnExpired | None = None,
                         on_resumed: OnResumed | None = None) -> None:
    """Recovery once, then the sweeper (``on_expired`` updates Slack cards) and the shipper."""
    settled = await services.confirmations.recover()
    for action in settled:
        log.warning("recovered action %s after a restart: %s", action.id, action.state.value)
    jobs = [sweep(services, stop, interval, on_expired, on_resumed)]
    if services.settings.clickhouse_url is not None:
        shipper = Shipper(services.database.engine,
                          services.settings.clickhouse_url.get_secret_value())
        jobs.append(shipper.run(stop, interval=min(interval, 1.0)))
    await asyncio.gather(*jobs)
