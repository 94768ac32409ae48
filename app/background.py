"""The bot's background work: recovery at start-up, the expiry sweeper, the audit shipper.

``hexabot run`` starts :func:`run_background` beside the Slack listeners; every replica may run
it (claims, SKIP LOCKED batches and conditional updates make the work safe to share).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from app.audit.shipper import Shipper
from app.services import Services

log = logging.getLogger("hexabot.background")


async def sweep(services: Services, stop: asyncio.Event, interval: float) -> None:
    while not stop.is_set():
        expired = await services.confirmations.store.expire_due(datetime.now(UTC))
        for action in expired:
            log.info("action %s expired unanswered", action.id)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            continue


async def run_background(services: Services, stop: asyncio.Event,
                         interval: float = 5.0) -> None:
    settled = await services.confirmations.recover()
    for action in settled:
        log.warning("recovered action %s after a restart: %s", action.id, action.state.value)
    jobs = [sweep(services, stop, interval)]
    if services.settings.clickhouse_url is not None:
        shipper = Shipper(services.database.engine,
                          services.settings.clickhouse_url.get_secret_value())
        jobs.append(shipper.run(stop, interval=min(interval, 1.0)))
    await asyncio.gather(*jobs)
