"""Counting work in flight so a graceful shutdown can wait for it: Slack listener runs
(:class:`app.slack.observe.ListenerRuns`) and chat API requests (:class:`app.http.drain.Drain`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Running:
    """How many are running (``running``); ``idle`` waits until none is."""

    def __init__(self) -> None:
        self.running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def one(self) -> Iterator[None]:
        """Count the ``with`` block as one running."""
        self.running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.running -= 1
            if self.running == 0:
                self._idle.set()

    async def idle(self, seconds: float) -> bool:
        """True when everything running finished within ``seconds``."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True
