"""The bot's background work: recovery at start-up, the expiry sweeper, following approved
changes (:meth:`app.decisions.DecisionService.follow_due`), the audit shipper and
the audit chain's anchoring (every ``interval`` seconds, and once more when stopped).

``hexabot run`` starts :func:`run_background` beside the Slack listeners; every replica may run
it (claims, SKIP LOCKED batches, conditional updates and execution leases make the work safe
to share).  Each loop survives any one failure (:class:`app.loops.Guard`): logged once, counted in
``hexabot_background_errors_total{loop}``, retried with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from app.audit import anchors
from app.audit.shipper import Shipper
from app.loops import Guard
from app.services import Services

log = logging.getLogger("hexabot.background")


async def sweep(services: Services, stop: asyncio.Event, interval: float) -> None:
    """Expire unanswered actions, settle executions whose lease ran out, then resume workflow
    runs whose actions were decided (expired ones included: such a run then ends, saying
    so).  Each of the three survives the others' failures.  What follows an expiry or a
    resumption (cards, App Home, reports) is the decision service's, as for any door."""

    async def expire() -> None:
        for action in await services.confirmations.store.expire_due(datetime.now(UTC)):
            log.info("action %s expired unanswered", action.id)
            for _, run in await services.decisions.expired(action):
                log.info("workflow run %s resumed: %s", run.id, run.state)

    async def resume() -> None:
        for _, run in await services.decisions.resume_due():
            log.info("workflow run %s resumed: %s", run.id, run.state)

    async def recover() -> None:
        await recover_once(services)

    async def follow() -> None:
        for told in await services.decisions.follow_due():
            log.info("followed change %s: %s", told.action_id, told.state)

    guards = [(Guard("expiry", interval), expire), (Guard("recover", interval), recover),
              (Guard("resume", interval), resume), (Guard("follow", interval), follow)]
    while not stop.is_set():
        waits = [await guard.run(step) for guard, step in guards]
        try:
            await asyncio.wait_for(stop.wait(), max(waits))
        except TimeoutError:
            continue


async def recover_once(services: Services) -> None:
    for action in await services.confirmations.recover():
        log.warning("recovered action %s: %s", action.id, action.state.value)


async def run_background(services: Services, stop: asyncio.Event, interval: float = 5.0
                         ) -> None:
    """The sweeper (its first round is the start-up recovery, and it recovers again each
    round), the anchoring of the audit chain and the shipper."""
    jobs = [sweep(services, stop, interval),
            anchors.run(services.database.engine, stop, interval)]
    if services.settings.clickhouse_url is not None:
        shipper = Shipper(services.database.engine,
                          services.settings.clickhouse_url.get_secret_value())
        jobs.append(shipper.run(stop, interval=min(interval, 1.0)))
    await asyncio.gather(*jobs)
