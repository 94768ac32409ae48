"""The guard every background loop runs its iterations under (sweeper, recovery, workflow
resumption, audit shipper): the one place background work catches broadly.

An iteration's unexpected error is logged once per run of failures (with the loop's name and
the traceback), counted in ``hexabot_background_errors_total{loop}`` and answered with an
exponential back-off; the loop itself goes on.  A loop never dies unnoticed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tools.metrics import BACKGROUND_ERRORS

log = logging.getLogger("hexabot.background")


class Guard:
    def __init__(self, loop: str, interval: float, longest: float = 60.0) -> None:
        self.loop, self.interval, self.longest = loop, interval, longest
        self.wait, self.failing = interval, False

    def failed(self, exc: BaseException) -> float:
        """Note one failed iteration; returns how long to wait before the next."""
        BACKGROUND_ERRORS.labels(self.loop).inc()
        if not self.failing:
            log.error("background %s failed, retrying with back-off: %r", self.loop, exc,
                      exc_info=exc)
        self.failing, self.wait = True, min(self.wait * 2, self.longest)
        return self.wait

    def succeeded(self) -> float:
        if self.failing:
            log.info("background %s recovered", self.loop)
        self.failing, self.wait = False, self.interval
        return self.wait

    async def run(self, step: Callable[[], Awaitable[Any]],
                  expected: tuple[type[Exception], ...] = ()) -> float:
        """One iteration; returns how long to wait before the next.  ``expected`` errors (a
        dependency known to blink) go to the caller to word and back off from."""
        try:
            await step()
        except expected:
            raise
        except Exception as exc:  # noqa: BLE001 - logged, counted, retried with back-off
            return self.failed(exc)
        return self.succeeded()
