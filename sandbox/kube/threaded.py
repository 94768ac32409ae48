"""The sandbox cluster on its own event loop in a background thread.

For callers that block (the official ``kubernetes`` client, kubectl subprocesses, benchmarks):
:meth:`ThreadedCluster.call` runs a function on the sandbox's loop, so the live store can be read
without racing the server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from sandbox.kube.serve import SandboxCluster, sandbox_cluster

T = TypeVar("T")


class ThreadedCluster:
    def __init__(self, fixture: Path | None = None, **options: Any) -> None:
        self._fixture, self._options = fixture, options
        self._loop = asyncio.new_event_loop()
        self._ready: Future[SandboxCluster] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox-cluster", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with sandbox_cluster(self._fixture, **self._options) as sc:
                self._ready.set_result(sc)
                await self._stop.wait()
        except BaseException as exc:  # hand a start-up failure to the thread waiting in start()
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def start(self) -> SandboxCluster:
        self._thread.start()
        self.sc = self._ready.result(timeout=60)
        return self.sc

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def call(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the sandbox's event loop and return its result."""
        async def run() -> T:
            return func()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def settle(self, seconds: float = 0.0) -> None:
        """Let the controllers finish what is queued (and timers up to ``seconds``)."""
        async def wait() -> None:
            await asyncio.sleep(seconds)
            await self.sc.controllers.idle()
        asyncio.run_coroutine_threadsafe(wait(), self._loop).result(timeout=30)
